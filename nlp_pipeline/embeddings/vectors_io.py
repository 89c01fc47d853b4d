"""Reading and writing word vectors in formats other tools read: never pickle.

An embed artifact holds ``vectors.bin`` (word2vec binary, loadable with gensim's
``KeyedVectors.load_word2vec_format(path, binary=True)``), ``vectors.npy`` (the float32 matrix,
row i = line i of ``words.txt``) and ``words.txt`` (word and corpus count per line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp_pipeline.errors import DataError

VECTORS_BIN = "vectors.bin"


def save_vectors(kv, directory: str | Path) -> dict[str, str]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kv.save_word2vec_format(str(directory / VECTORS_BIN), binary=True)
    np.save(directory / "vectors.npy", kv.vectors.astype(np.float32))
    with open(directory / "words.txt", "w", encoding="utf-8") as fh:
        for word in kv.index_to_key:
            count = kv.get_vecattr(word, "count") if "count" in kv.expandos else 0
            fh.write(f"{word}\t{count}\n")
    return {"vectors": VECTORS_BIN, "matrix": "vectors.npy", "words": "words.txt"}


def load_vectors(path: str | Path):
    """Load vectors from an embed artifact folder, a word2vec binary (``.bin``) or text file."""
    from gensim.models import KeyedVectors

    p = Path(path)
    if p.is_dir():
        p = p / VECTORS_BIN
    if not p.is_file():
        raise DataError("vectors file not found", path=p)
    binary = p.suffix == ".bin"
    try:
        return KeyedVectors.load_word2vec_format(str(p), binary=binary)
    except (ValueError, UnicodeDecodeError, EOFError) as err:
        if not binary:
            try:  # a word2vec binary file without the .bin suffix
                return KeyedVectors.load_word2vec_format(str(p), binary=True)
            except (ValueError, UnicodeDecodeError, EOFError):
                pass
        raise DataError(f"not a word2vec text or binary file ({err})", path=p) from None
