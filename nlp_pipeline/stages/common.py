"""Helpers every stage shares: progress bars that honour ``--quiet``, the tokenizer a stage's params describe."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from nlp_pipeline.engine import BuildContext

T = TypeVar("T")


def progress_bar(iterable: Iterable[T], ctx: BuildContext, desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm bar over documents: on a terminal only (``disable=None``), never with --quiet.

    On a file or a pipe (CI, ``2> log``) every redraw would be written; the stage's log lines say enough there.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="doc", disable=None if ctx.progress else True, leave=False,
                mininterval=0.5)


def training_summary(ctx: BuildContext, result: Any, vocab_size: int, added: int, coverage: float | None) -> dict:
    """Write ``history.json`` and return the metadata both training stages record (a `TrainResult`'s summary)."""
    (ctx.out_dir / "history.json").write_text(json.dumps(result.history, indent=2))
    return {
        "best_epoch": result.best_epoch,
        "best_dev_accuracy": result.best_dev_accuracy,
        "train_seconds": round(result.train_seconds, 2),
        "tokens_per_second": round(result.tokens_per_second),
        "vocab_size": vocab_size,
        "vocab_added_from_vectors": added,
        "vector_coverage": None if coverage is None else round(coverage, 4),
        "epochs_run": len(result.history),
    }


def token_coverage(kv: Any, splits: dict[str, list[list[str]]], ctx: BuildContext, top: int = 10) -> dict:
    """Share of each split's tokens that have a vector, and the most frequent training words without one.

    Logged and returned for the metadata: a vectors file that misses a corpus's frequent words (other
    tokenization, other casing) shows here before it shows as a lower accuracy.
    """
    from collections import Counter

    out: dict = {}
    missing: Counter = Counter()
    for split, sentences in splits.items():
        total = known = 0
        for sentence in sentences:
            for word in sentence:
                total += 1
                if word in kv.key_to_index:
                    known += 1
                elif split == "train":
                    missing[word] += 1
        out[f"{split}_tokens"] = round(known / total, 4) if total else None
    out["most_frequent_without_vector"] = [w for w, _ in missing.most_common(top)]
    shares = ", ".join(f"{split} {100 * out[f'{split}_tokens']:.1f}%" for split in splits
                       if out[f"{split}_tokens"] is not None)
    without = ", ".join(out["most_frequent_without_vector"]) or "none"
    ctx.log(f"  tokens with a vector: {shares}; most frequent training words without one: {without}")
    return out
