"""Run a pipeline: one or more variants (a grid), each a chain of cached stages, then a report.

Variants share every stage whose key is the same (e.g. a grid over ``model.encoder`` tokenizes and
trains word2vec once). The report folder gathers metrics, plots and the results table.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nlp_pipeline.config import SentimentConfig, TaggingConfig, expand_grid, load_config
from nlp_pipeline.engine import Artifact, ArtifactCache, StageRun, run_stage
from nlp_pipeline.pipelines import stages, tagging_stages
from nlp_pipeline.reports.tables import format_table


@dataclass
class VariantResult:
    name: str
    overrides: list[str]
    config: dict
    metrics: dict  # split -> {"accuracy", "macro_f1", "n"}
    train: dict  # train-stage metadata (best epoch, seconds, tokens/s)
    embeddings: dict | None  # embed-stage metadata (None for random init)
    artifacts: dict[str, str]  # stage -> artifact path
    stage_runs: list[dict] = field(default_factory=list)
    kind: str = "sentiment"  # pipeline type: sentiment | tagging

    @property
    def train_stage(self) -> str:
        return "train_tagger" if self.kind == "tagging" else "train"

    @property
    def evaluate_stage(self) -> str:
        return "evaluate_tagger" if self.kind == "tagging" else "evaluate"

    def row(self) -> list:
        m = self.config["model"]
        emb = self.config["embed"]
        vectors = "random" if self.embeddings is None else (
            f"{'skip-gram' if emb['sg'] else 'CBOW'} {emb['vector_size']}d ({emb['engine']})"
        )
        dev, test = self.metrics.get("dev", {}), self.metrics.get("test", {})
        if self.kind == "tagging":
            return [
                m["encoder"],
                m["char_encoder"],
                vectors,
                m["embedding_mode"],
                _pct(dev.get("accuracy")),
                _pct(dev.get("unseen_accuracy")),
                _pct(dev.get("macro_f1")),
                _pct(test.get("accuracy")),
                self.train.get("best_epoch"),
                f"{self.train.get('train_seconds', 0):.0f}s",
                f"{dev.get('tokens_per_second') or 0:,}",
            ]
        return [
            m["encoder"],
            vectors,
            m["embedding_mode"],
            _pct(dev.get("accuracy")),
            _pct(dev.get("macro_f1")),
            _pct(test.get("accuracy")),
            _pct(test.get("macro_f1")),
            self.train.get("best_epoch"),
            f"{self.train.get('train_seconds', 0):.0f}s",
        ]


HEADERS = ["model", "embeddings", "mode", "dev acc", "dev F1", "test acc", "test F1", "best ep", "train time"]
TAGGING_HEADERS = ["model", "chars", "embeddings", "mode", "dev acc", "dev unseen acc", "dev macro-F1",
                   "test acc", "best ep", "train time", "tag tok/s"]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


@dataclass
class PipelineResult:
    pipeline: str
    variants: list[VariantResult]
    report_dir: Path
    seconds: float

    def table(self, markdown: bool = False) -> str:
        # Best dev accuracy first; sort on the number, not its formatted string ("9.50" > "86.35").
        ranked = sorted(self.variants, key=lambda v: v.metrics.get("dev", {}).get("accuracy", -1.0), reverse=True)
        headers = TAGGING_HEADERS if self.variants and self.variants[0].kind == "tagging" else HEADERS
        rows = [v.row() for v in ranked]
        if headers is TAGGING_HEADERS and not any(row[7] for row in rows):  # no test split: no empty column
            headers, rows = headers[:7] + headers[8:], [row[:7] + row[8:] for row in rows]
        return format_table(headers, rows, markdown=markdown)

    def to_dict(self) -> dict:
        return {
            "pipeline": self.pipeline,
            "report_dir": str(self.report_dir),
            "seconds": round(self.seconds, 2),
            "variants": [v.__dict__ for v in self.variants],
        }

    @property
    def cache_hits(self) -> int:
        return sum(r["hit"] for v in self.variants for r in v.stage_runs)


def _variant_name(cfg: SentimentConfig | TaggingConfig, overrides: list[str]) -> str:
    base = f"{cfg.model.encoder}-{cfg.model.embedding_mode}"
    named = ("model.encoder=", "model.embedding_mode=")
    if isinstance(cfg, TaggingConfig):
        base += f"-char_{cfg.model.char_encoder}"
        named += ("model.char_encoder=",)
    extra = [o for o in overrides if not o.startswith(named)]
    name = base + ("-" + "-".join(extra) if extra else "")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


def _stage_runner(cache: ArtifactCache, force: bool, progress: bool, log: Callable[[str], None]):
    """A ``run(stage) -> Artifact`` that logs each stage and records its key, hit and time in ``runs``."""
    runs: list[dict] = []

    def run(stage) -> Artifact:
        log(f"▶ {stage.name}: {stage.description}")
        result: StageRun = run_stage(stage, cache, force=force, progress=progress, log_fn=log)
        status = "cached" if result.hit else f"done in {result.seconds:.1f}s"
        log(f"✓ {stage.name} [{result.artifact.key[:10]}] {status}")
        runs.append({"stage": stage.name, "key": result.artifact.key, "hit": result.hit,
                     "seconds": round(result.seconds, 2), "path": str(result.artifact.path)})
        return result.artifact

    return run, runs


def run_sentiment_variant(
    cfg: SentimentConfig,
    cache: ArtifactCache,
    *,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Artifact], list[dict]]:
    """Run the sentiment stages for one configuration; returns the artifacts and per-stage runs."""
    run, runs = _stage_runner(cache, force, progress, log)
    arts: dict[str, Artifact] = {}
    arts["tokenize"] = run(stages.tokenize_stage(cfg))
    vectors = None
    if cfg.model.embedding_mode != "random":
        arts["pretrain_text"] = run(stages.pretrain_text_stage(cfg))
        vectors = arts["embed"] = run(stages.embed_stage(cfg, arts["pretrain_text"]))
    arts["train"] = run(stages.train_stage(cfg, arts["tokenize"], vectors))
    arts["evaluate"] = run(stages.evaluate_stage(cfg, arts["tokenize"], arts["train"]))
    return arts, runs


def run_tagging_variant(
    cfg: TaggingConfig,
    cache: ArtifactCache,
    *,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[dict[str, Artifact], list[dict]]:
    """Run the tagging stages for one configuration; returns the artifacts and per-stage runs."""
    run, runs = _stage_runner(cache, force, progress, log)
    arts: dict[str, Artifact] = {}
    arts["treebank"] = run(tagging_stages.treebank_stage(cfg))
    vectors = None
    if cfg.model.embedding_mode != "random":
        arts["pretrain_text"] = run(stages.pretrain_text_stage(cfg))
        vectors = arts["embed"] = run(stages.embed_stage(cfg, arts["pretrain_text"]))
    arts["train_tagger"] = run(tagging_stages.train_tagger_stage(cfg, arts["treebank"], vectors))
    arts["evaluate_tagger"] = run(tagging_stages.evaluate_tagger_stage(cfg, arts["treebank"], arts["train_tagger"]))
    return arts, runs


def run_pipeline(
    name: str = "sentiment",
    overrides: list[str] | None = None,
    grid: list[str] | None = None,
    *,
    cache_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> PipelineResult:
    """Run ``pipelines/<name>.yaml`` with overrides, once per grid point, and write a report folder."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    start = time.perf_counter()
    overrides = list(overrides or [])
    variant_overrides = expand_grid(grid or [])
    # Validate every variant's configuration before running anything.
    configs = [(load_config(name, overrides + v), v) for v in variant_overrides]
    cache = ArtifactCache(cache_dir)

    variants = []
    for cfg, v in configs:
        if len(configs) > 1:
            log(f"── variant {' '.join(v)}")
        kind = "tagging" if isinstance(cfg, TaggingConfig) else "sentiment"
        run_variant = run_tagging_variant if kind == "tagging" else run_sentiment_variant
        arts, runs = run_variant(cfg, cache, force=force, progress=progress, log=log)
        variant = VariantResult(
            name=_variant_name(cfg, v),
            overrides=overrides + v,
            config=cfg.to_dict(),
            metrics={},
            train={},
            embeddings=arts["embed"].metadata if "embed" in arts else None,
            artifacts={k: str(a.path) for k, a in arts.items()},
            stage_runs=runs,
            kind=kind,
        )
        variant.metrics = dict(arts[variant.evaluate_stage].metadata)
        variant.train = arts[variant.train_stage].metadata
        variants.append(variant)

    base = Path(report_dir) if report_dir else Path(configs[0][0].report.dir)
    result = PipelineResult(name, variants, Path(), time.perf_counter() - start)
    result.report_dir = write_report(result, base / Path(name).stem)
    result.seconds = time.perf_counter() - start
    return result


def write_report(result: PipelineResult, base: Path) -> Path:
    """Write ``<base>/<timestamp>/``: results.json, results.md and one folder of plots per variant."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = base / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = base / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    for v in result.variants:
        sub = folder / v.name
        sub.mkdir(exist_ok=True)
        evaluate = Path(v.artifacts[v.evaluate_stage])
        for f in evaluate.iterdir():
            if f.suffix in (".png", ".json", ".md") and f.name != "manifest.json":
                shutil.copy2(f, sub / f.name)
        shutil.copy2(Path(v.artifacts[v.train_stage]) / "history.json", sub / "history.json")
        if v.embeddings:
            (sub / "embeddings.json").write_text(json.dumps(v.embeddings, indent=2))
    (folder / "results.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    lines = [f"# {result.pipeline}: results", "", result.table(markdown=True), ""]
    for v in result.variants:
        if v.embeddings:
            intr = v.embeddings.get("intrinsic", {})
            lines.append(
                f"- {v.name}: vectors WS353 ρ={intr.get('wordsim353', {}).get('spearman')}, "
                f"SimLex ρ={intr.get('simlex999', {}).get('spearman')}, "
                f"analogy acc={intr.get('google_analogy', {}).get('accuracy')}, "
                f"{v.embeddings.get('words_per_second'):,} words/s"
            )
    (folder / "results.md").write_text("\n".join(lines) + "\n")
    latest = base / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(folder.name)
    except OSError:
        pass
    return folder
