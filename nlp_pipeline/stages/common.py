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
