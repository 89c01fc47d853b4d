"""Token ↔ index vocabulary for the classifiers.

Index 0 is ``<pad>`` (so a zero-filled batch tensor is all padding and the embedding's
``padding_idx`` is 0) and index 1 is ``<unk>`` (every token not kept at build time maps there).
Regular words follow in descending frequency, ties broken alphabetically, so the same corpus always
gives the same indices — a saved model's ``vocab.json`` must line up row for row with its weights.

>>> vocab = Vocab.build([["a", "good", "film"], ["a", "bad", "film"]], min_count=2)
>>> vocab.itos
['<pad>', '<unk>', 'a', 'film']
>>> vocab.encode(["a", "great", "film"])
[2, 1, 3]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from nlp_pipeline.errors import DataError, read_json

_FORMAT = "nlp-pipeline-vocab"
_VERSION = 1


class Vocab:
    """An ordered list of tokens (``itos``) and its inverse (``stoi``)."""

    PAD = "<pad>"
    UNK = "<unk>"
    PAD_INDEX = 0
    UNK_INDEX = 1

    def __init__(self, itos: list[str]) -> None:
        if itos[:2] != [self.PAD, self.UNK]:
            raise ValueError(f"a vocabulary must start with {self.PAD!r}, {self.UNK!r}; got {itos[:2]!r}")
        if len(set(itos)) != len(itos):
            raise ValueError("duplicate tokens in vocabulary")
        self.itos: list[str] = list(itos)
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], min_count: int = 1, max_size: int | None = None) -> Vocab:
        """Count tokens over ``token_lists`` (tokenized documents, read once: a generator is fine) and keep
        the words seen ``min_count`` times (rare words get poorly trained embeddings and mostly add
        parameters, so they share the ``<unk>`` row), at most ``max_size`` of them (None: all), the most
        frequent first; the two special tokens come on top."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for special in (cls.PAD, cls.UNK):
            counts.pop(special, None)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[:max_size]
        return cls([cls.PAD, cls.UNK, *words])

    def encode(self, tokens: list[str]) -> list[int]:
        """Map tokens to indices; tokens not in the vocabulary become ``<unk>`` (1)."""
        get = self.stoi.get
        return [get(t, self.UNK_INDEX) for t in tokens]

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON: readable, diffable and safe to load from anyone."""
        payload = {"format": _FORMAT, "version": _VERSION, "itos": self.itos}
        Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a file written by `save`. A missing or malformed file raises `DataError` naming it."""
        path = Path(path)
        payload = read_json(path, "vocabulary")
        itos = payload.get("itos") if isinstance(payload, dict) else None
        if not isinstance(itos, list) or not all(isinstance(w, str) for w in itos):
            raise DataError("not a vocabulary file: expected a JSON object with an 'itos' list", path=path)
        try:
            return cls(itos)
        except ValueError as err:
            raise DataError(f"invalid vocabulary: {err}", path=path) from None
