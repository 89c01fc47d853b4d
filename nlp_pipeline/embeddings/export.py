"""Export word vectors in the formats other tools read: word2vec binary and text, GloVe, the Embedding Projector.

- ``word2vec``: the binary format of the original tool (gensim: ``load_word2vec_format(binary=True)``).
- ``text``: word2vec text, a ``N D`` header then ``word v1 … vD`` lines (gensim, fastText ``.vec``).
- ``glove``: the same lines without the header (GloVe's ``glove.*.txt``; gensim: ``no_header=True``).
- ``projector``: the TensorBoard Embedding Projector's pair of TSV files, ``vectors.tsv`` (one vector a
  row, tab-separated) and ``metadata.tsv`` (one word a row; a single column has no header), in the
  folder ``--out`` names. projector.tensorflow.org loads them with "Load".

Rows are written in the vectors' order (most frequent first for our artifacts), so ``limit`` keeps the
N most frequent words: the Projector is comfortable with a few tens of thousands of points. Files are
written under a temporary name and renamed into place, so an interrupted export leaves nothing that
looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from nlp_pipeline.errors import ConfigError, DataError, excerpt

FORMATS = ("word2vec", "text", "glove", "projector")
FLOAT = "%.9g"  # nine significant digits: every float32 reads back exactly


def export_vectors(kv, fmt: str, out: str | Path, *, limit: int | None = None, overwrite: bool = False) -> list[Path]:
    """Write ``kv`` (gensim ``KeyedVectors``) as ``fmt`` to ``out``; returns the files written."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be at least 1")
    words = list(kv.index_to_key[:limit] if limit else kv.index_to_key)
    vectors = np.asarray(kv.vectors[: len(words)], dtype=np.float32)
    if fmt != "word2vec":
        _check_words(words)
    out = Path(out).expanduser()
    targets = [out / "vectors.tsv", out / "metadata.tsv"] if fmt == "projector" else [out]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise DataError("exists already; choose another --out or pass --force", path=existing[0])
    dim = vectors.shape[1]
    if fmt == "projector":
        out.mkdir(parents=True, exist_ok=True)
        row_format = "\t".join([FLOAT] * dim) + "\n"
        with _atomic(targets[0], "w") as fh:
            for row in vectors.tolist():
                fh.write(row_format % tuple(row))
        with _atomic(targets[1], "w") as fh:
            fh.writelines(f"{w}\n" for w in words)
        return targets
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "word2vec":
        from gensim.models import KeyedVectors

        subset = KeyedVectors(vector_size=dim)
        subset.add_vectors(words, vectors)
        tmp = _tmp_name(out)
        try:
            subset.save_word2vec_format(str(tmp), binary=True)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        return targets
    row_format = "%s " + " ".join([FLOAT] * dim) + "\n"
    with _atomic(out, "w") as fh:
        if fmt == "text":
            fh.write(f"{len(words)} {dim}\n")
        for word, row in zip(words, vectors.tolist(), strict=True):
            fh.write(row_format % (word, *row))
    return targets


def _check_words(words: list[str]) -> None:
    """Text formats split a line on spaces and end it at a newline: a word holding either cannot be written."""
    for i, w in enumerate(words):
        if not w or any(c.isspace() for c in w):
            raise DataError(f"word {i + 1} ({excerpt(w)!r}) is empty or contains whitespace, which the text "
                            "formats cannot hold; export as word2vec (binary) instead")


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def _atomic(path: Path, mode: str) -> Iterator:
    tmp = _tmp_name(path)
    try:
        with open(tmp, mode, encoding="utf-8", newline="\n") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
