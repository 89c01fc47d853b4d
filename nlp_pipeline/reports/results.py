"""What a run gives back: one result per variant, the whole run's results table, and its model.

Kept apart from the runner so that the report writer and notebooks can use a result without
importing the pipelines; the table's columns come with the result (each pipeline declares its own).
The model (`ModelRef`) is what a user does next: its key, its folder and the command that uses it,
the same facts in the CLI's closing lines, ``run --json`` and ``results.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_pipeline.reports.tables import format_table, percent


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[VariantResult], Any]
    optional: bool = False  # left out of the table when it is empty for every variant


@dataclass
class VariantResult:
    name: str
    overrides: list[str]
    config: dict
    metrics: dict  # split -> the evaluate stage's summary ({"accuracy", "macro_f1", "n", ...})
    train: dict  # train-stage metadata (best epoch, seconds, tokens/s)
    embeddings: dict | None  # embed-stage metadata (None without vectors)
    artifacts: dict[str, str]  # stage -> artifact path
    stage_runs: list[dict] = field(default_factory=list)
    kind: str = "sentiment"  # pipeline type
    train_step: str = "train"  # the stage whose artifact is this variant's model
    evaluate_step: str = "evaluate"  # the stage whose metadata are its metrics
    deterministic: bool = True  # every artifact of this variant was built bit-reproducibly

    def pct(self, split: str, metric: str) -> str:
        return percent(self.metrics.get(split, {}).get(metric))


@dataclass(frozen=True)
class ModelRef:
    """The model a run leaves for use: the best variant's artifact of the pipeline's model stage."""

    stage: str  # train, train_tagger, train_lm, embed
    key: str
    prefix: str  # the key as every line shows it, and as commands take it
    path: str
    variant: str
    command: str  # the exact command that uses it, e.g. nlp-pipeline predict 3f9a0c1d2e4b "some text"
    latest: bool = False  # `latest` names it now (a completed run recorded it)


@dataclass
class PipelineResult:
    pipeline: str
    variants: list[VariantResult]
    report_dir: Path
    seconds: float
    columns: tuple[Column, ...] = ()  # the pipeline's results table (declared with the pipeline)
    rank: Callable[[VariantResult], Any] | None = None  # sort key, best first; default: dev accuracy
    best_by: str = "dev accuracy"  # what ``rank`` orders by, in words (never a test score)
    model: ModelRef | None = None  # the best variant's model, once the run has chosen it

    def ranked(self) -> list[VariantResult]:
        """The variants best first by ``rank``; among equals, the first run stays first (a stable sort)."""
        # Sort on the number, not its formatted string ("9.50" > "86.35").
        key = self.rank or (lambda v: v.metrics.get("dev", {}).get("accuracy", -1.0))
        return sorted(self.variants, key=key, reverse=True)

    @property
    def best(self) -> VariantResult:
        return self.ranked()[0]

    def table(self, markdown: bool = False) -> str:
        ranked = self.ranked()
        columns = self.columns
        cells = [[c.value(v) for c in columns] for v in ranked]
        keep = [i for i, c in enumerate(columns) if not c.optional or any(row[i] not in ("", None) for row in cells)]
        return format_table([columns[i].header for i in keep], [[row[i] for i in keep] for row in cells],
                            markdown=markdown)

    def to_dict(self) -> dict:
        return {"pipeline": self.pipeline, "report_dir": str(self.report_dir), "seconds": round(self.seconds, 2),
                "best_variant": self.best.name, "best_by": self.best_by,
                "model": dataclasses.asdict(self.model) if self.model is not None else None,
                "variants": [dataclasses.asdict(v) for v in self.variants]}

    def closing_lines(self) -> list[str]:
        """What a run says when it is done, after its table: the best variant (of a grid), the model and the
        command that uses it, whether ``latest`` names it, the cache hits and, last, the report folder."""
        lines = []
        if len(self.variants) > 1:
            lines.append(f"best of {len(self.variants)} variants by {self.best_by}: {self.best.name}")
        if self.model is not None:
            m = self.model
            lines.append(f"model: {m.stage} [{m.prefix}] {m.path}"
                         + ("  (`latest` now names it)" if m.latest else ""))
            lines.append(f"use it: {m.command}")
        n_runs = sum(len(v.stage_runs) for v in self.variants)
        lines.append(f"{self.cache_hits}/{n_runs} stages from cache, {self.seconds:.1f}s in all")
        lines.append(f"report: {self.report_dir}")
        return lines

    @property
    def cache_hits(self) -> int:
        return sum(r["hit"] for v in self.variants for r in v.stage_runs)
