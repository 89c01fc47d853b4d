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
