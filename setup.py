"""The build step that puts the shipped pipeline files and corpus definitions inside the package.

``pipelines/*.yaml`` and ``corpora/*.yaml`` live at the top of the checkout, where people edit them
(`make pipelines` rewrites the first; a corpus is added as one YAML). An installed package has no
checkout around it, so the build copies both folders into the built package as
``nlp_pipeline/_shipped/<folder>/`` (never into the source tree, so no second copy is committed or
left to drift); `nlp_pipeline.shipped.shipped_dir` finds whichever applies. MANIFEST.in puts the
top-level folders into the sdist, so a wheel built from the sdist carries them too. Everything else
about the build is in pyproject.toml.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# The folders and their place in the package, from the module that reads them (run as a file: importing
# the package is not safe in a build, whose dependencies are not installed).
_LOOKUP = runpy.run_path(str(ROOT / "nlp_pipeline" / "shipped.py"))
SHIPPED: tuple[str, ...] = _LOOKUP["SHIPPED"]
TARGET = _LOOKUP["PACKAGED_DIR"].relative_to(ROOT).parts  # ("nlp_pipeline", "_shipped")


class BuildWithShippedFiles(build_py):
    """``build_py``, then the top-level ``pipelines/`` and ``corpora/`` YAMLs copied into the build."""

    def _shipped(self) -> list[tuple[Path, Path]]:
        """Each ``(source file, path inside the build folder)``; an error when a folder is empty, since a
        package without its corpus definitions installs fine and fails at its first run."""
        pairs = []
        for name in SHIPPED:
            files = sorted((ROOT / name).glob("*.yaml"))
            if not files:
                raise SystemExit(f"error: {ROOT / name} has no *.yaml to ship in the package")
            pairs += [(f, Path(*TARGET, name, f.name)) for f in files]
        return pairs

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders directly
            return
        for source, relative in self._shipped():
            target = Path(self.build_lib) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [str(Path(self.build_lib) / relative) for _, relative in self._shipped()]


setup(cmdclass={"build_py": BuildWithShippedFiles})
