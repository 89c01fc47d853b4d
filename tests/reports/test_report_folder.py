"""A report folder holds what is made for people, with links that resolve, scores in one format, readable modes."""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage
from nlp_pipeline.reports.plots import plot_loss_curve
from nlp_pipeline.reports.report import write_report
from nlp_pipeline.reports.results import Column, ModelRef, PipelineResult, VariantResult
from nlp_pipeline.reports.tables import per_class_table, percent


@dataclass(frozen=True)
class EvalParams:
    accuracy: float


def evaluate_like(params: EvalParams, inputs, ctx) -> dict:
    """What an evaluate stage leaves: a plot, metrics and its part of results.md, links templated by variant."""
    plot_loss_curve([3.0, 2.0], ctx.out_dir / "loss.png")
    (ctx.out_dir / "metrics.json").write_text(json.dumps({"dev": {"accuracy": params.accuracy}}))
    (ctx.out_dir / "details.md").write_text("Loss:\n\n![loss]({variant}/loss.png)\n", encoding="utf-8")
    return {"dev": {"accuracy": params.accuracy, "macro_f1": params.accuracy}}


EVALUATE = Stage("evaluate_like", "1", EvalParams, evaluate_like)


def _result(tmp_path: Path) -> PipelineResult:
    cache = ArtifactCache(tmp_path / "cache")
    variants = []
    for name, accuracy in (("first", 0.5), ("second", 0.75)):
        art = run_stage(Task(EVALUATE, EvalParams(accuracy)), cache, Runtime(progress=False), log=lambda m: None)
        variants.append(VariantResult(name, [], {}, art.artifact.metadata, {}, None,
                                      {"evaluate_like": str(art.artifact.path)}, train_step="evaluate_like",
                                      evaluate_step="evaluate_like"))
    model = ModelRef("train", "a" * 20, "a" * 12, "/x", "second", 'nlp-pipeline predict aaaaaaaaaaaa "some text"')
    columns = (Column("dev acc", lambda v: v.pct("dev", "accuracy")),)
    return PipelineResult("toy", variants, Path(), 1.0, columns=columns, model=model)


def test_variant_folders_hold_filled_details_and_no_cache_bookkeeping(tmp_path):
    result = _result(tmp_path)
    assert (Path(result.variants[0].artifacts["evaluate_like"]) / ".verified.json").is_file()  # in the cache, yes
    folder = write_report(result, tmp_path / "reports")
    for v in result.variants:
        sub = folder / v.name
        names = sorted(p.name for p in sub.iterdir())
        assert names == ["details.md", "loss.png", "metrics.json"], names
        details = (sub / "details.md").read_text(encoding="utf-8")
        assert "{variant}" not in details
        links = re.findall(r"\]\(([^)]+)\)", details)
        assert links and all((sub / link).is_file() for link in links)  # relative to details.md itself
    results_md = (folder / "results.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", results_md)
    assert len(links) == 2 and all((folder / link).is_file() for link in links)  # relative to results.md
    assert "Best by dev accuracy: **second**" in results_md
    assert '`nlp-pipeline predict aaaaaaaaaaaa "some text"`' in results_md
    saved = json.loads((folder / "results.json").read_text())
    assert saved["best_variant"] == "second" and saved["model"]["prefix"] == "a" * 12


def test_every_report_file_is_readable_by_all_under_umask_022(tmp_path):
    result = _result(tmp_path)
    for v in result.variants:  # a private file in the evaluate artifact, as safetensors or mkstemp leave them
        os.chmod(Path(v.artifacts["evaluate_like"]) / "metrics.json", 0o600)
    old = os.umask(0o022)
    try:
        folder = write_report(result, tmp_path / "reports")
    finally:
        os.umask(old)
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) & 0o044 == 0o044, f


def test_scores_are_percent_with_two_decimals_everywhere():
    assert percent(0.5) == "50.00" and percent(0.8624) == "86.24" and percent(1.0) == "100.00"
    assert percent(None) == ""
    report = {"NOUN": {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 4},
              "macro avg": {"precision": 0.5, "recall": 1.0, "f1-score": 2 / 3, "support": 4}}
    table = per_class_table(report, ["NOUN"])
    assert "| 50.00 " in table and "| 100.00 " in table and "| 66.67 " in table
    assert "0.5000" not in table and "0.6667" not in table
