"""Imports run one way: no stage module imports another, and no layer imports one above it.

Read from the source with `ast` (nothing is imported), so an import inside a function counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import nlp_pipeline
import nlp_pipeline.stages as stages_pkg

PACKAGE_DIR = Path(nlp_pipeline.__file__).parent
STAGES_DIR = Path(stages_pkg.__file__).parent
STAGE_HELPERS = {"common", "artifact_files"}  # what stages share; not stages themselves


def module_name(path: Path, root: Path = PACKAGE_DIR.parent) -> str:
    """``nlp_pipeline/stages/train.py`` → ``nlp_pipeline.stages.train`` (a package is its ``__init__``'s name)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, root: Path = PACKAGE_DIR.parent) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` for every import in a module, at any depth. ``from a.b import c`` gives
    ``a.b`` and ``a.b.c`` (``c`` may be a module); relative imports are resolved."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def test_imported_names_sees_every_form(tmp_path):
    module = tmp_path / "nlp_pipeline" / "stages" / "train.py"
    module.parent.mkdir(parents=True)
    module.write_text("import nlp_pipeline.stages.tokenize\nfrom nlp_pipeline.stages import treebank\n"
                      "def f():\n    from .embed import EmbedParams\n    from .. import inference\n")
    names = {n for _, n in imported_names(module, root=tmp_path)}
    assert {"nlp_pipeline.stages.tokenize", "nlp_pipeline.stages.treebank", "nlp_pipeline.stages.embed",
            "nlp_pipeline.inference"} <= names


def test_no_stage_module_imports_another():
    stage_modules = {p.stem for p in STAGES_DIR.glob("*.py")} - STAGE_HELPERS - {"__init__"}
    assert "train" in stage_modules and "tokenize" in stage_modules
    offences: set[str] = set()
    for path in sorted(STAGES_DIR.glob("*.py")):
        for line, name in imported_names(path):
            parts = name.split(".")
            if parts[:2] == ["nlp_pipeline", "stages"] and len(parts) > 2 and parts[2] in stage_modules \
                    and parts[2] != path.stem:
                offences.add(f"stages/{path.name}:{line} imports nlp_pipeline.stages.{parts[2]}")
    assert not offences, "a stage module imports another (move what they share to stages/common.py or " \
                         "stages/artifact_files.py):\n" + "\n".join(sorted(offences))


# Each part of the package may import only parts of a lower rank (and itself): data → text → embeddings
# → models → training | inference → stages → pipelines → batch → cli, on top of a base (errors;
# settings and device; the engine and the reports) that imports none of them. Training and inference
# share a rank, so neither imports the other.
RANKS = {
    "errors": 0, "shipped": 0,  # shipped: where the shipped pipelines/ and corpora/ are (data and config read it)
    "settings": 1, "device": 1,
    "engine": 2, "reports": 2,
    "data": 3,
    "text": 4,
    "embeddings": 5,
    "models": 6,
    "training": 7, "inference": 7,
    "stages": 8, "config": 8,  # a stage never reads the pipeline configuration
    "pipelines": 9,
    "batch": 10, "info": 10,  # info reads the data layer, the kernel and the cache, for the CLI
    "serve": 10,  # the HTTP API: loads models as the CLI does (pipelines.artifacts), answers with inference
    "cli": 11,
}


def part_of(name: str) -> str | None:
    """``nlp_pipeline.models.scoring`` → ``models``; None outside the package or for the package itself."""
    parts = name.split(".")
    return parts[1] if parts[0] == "nlp_pipeline" and len(parts) > 1 else None


def test_every_part_of_the_package_has_a_rank():
    parts = {p.stem for p in PACKAGE_DIR.iterdir() if (p.suffix == ".py" or p.is_dir() and (p / "__init__.py")
                                                       .is_file()) and p.stem != "__init__"}
    assert parts == set(RANKS)


def test_layers_import_one_way():
    offences: set[str] = set()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        importer = part_of(module_name(path))
        if importer is None:
            continue
        for line, name in imported_names(path):
            imported = part_of(name)
            if imported is None or imported == importer or imported not in RANKS:
                continue  # `from nlp_pipeline import settings` also yields "nlp_pipeline" itself
            if RANKS[imported] >= RANKS[importer]:
                where = path.relative_to(PACKAGE_DIR)
                offences.add(f"{where}:{line} imports nlp_pipeline.{imported} ({importer} ranks "
                             f"{RANKS[importer]}, {imported} {RANKS[imported]})")
    assert not offences, "an import runs against the layers:\n" + "\n".join(sorted(offences))


def test_training_and_models_never_reach_up():
    """The issue's own words, kept as a named check beside the rank table."""
    for part, forbidden in (("training", ("inference", "stages", "pipelines", "cli")),
                            ("models", ("inference", "training", "stages", "pipelines", "cli")),
                            ("engine", ("stages", "pipelines", "training", "models"))):
        for path in sorted((PACKAGE_DIR / part).rglob("*.py")):
            for line, name in imported_names(path):
                assert part_of(name) not in forbidden, f"{path.relative_to(PACKAGE_DIR)}:{line} imports {name}"

