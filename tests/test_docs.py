"""The README stays a newcomer's page, and no page names a key of one machine's cache."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A cache key as commands print it (12 of its 20 hex characters) or whole; a sha256 (64) is data, not a key.
KEY = re.compile(r"(?<![0-9a-fA-F])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{10,20}(?![0-9a-fA-F])")


def test_readme_is_at_most_300_lines_and_marks_its_quick_start():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    begin, end = text.index("<!-- quickstart:begin -->"), text.index("<!-- quickstart:end -->")
    assert begin < end and "```bash" in text[begin:end]


def test_no_page_names_a_key_of_one_machines_cache():
    found = {page.name: KEY.findall(page.read_text(encoding="utf-8")) for page in PAGES}
    assert not {name: keys for name, keys in found.items() if keys}
