"""Reading and writing word vectors in formats other tools read: never pickle.

An embed artifact holds ``vectors.bin`` (word2vec binary, loadable with gensim's
``KeyedVectors.load_word2vec_format(path, binary=True)``), ``vectors.npy`` (the float32 matrix,
row i = line i of ``words.txt``) and ``words.txt`` (word and corpus count per line).

Reading a user's file is strict, because a half-read vector file gives a model that quietly has
the wrong vectors: word2vec text (``N D`` header), GloVe text (no header) and fastText ``.vec`` are
parsed line by line, and a row with the wrong number of values, a value that is not a number, NaN
or infinity, a repeated word, or a header that promises more rows than there are is a `DataError`
naming the file and line. A file is read as word2vec *binary* only when it is binary (``.bin``, or
bytes after the header line that are not text), never as a fallback for a broken text file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp_pipeline.errors import DataError, excerpt

VECTORS_BIN = "vectors.bin"
SNIFF_BYTES = 4096  # bytes after the header line that tell binary rows from text rows


def save_vectors(kv, directory: str | Path) -> dict[str, str]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kv.save_word2vec_format(str(directory / VECTORS_BIN), binary=True)
    np.save(directory / "vectors.npy", kv.vectors.astype(np.float32, copy=False))  # no copy of a float32 matrix
    with open(directory / "words.txt", "w", encoding="utf-8") as fh:
        for word in kv.index_to_key:
            count = kv.get_vecattr(word, "count") if "count" in kv.expandos else 0
            fh.write(f"{word}\t{count}\n")
    return {"vectors": VECTORS_BIN, "matrix": "vectors.npy", "words": "words.txt"}


def load_vectors(path: str | Path):
    """Load vectors from an embed artifact folder, or a word2vec binary, word2vec/GloVe/fastText text file."""
    p = Path(path)
    if p.is_dir():
        p = p / VECTORS_BIN
    if not p.is_file():
        raise DataError("vectors file not found", path=p)
    kv = _read_binary(p) if is_binary_vectors(p) else read_text_vectors(p)
    _check_finite(kv, p)
    return kv


def is_binary_vectors(path: Path) -> bool:
    """``.bin`` (compressed or not), or a file whose bytes after the first line are not UTF-8 text."""
    from nlp_pipeline.data.readers import logical_suffix, open_binary

    if logical_suffix(path) == ".bin":
        return True
    with open_binary(path) as fh:
        head = fh.read(SNIFF_BYTES)
    _, _, rest = head.partition(b"\n")
    if b"\x00" in rest:
        return True
    try:
        rest.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start < len(rest) - 4  # a character cut at the end of the probe is still text
    return False


def _read_binary(path: Path):
    from gensim.models import KeyedVectors

    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=True)
    except (ValueError, UnicodeDecodeError, EOFError, KeyError, IndexError, OverflowError, MemoryError) as err:
        raise DataError(f"not a valid word2vec binary file: {type(err).__name__}: {excerpt(str(err), 120)}",
                        path=path) from None


def read_text_vectors(path: str | Path):
    """Parse a word2vec text file (``N D`` header), GloVe (no header) or fastText ``.vec``, strictly.

    Blank lines are skipped; words are split off on the first space, values on single spaces (a
    trailing space is allowed), as the word2vec tool writes them.
    """
    from gensim.models import KeyedVectors

    from nlp_pipeline.data.readers import iter_lines

    path = Path(path)
    lines = iter_lines(path)
    declared = dim = None
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: dict[str, int] = {}
    for number, text in lines:
        text = text.rstrip()
        if not text:
            continue
        if dim is None:
            parts = text.split()
            if len(parts) == 2 and all(p.isdigit() for p in parts):
                declared, dim = int(parts[0]), int(parts[1])
                if dim < 1:
                    raise DataError(f"header says {dim} dimensions", path=path, line=number)
                continue
            dim = len(parts) - 1  # GloVe: no header, the first row sets the dimension
            if dim < 1:
                raise DataError(f"expected 'word value value …', got {excerpt(text)!r}", path=path, line=number)
        word, _, values = text.partition(" ")
        fields = values.split(" ")
        if len(fields) != dim:
            raise DataError(f"expected {dim} values, got {len(fields)}", path=path, line=number)
        try:
            row = np.array(fields, dtype=np.float32)
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            raise DataError(f"{excerpt(bad)!r} is not a number", path=path, line=number) from None
        if not np.isfinite(row).all():
            raise DataError(f"NaN or infinite value for {excerpt(word)!r}", path=path, line=number)
        if word in seen:
            raise DataError(f"{excerpt(word)!r} appears twice (first on line {seen[word]})", path=path, line=number)
        seen[word] = number
        words.append(word)
        rows.append(row)
    if not words:
        raise DataError("no vectors in the file", path=path)
    if declared is not None and declared != len(words):
        raise DataError(f"header says {declared:,} words, the file has {len(words):,}", path=path)
    kv = KeyedVectors(vector_size=dim)
    kv.add_vectors(words, np.vstack(rows))
    return kv


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_finite(kv, path: Path) -> None:
    finite = np.isfinite(kv.vectors).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DataError(f"NaN or infinite value in the vector of {excerpt(kv.index_to_key[row])!r} (row {row + 1})",
                        path=path)
