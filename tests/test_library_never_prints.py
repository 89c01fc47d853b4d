"""Library code never prints: it reports through the ``log`` callable it is given, or the logging module.

Only the CLI writes to the terminal, so a notebook, a service or a test decides where every other
message goes. Read from the source with `ast`: a call, a ``log=print`` default and ``print`` handed on
as a value all count; the word in a string or a comment does not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nlp_pipeline

PACKAGE_DIR = Path(nlp_pipeline.__file__).parent

PRINTS_ALLOWED = {"cli.py"}  # the CLI is what writes to the terminal


def print_uses(path: Path) -> list[int]:
    """Lines where a module names ``print``: a call, a default argument, a value handed on."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "print"})


def test_library_code_never_prints(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f(log=print):\n    pass\nprint('x')\ns = 'print(x)'  # print\n")
    assert print_uses(sample) == [1, 3]  # strings and comments do not count
    offences = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        where = path.relative_to(PACKAGE_DIR).as_posix()
        lines = [] if where in PRINTS_ALLOWED else print_uses(path)
        if lines:
            offences.append(f"{where}: line(s) {', '.join(map(str, lines))}")
    assert not offences, "library code uses print (take a `log` callable, or logging.getLogger(__name__)):\n" \
                         + "\n".join(offences)
