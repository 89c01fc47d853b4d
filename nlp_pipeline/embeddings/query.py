"""Similarity queries on word vectors: nearest words, pair similarity and analogies, batched.

`VectorIndex` keeps one L2-normalised float32 matrix, so a batch of queries is one matrix product
per block of queries followed by ``torch.topk``, instead of one full pass over the matrix per
query (gensim's ``most_similar``). The answers follow gensim's semantics, so the top-n lists are
the ones gensim returns (up to ties at float precision):

* ``most_similar(word)``: cosine similarity to every word, the query word itself left out.
* ``analogy(a, b, c)``: "a is to b as c is to ?". 3CosAdd ranks by cos(x, b - a + c) over the
  normalised vectors (gensim ``most_similar(positive=[b, c], negative=[a])``); 3CosMul ranks by
  cos'(x, b) cos'(x, c) / (cos'(x, a) + 1e-6) with cos' = (1 + cos) / 2 (gensim
  ``most_similar_cosmul``, Levy & Goldberg 2014). a, b and c are never answers.
* ``similarity(w1, w2)``: cosine similarity.

A word that is not in the vocabulary raises `UnknownWordError` with close spellings that are.

>>> import numpy as np
>>> index = VectorIndex(["king", "queen", "man", "woman"],
...                     np.array([[2, 1], [2, -1], [0, 1], [0, -1]], dtype=np.float32))
>>> [w for w, _ in index.most_similar("king", topn=2)]
['queen', 'man']
>>> index.analogy("man", "king", "woman", topn=1)[0][0]
'queen'
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal, overload

import numpy as np

from nlp_pipeline.errors import DataError, UnknownWordError

Neighbours = list[tuple[str, float]]
Method = Literal["3cosadd", "3cosmul"]
METHODS: tuple[str, ...] = ("3cosadd", "3cosmul")
COSMUL_EPSILON = 1e-6  # gensim's most_similar_cosmul, so that 3CosMul rankings match it
# Scores are computed for this many (query, word) cells at a time: 64 MB of float32, which keeps
# the matrix product large enough to be efficient and the memory flat however many queries come.
BLOCK_CELLS = 1 << 24


class VectorIndex:
    """Word vectors, L2-normalised once, for fast batched similarity queries.

    ``words`` is the vocabulary in the file's order (word2vec files are sorted by frequency, which
    ``restrict_vocab`` relies on; a repeated word keeps its first row), ``vectors`` a ``(len(words), dim)``
    array normalised row by row (a zero row stays zero), ``source`` where they came from, for messages.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, *, source: str | None = None) -> None:
        matrix = np.array(vectors, dtype=np.float32)  # a private copy: normalised in place below
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"expected a ({len(words)}, dim) matrix, got shape {matrix.shape}")
        # The same float32 arithmetic as gensim's fill_norms + get_vector(norm=True).
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        self.matrix = matrix
        self.words = list(words)
        self.key_to_index: dict[str, int] = {}
        for i, word in enumerate(self.words):
            self.key_to_index.setdefault(word, i)
        self.source = source
        self._by_length: dict[int, list[str]] | None = None

    # ------------------------------------------------------------------------------------------
    # construction

    @classmethod
    def from_keyed_vectors(cls, kv, source: str | None = None) -> VectorIndex:
        """From gensim ``KeyedVectors`` (the vectors are copied; ``kv`` is left as it is)."""
        return cls(kv.index_to_key, kv.vectors, source=source)

    @classmethod
    def load(cls, path: str | Path) -> VectorIndex:
        """Load an embed artifact folder or a word2vec text (.txt, .vec) or binary (.bin) file.

        An artifact folder is read from its ``vectors.npy`` and ``words.txt`` (a memory copy, ~20x
        faster than parsing ``vectors.bin``); anything else goes through `load_vectors` (gensim).
        Raises `DataError` for a missing or malformed file.
        """
        from nlp_pipeline.embeddings.vectors_io import load_vectors

        path = Path(path)
        if path.is_dir() and (path / "vectors.npy").is_file() and (path / "words.txt").is_file():
            index = _load_artifact_matrix(path)
            if index is not None:
                return index
        try:
            kv = load_vectors(path)
        except (KeyError, IndexError, OverflowError, MemoryError) as err:
            # gensim's parser lets a few of these through for a corrupt header or row.
            raise DataError(f"not a word2vec text or binary file ({type(err).__name__}: {err})", path=path) from None
        return cls.from_keyed_vectors(kv, source=str(path))

    # ------------------------------------------------------------------------------------------
    # vocabulary

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def index_of(self, word: str) -> int:
        """The row of ``word``; `UnknownWordError` (with suggestions) when it is not in the vocabulary."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise UnknownWordError(word, self.suggest(word), vocab_size=len(self)) from None

    def vector(self, word: str) -> np.ndarray:
        """The unit-length vector of ``word`` (a view: do not modify it)."""
        return self.matrix[self.index_of(word)]

    def suggest(self, word: str, n: int = 5) -> list[str]:
        """Vocabulary words spelled like ``word``: its other casings first, then close spellings.

        Close spellings are `difflib.get_close_matches` over the words whose length is within a
        third of the query's, which cuts a 100k-word vocabulary to the few thousand worth comparing
        (~0.1 s instead of ~1 s).
        """
        found = [v for v in dict.fromkeys((word.lower(), word.capitalize(), word.title(), word.upper()))
                 if v != word and v in self.key_to_index]
        if self._by_length is None:
            self._by_length = {}
            for w in self.words:
                self._by_length.setdefault(len(w), []).append(w)
        slack = max(1, len(word) // 3)
        candidates = [w for size in range(max(1, len(word) - slack), len(word) + slack + 1)
                      for w in self._by_length.get(size, ())]
        found += [w for w in difflib.get_close_matches(word, candidates, n=n + 1, cutoff=0.75)
                  if w not in found and w != word]
        return found[:n]

    # ------------------------------------------------------------------------------------------
    # queries by word

    @overload
    def most_similar(self, words: str, topn: int = 10, *, exclude: Iterable[str] = (),
                     restrict_vocab: int | None = None) -> Neighbours: ...

    @overload
    def most_similar(self, words: Sequence[str], topn: int = 10, *, exclude: Iterable[str] = (),
                     restrict_vocab: int | None = None) -> list[Neighbours]: ...

    def most_similar(self, words, topn=10, *, exclude=(), restrict_vocab=None):
        """The ``topn`` nearest words by cosine similarity, best first, as ``(word, score)``.

        ``words`` is one word (→ one list) or a sequence of words (→ one list per word, computed in
        batches: the fast way to run many queries). Unlike gensim, a list is a batch of separate
        queries, not a sum. The query word is never its own neighbour; ``exclude`` leaves out more
        words from every answer; ``restrict_vocab`` searches only the first N (most frequent) words.
        """
        single = isinstance(words, str)
        batch = [words] if single else list(words)
        rows = np.array([self.index_of(w) for w in batch], dtype=np.int64)
        idx, scores = self.nearest_rows(rows, topn, exclude=[self.index_of(w) for w in exclude],
                                         restrict_vocab=restrict_vocab)
        answers = self._neighbours(idx, scores)
        return answers[0] if single else answers

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.matrix[self.index_of(word1)] @ self.matrix[self.index_of(word2)])

    def similarities(self, pairs: Iterable[tuple[str, str]]) -> np.ndarray:
        """Cosine similarity of each ``(word1, word2)`` pair, as one float32 array."""
        rows = np.array([(self.index_of(a), self.index_of(b)) for a, b in pairs], dtype=np.int64).reshape(-1, 2)
        return np.einsum("ij,ij->i", self.matrix[rows[:, 0]], self.matrix[rows[:, 1]])

    def analogy(self, a: str, b: str, c: str, topn: int = 10, *, method: Method = "3cosadd",
                exclude: Iterable[str] = (), restrict_vocab: int | None = None) -> Neighbours:
        """The ``topn`` best answers to "``a`` is to ``b`` as ``c`` is to ?", with their scores."""
        return self.analogies([(a, b, c)], topn, method=method, exclude=exclude, restrict_vocab=restrict_vocab)[0]

    def analogies(self, questions: Iterable[tuple[str, str, str]], topn: int = 10, *, method: Method = "3cosadd",
                  exclude: Iterable[str] = (), restrict_vocab: int | None = None) -> list[Neighbours]:
        """`analogy` for many ``(a, b, c)`` questions at once (batched matrix products)."""
        rows = np.array([[self.index_of(w) for w in q] for q in questions], dtype=np.int64).reshape(-1, 3)
        idx, scores = self.analogy_rows(rows[:, 0], rows[:, 1], rows[:, 2], topn, method=method,
                                        exclude=[self.index_of(w) for w in exclude], restrict_vocab=restrict_vocab)
        return self._neighbours(idx, scores)

    # ------------------------------------------------------------------------------------------
    # queries by row (for callers that resolved the words themselves, e.g. evaluation)

    def nearest_rows(self, rows: np.ndarray, topn: int = 10, *, exclude: Sequence[int] = (),
                     restrict_vocab: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-n rows and cosines for the query rows ``rows``; each query row is left out of its own answer.

        Returns ``(indices, scores)``, both of shape ``(len(rows), topn)``, best first; a slot
        with nothing left to fill (topn larger than the candidates) has score ``-inf``.
        """
        import torch

        rows = np.asarray(rows, dtype=np.int64)
        queries = torch.from_numpy(self.matrix)[torch.from_numpy(rows)]
        return self._top(lambda lo, hi, cand: queries[lo:hi] @ cand.T, [rows], len(rows), topn, exclude,
                         restrict_vocab)

    def analogy_rows(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, topn: int = 10, *,
                     method: Method = "3cosadd", exclude: Sequence[int] = (),
                     restrict_vocab: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-n answers to "a[i] is to b[i] as c[i] is to ?" by row; see `nearest_rows` for the result."""
        import torch

        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        a, b, c = (np.asarray(x, dtype=np.int64) for x in (a, b, c))
        m = torch.from_numpy(self.matrix)
        va, vb, vc = (m[torch.from_numpy(x)] for x in (a, b, c))
        if method == "3cosadd":
            target = vb - va + vc
            target = target / target.norm(dim=1, keepdim=True).clamp_min(1e-30)

            def scores(lo: int, hi: int, cand):
                return target[lo:hi] @ cand.T
        else:
            def scores(lo: int, hi: int, cand):
                # (1 + cos) / 2 puts cosines in [0, 1], so the product and the ratio keep their order.
                pos = (1 + vb[lo:hi] @ cand.T) / 2 * ((1 + vc[lo:hi] @ cand.T) / 2)
                return pos / ((1 + va[lo:hi] @ cand.T) / 2 + COSMUL_EPSILON)

        return self._top(scores, [a, b, c], len(a), topn, exclude, restrict_vocab)

    # ------------------------------------------------------------------------------------------
    # internals

    def _neighbours(self, idx: np.ndarray, scores: np.ndarray) -> list[Neighbours]:
        return [[(self.words[i], float(s)) for i, s in zip(r_idx, r_sc, strict=True) if s != -np.inf]
                for r_idx, r_sc in zip(idx.tolist(), scores.tolist(), strict=True)]

    def _top(self, score_fn, query_rows: list[np.ndarray], n_queries: int, topn: int, exclude: Sequence[int],
             restrict_vocab: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Score blocks of queries against the candidates, blank out the excluded, keep the top n."""
        import torch

        n_cand = min(restrict_vocab or len(self), len(self))
        k = max(0, min(topn, n_cand))
        out_idx = np.zeros((n_queries, k), dtype=np.int64)
        out_scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
        if k == 0 or n_queries == 0:
            return out_idx, out_scores
        cand = torch.from_numpy(self.matrix[:n_cand])
        extra = torch.tensor([r for r in exclude if r < n_cand], dtype=torch.long)
        block = max(1, BLOCK_CELLS // n_cand)
        for lo in range(0, n_queries, block):
            hi = min(n_queries, lo + block)
            s = score_fn(lo, hi, cand)
            # The query's own words are not answers (gensim's rule): -inf in their columns.
            for rows in query_rows:
                own = torch.from_numpy(rows[lo:hi])
                keep = own < n_cand
                s[torch.arange(hi - lo)[keep], own[keep]] = -torch.inf
            if len(extra):
                s[:, extra] = -torch.inf
            values, indices = torch.topk(s, k, dim=1)
            values, indices = values.numpy(), indices.numpy()
            # topk's order among equal scores is unspecified: break ties by vocabulary order.
            order = np.lexsort((indices, -values), axis=1)
            out_idx[lo:hi] = np.take_along_axis(indices, order, axis=1)
            out_scores[lo:hi] = np.take_along_axis(values, order, axis=1)
        return out_idx, out_scores


def _load_artifact_matrix(folder: Path) -> VectorIndex | None:
    """An embed artifact's ``vectors.npy`` + ``words.txt``; None when they disagree (use ``vectors.bin``)."""
    try:
        matrix = np.load(folder / "vectors.npy", allow_pickle=False)
        with open(folder / "words.txt", encoding="utf-8") as fh:
            words = [line.rstrip("\n").rsplit("\t", 1)[0] for line in fh]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        return None
    return VectorIndex(words, matrix, source=str(folder))


# ----------------------------------------------------------------------------------------------
# batches of queries: one query a line in, one JSON-ready record a line out

QUERY_WORDS = {"similar": 1, "similarity": 2, "analogy": 3}


def query_record(index: VectorIndex, kind: str, words: Sequence[str], *, topn: int = 10,
                 method: Method = "3cosadd") -> dict:
    """Answer one query as a JSON-ready record; raises `UnknownWordError` for an unknown word."""
    return next(_records(index, kind, [(None, list(words))], topn, method, raise_errors=True))


def answer_queries(index: VectorIndex, kind: str, lines: Iterable[tuple[int, str | None]], *, topn: int = 10,
                   method: Method = "3cosadd", batch_size: int = 4096) -> Iterator[dict]:
    """Answer one query per input line, streaming, in input order, ``batch_size`` lines per batch.

    ``lines`` are ``(line_number, text)`` (``text`` None for a line that did not decode: an error
    record ``{"line", "error"}``); a query is the line's whitespace-separated words (1 for
    ``similar``, 2 for ``similarity``, 3 for ``analogy``); blank lines are skipped. A line with an
    unknown word or the wrong number of words gives an error record
    ``{"line", "query", "error", "suggestions"}`` and the batch goes on: one typo in 10,000 queries
    should not throw away the other 9,999 answers.
    """
    if kind not in QUERY_WORDS:
        raise ValueError(f"kind must be one of {', '.join(QUERY_WORDS)}, not {kind!r}")
    pending: list[tuple[int | None, list[str]]] = []
    for number, text in lines:
        if text is None:  # a line that could not be decoded: its own error record, in order
            if pending:
                yield from _records(index, kind, pending, topn, method)
                pending = []
            yield {"line": number, "error": "not valid UTF-8"}
            continue
        words = text.split()
        if not words:
            continue
        pending.append((number, words))
        if len(pending) >= batch_size:
            yield from _records(index, kind, pending, topn, method)
            pending = []
    if pending:
        yield from _records(index, kind, pending, topn, method)


def _records(index: VectorIndex, kind: str, queries: list[tuple[int | None, list[str]]], topn: int,
             method: Method, raise_errors: bool = False) -> Iterator[dict]:
    n_words = QUERY_WORDS[kind]
    rows: list[list[int]] = []
    failed: dict[int, dict] = {}
    for i, (number, words) in enumerate(queries):
        base = {"line": number} if number is not None else {}
        base["query"] = words[0] if kind == "similar" and len(words) == 1 else words
        try:
            if len(words) != n_words:
                raise DataError(f"{kind} takes {n_words} word{'s' if n_words > 1 else ''}, got {len(words)}")
            rows.append([index.index_of(w) for w in words])
        except DataError as err:
            if raise_errors:
                raise
            failed[i] = {**base, "error": err.message, "suggestions": getattr(err, "suggestions", [])}
    ok = np.array(rows, dtype=np.int64).reshape(-1, n_words)
    if kind == "similar":
        idx, scores = index.nearest_rows(ok[:, 0], topn)
    elif kind == "analogy":
        idx, scores = index.analogy_rows(ok[:, 0], ok[:, 1], ok[:, 2], topn, method=method)
    else:
        sims = np.einsum("ij,ij->i", index.matrix[ok[:, 0]], index.matrix[ok[:, 1]])
    j = 0
    for i, (number, words) in enumerate(queries):
        if i in failed:
            yield failed[i]
            continue
        record: dict = {"line": number} if number is not None else {}
        record["query"] = words[0] if kind == "similar" else words
        if kind == "similarity":
            record["similarity"] = round(float(sims[j]), 6)
        else:
            if kind == "analogy":
                record["method"] = method
            record["results"] = [{"word": index.words[w], "score": round(float(s), 6)}
                                 for w, s in zip(idx[j].tolist(), scores[j].tolist(), strict=True) if s != -np.inf]
        j += 1
        yield record
