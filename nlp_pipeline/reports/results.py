"""What a run gives back: one result per variant, and the whole run's results table.

Kept apart from the runner so that the report writer and notebooks can use a result without
importing the pipelines; the table's columns come with the result (each pipeline declares its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_pipeline.reports.tables import format_table


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
        x = self.metrics.get(split, {}).get(metric)
        return "" if x is None else f"{100 * x:.2f}"


@dataclass
class PipelineResult:
    pipeline: str
    variants: list[VariantResult]
    report_dir: Path
    seconds: float
    columns: tuple[Column, ...] = ()  # the pipeline's results table (declared with the pipeline)
    rank: Callable[[VariantResult], Any] | None = None  # sort key, best first; default: dev accuracy

    def table(self, markdown: bool = False) -> str:
        # Sort on the number, not its formatted string ("9.50" > "86.35").
        key = self.rank or (lambda v: v.metrics.get("dev", {}).get("accuracy", -1.0))
        ranked = sorted(self.variants, key=key, reverse=True)
        columns = self.columns
        cells = [[c.value(v) for c in columns] for v in ranked]
        keep = [i for i, c in enumerate(columns) if not c.optional or any(row[i] not in ("", None) for row in cells)]
        return format_table([columns[i].header for i in keep], [[row[i] for i in keep] for row in cells],
                            markdown=markdown)

    def to_dict(self) -> dict:
        return {"pipeline": self.pipeline, "report_dir": str(self.report_dir), "seconds": round(self.seconds, 2),
                "variants": [dataclasses.asdict(v) for v in self.variants]}

    @property
    def cache_hits(self) -> int:
        return sum(r["hit"] for v in self.variants for r in v.stage_runs)
