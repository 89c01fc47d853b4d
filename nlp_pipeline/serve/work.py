"""What the worker threads run: one batch of items through a loaded model, one result per item, in order.

Each function answers a batch exactly as the library answers the same items one request at a time
(`Predictor.predict`, `TaggerPredictor.tag`, `VectorIndex` queries as `query_record` words them), so batching
changes how many model calls there are, never an answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp_pipeline.serve.batching import Deliver


def classify_batch(predictor, texts: list[str], deliver: Deliver | None = None) -> list[dict[str, Any]]:
    """``{"text", "label", "probabilities"}`` per text, from `Predictor.predict`: the texts are cut into
    length-sorted batches and the padding masked, so a text's probabilities do not depend on its batch.
    Each scored batch goes to ``deliver`` as soon as it is done (its requests can be answered while the
    rest is scored)."""
    return predictor.predict(texts, on_batch=deliver)


@dataclass(frozen=True)
class TagItem:
    """A text to tokenize with the tagger's tokenizer, or tokens given as they are."""

    text: str
    tokens: tuple[str, ...] | None = None


def tag_batch(tagger, items: list[TagItem]) -> list[dict[str, Any]]:
    """``{"text", "tokens", "tags"}`` per item: the raw texts tokenized as `TaggerPredictor.tag` does, then every
    sentence of the batch tagged in one call."""
    raw = [i for i, item in enumerate(items) if item.tokens is None]
    tokens: list[list[str]] = [list(item.tokens or ()) for item in items]
    for i, words in zip(raw, tagger.tokenizer.pipe([items[i].text for i in raw])):
        tokens[i] = list(words)
    tags = tagger.tag_tokens(tokens)
    return [{"text": item.text, "tokens": words, "tags": row} for item, words, row in zip(items, tokens, tags)]


@dataclass(frozen=True)
class VectorQuery:
    """One query on the vectors: ``similar`` (one word), ``similarity`` (two) or ``analogy`` (three), with the
    words already found in the vocabulary (``rows``)."""

    kind: str
    words: tuple[str, ...]
    rows: tuple[int, ...]
    topn: int = 10
    method: str = "3cosadd"


def vector_batch(index, queries: Sequence[VectorQuery]) -> list[dict[str, Any]]:
    """A record per query, as `nlp_pipeline.embeddings.query.query_record` gives it, from one batched call per
    (kind, method, topn) group: ``{"query", "results": [{"word", "score"}]}``, ``{"query", "similarity"}``, or
    ``{"query", "method", "results"}``; scores rounded to 6 places as the CLI's JSON has them."""
    groups: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        groups[(q.kind, q.method, q.topn)].append(i)
    out: list[dict[str, Any]] = [{} for _ in queries]
    for (kind, method, topn), members in groups.items():
        rows = np.array([queries[i].rows for i in members], dtype=np.int64)
        if kind == "similarity":
            sims = np.einsum("ij,ij->i", index.matrix[rows[:, 0]], index.matrix[rows[:, 1]])
            for j, i in enumerate(members):
                out[i] = {"query": list(queries[i].words), "similarity": round(float(sims[j]), 6)}
            continue
        if kind == "similar":
            idx, scores = index.nearest_rows(rows[:, 0], topn)
        else:
            idx, scores = index.analogy_rows(rows[:, 0], rows[:, 1], rows[:, 2], topn, method=method)
        for j, i in enumerate(members):
            record: dict[str, Any] = {"query": queries[i].words[0] if kind == "similar" else list(queries[i].words)}
            if kind == "analogy":
                record["method"] = method
            record["results"] = [{"word": index.words[w], "score": round(float(s), 6)}
                                 for w, s in zip(idx[j].tolist(), scores[j].tolist()) if s != -np.inf]
            out[i] = record
    return out
