"""Helpers shared by the batch tests: made-up documents (no dataset text) and small file writers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

WORDS = ["the", "film", "plot", "is", "was", "a", "story", "acting", "very", "quite", "movie", "really", "scene",
         "music", "and", "but", "cast", "ending", "it", "not"]


def make_docs(n: int, seed: int = 0, words: int = 12) -> list[str]:
    """``n`` made-up documents of about ``words`` words each, every one containing "good" or "bad"."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        body = list(rng.choice(WORDS, size=int(rng.integers(max(2, words // 2), words + 1))))
        body.insert(int(rng.integers(0, len(body) + 1)), "Good" if rng.integers(0, 2) else "bad")
        docs.append(" ".join(body) + ".")
    return docs


def write_text(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    return path


def write_jsonl(path: Path, docs: list[str], id_prefix: str = "doc") -> Path:
    lines = [json.dumps({"id": f"{id_prefix}-{i}", "text": d}) for i, d in enumerate(docs)]
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
