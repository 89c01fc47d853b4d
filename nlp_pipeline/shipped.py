"""Where the files the package ships with live: the pipeline files (``pipelines/*.yaml``) and the corpus
definitions (``corpora/*.yaml``), in a checkout or in an installed copy.

People edit the top-level ``pipelines/`` and ``corpora/`` folders of the checkout; nothing under the
package holds a second committed copy that could drift from them. The build (``setup.py``'s
``build_py``) copies both folders into the built package as ``nlp_pipeline/_shipped/``, so a wheel, an
sdist built into a wheel or a ``pip install .`` carries them. So the answer depends on how the package
is running:

- from a checkout or an editable install (``pip install -e .``): the package's parent folder holds
  ``pyproject.toml`` and the top-level folders, which are read directly, so an edit shows at once;
- installed: the package's own copy, ``<site-packages>/nlp_pipeline/_shipped/<folder>``.

The checkout is tried first because a stale copy left inside a source tree (an in-place build) must
never hide the folder people edit. Every reader of a shipped file goes through `shipped_dir`.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED = ("pipelines", "corpora")  # the top-level folders the build copies into the package
PACKAGED_DIR = PACKAGE_DIR / "_shipped"  # where the build puts them in the built package


def checkout_root() -> Path | None:
    """The source tree the package runs from (a checkout, an editable install, an unpacked sdist), or
    None when it runs installed. Only a checkout has neighbours such as a ``../shared/corpora`` mirror."""
    root = PACKAGE_DIR.parent
    source_tree = (root / "pyproject.toml").is_file() and all((root / name).is_dir() for name in SHIPPED)
    return root if source_tree else None


def shipped_dir(name: str) -> Path:
    """The folder holding the shipped ``name`` files (``"pipelines"`` or ``"corpora"``): the checkout's
    top-level folder when running from a source tree, else the installed package's copy.

    The folder may be missing (a build that skipped the copy); callers treat that as "nothing shipped"
    and say so, rather than failing here.
    """
    if name not in SHIPPED:
        raise ValueError(f"not a shipped folder: {name!r} (shipped: {', '.join(SHIPPED)})")
    root = checkout_root()
    return root / name if root is not None else PACKAGED_DIR / name
