"""Records that flow out of the data layer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    """One labelled text, with where it came from so errors and reports can point at it."""

    text: str
    label: str  # label *name* as in the corpus definition's label list (e.g. "negative"), never an index
    source: str = ""  # file, or "archive.tar.gz:member/path"
    line: int = 0  # 1-based line (or record) number inside `source`


@dataclass
class LabelledDataset:
    """A labelled corpus split into train / dev / (optional) test."""

    name: str
    labels: list[str]  # canonical label order; index i in a model's output means labels[i]
    splits: dict[str, list[Example]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # how splits were made (carved fractions, seed, source files)
