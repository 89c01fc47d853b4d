"""Run a pipeline: one or more variants (a grid), each its declared steps through the cache, then a report.

One generic runner serves every declared pipeline. Variants share every stage whose key is the same
(a grid over ``model.encoder`` tokenizes and trains word2vec once). Every variant's configuration is
validated, its inputs found (a missing file is an error before the first stage, not after an hour),
and the device resolved, before anything runs.

With ``report.tensorboard``, the report folder is claimed before the first stage runs, and each variant's
runtime names its ``<variant>/tensorboard/`` there: the training stages write their TensorBoard runs as
they train (`nlp_pipeline.reports.tensorboard`), so ``tensorboard --logdir`` on the pipeline's reports shows
them live. A run that fails leaves that folder only if training wrote events into it.

When every variant is done, the run names its model: the best variant's (by the pipeline's dev or
held-out score, never a test score), its key, folder and the command that uses it; and it records
that variant's artifacts as ``latest``, so ``predict latest`` after a grid uses the best model, not
the last one trained.

Launched as several processes (``torchrun``, ``run --nproc N``: `nlp_pipeline.training.distributed`),
every process runs the pipeline: rank 0 builds each stage and the others read its artifact, except the
training stages, which they all build together (rank 0 committing); rank 0 alone writes the report and
``latest``, and logs.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp_pipeline.config import expand_grid, load_config, pipeline_type
from nlp_pipeline.engine import Artifact, ArtifactCache, StageRun, Task, short_key
from nlp_pipeline.engine.cache import disk_full, disk_full_error, free_space
from nlp_pipeline.pipelines.declared import Declared
from nlp_pipeline.pipelines.inputs import vectors_origin
from nlp_pipeline.pipelines.registry import declared
from nlp_pipeline.pipelines.runtime import check_processes, trains
from nlp_pipeline.pipelines.vectors import VECTOR_STEPS
from nlp_pipeline.reports.report import claim_folder, write_report
from nlp_pipeline.reports.results import ModelRef, PipelineResult, VariantResult
from nlp_pipeline.reports.tensorboard import EVENTS_FOLDER

logger = logging.getLogger(__name__)

# What each pipeline's results table ranks by (`Declared.rank`; dev accuracy when it declares none), in
# words: a score on dev or held-out data, never on test, so choosing the best does not peek at test.
BEST_BY = {"sentiment": "dev accuracy", "tagging": "dev accuracy", "lm": "held-out perplexity",
           "embeddings": "Google analogy accuracy, then SimLex-999"}


def variant_name(spec: Declared, cfg: Any, overrides: list[str]) -> str:
    """``bilstm-fine-tuned`` (+ ``-char_cnn`` for taggers), then any other grid override, file-name safe."""
    parts, named = [], []
    for key, template in spec.name_keys:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        parts.append(template(value) if callable(template) else template.format(value))
        named.append(f"{key}=")
    extra = [o for o in overrides if not o.startswith(tuple(named))]
    name = "-".join(parts + extra)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


def resolve_vector_reference(cfg: Any, cache_dir: str | Path | None) -> Any:
    """``embed.vectors`` (a file, an artifact folder, a key prefix, ``latest``) → the path it names, now:
    a typo is an error before any stage runs, and a key prefix is looked up in this run's cache."""
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    if getattr(cfg.embed, "vectors", None) is not None and cfg.uses_vectors():
        return cfg.replace("embed", vectors=str(resolve_vectors(cfg.embed.vectors, cache_dir).resolve()))
    return cfg


def resolve_lm_reference(cfg: Any, cache_dir: str | Path | None) -> Any:
    """``model.lm`` (``auto``, key prefixes, folders) → the folders it names, now, as for vectors."""
    from nlp_pipeline.models.lm_transfer import check_encoder_against
    from nlp_pipeline.pipelines.artifacts import resolve_language_models
    from nlp_pipeline.pipelines.language_models import uses_language_models

    if uses_language_models(cfg):
        model = cfg.model
        folders = resolve_language_models(model.lm, cache_dir, bidirectional=model.encoder == "bilstm")
        check_encoder_against(folders, model.encoder, model.nonlinearity)  # a contradiction: an error before any stage
        return cfg.replace("model", lm=tuple(str(f.resolve()) for f in folders))
    return cfg


def needed_downloads(cfg: Any, data_dir: str | Path | None = None) -> list[str]:
    """The downloads a run of ``cfg`` would make: each registered corpus it names (``data.corpus``,
    ``data.text``, ``data.dedup_against``) whose files are not on this machine."""
    from nlp_pipeline.data import list_corpora, load_spec
    from nlp_pipeline.data.resolve import missing_files

    data = cfg.data
    names = [getattr(data, "corpus", None), *data.text, *(data.dedup_against or ())]
    urls = []
    for corpus in sorted({n.partition(":")[0] for n in names if n} & set(list_corpora())):
        urls += [fs.download.url if fs.download is not None else f"{corpus}: {fs.name} (no download defined)"
                 for fs in missing_files(load_spec(corpus), data_dir)]
    return sorted(set(urls))


def check_nproc(name: str, overrides: list[str] | None, grid: list[str] | None, processes: int) -> None:
    """Before starting ``processes`` processes for a run: every variant's configuration is valid and each
    training stage's batch size splits evenly among them (a `ConfigError` naming the setting, else)."""
    spec = declared(pipeline_type(name))
    for v in expand_grid(grid or []):
        check_processes(spec, load_config(name, list(overrides or []) + v), processes)


def dry_run(name: str = "sentiment", overrides: list[str] | None = None, grid: list[str] | None = None, *,
            cache_dir: str | Path | None = None, processes: int | None = None) -> list[dict]:
    """What ``run`` would do, without doing it: per variant, each stage it runs, its key and whether it
    is cached or to build, and the downloads it needs first (then no key can be computed yet: a
    corpus's key is its content). Nothing is built or downloaded. ``processes``: of the run planned (its
    training stages' keys say whether they are bit-reproducible); None: as this process was launched."""
    spec = declared(pipeline_type(name))
    cache = ArtifactCache(cache_dir)
    plans = []
    for v in expand_grid(grid or []):
        cfg = load_config(name, list(overrides or []) + v)
        runtime = spec.pipeline.runtime(cfg)
        if processes is not None:
            runtime = dataclasses.replace(runtime, processes=processes)
        check_processes(spec, cfg, runtime.processes)
        downloads = needed_downloads(cfg, cfg.data.data_dir)
        stages: list[dict] = []
        if downloads:
            stages = [{"stage": s.name, "key": None, "status": "to build"} for s in spec.pipeline.steps
                      if s.when(cfg)]
        else:
            cfg = resolve_lm_reference(resolve_vector_reference(cfg, cache_dir), cache_dir)
            for task, key in spec.pipeline.plan(cfg, cache, runtime):
                cached = cache.lookup(task.stage.name, key).artifact is not None
                stages.append({"stage": task.stage.name, "key": key, "status": "cached" if cached else "to build"})
        plans.append({"variant": variant_name(spec, cfg, v), "overrides": v, "downloads": downloads,
                      "stages": stages})
    return plans


def run_pipeline(name: str = "sentiment", overrides: list[str] | None = None, grid: list[str] | None = None, *,
                 cache_dir: str | Path | None = None, report_dir: str | Path | None = None, force: bool = False,
                 progress: bool = True, log: Callable[[str], None] | None = None) -> PipelineResult:
    """Run ``pipelines/<name>.yaml`` with overrides, once per grid point, and write a report folder.

    Progress lines go to ``log`` (the CLI passes one that writes to stderr); by default to this
    module's logger at INFO level, so a notebook or a service decides where they go. In a launched run
    (torchrun, ``run --nproc``) every process calls it: rank 0's result has the report; another's names
    the same artifacts, and its ``log`` receives one line (which artifact it ends with)."""
    from nlp_pipeline.training.distributed import processes

    log = log or logger.info
    start = time.perf_counter()
    overrides = list(overrides or [])
    spec = declared(pipeline_type(name))
    # Validate every variant's configuration, and resolve its execution settings, before running anything.
    variants_cfg = [(load_config(name, overrides + v), v) for v in expand_grid(grid or [])]
    runtimes = [dataclasses.replace(spec.pipeline.runtime(cfg), progress=progress, pipeline=spec.name)
                for cfg, _ in variants_cfg]
    for (cfg, _), runtime in zip(variants_cfg, runtimes, strict=True):
        check_processes(spec, cfg, runtime.processes)
    with processes(runtimes[0].device) as group:
        together = group is not None and group.world_size > 1
        if together and not group.is_main:  # rank 0 speaks for the run; the others say one line at the end
            result = _run(spec, name, overrides, variants_cfg,
                          [dataclasses.replace(r, progress=False) for r in runtimes], cache_dir, report_dir, force,
                          lambda message: None, start, group)
            log(f"rank {group.rank} of {group.world_size}: done, {result.model.stage} [{result.model.prefix}] is "
                "the artifact rank 0 committed")
            return result
        return _run(spec, name, overrides, variants_cfg, runtimes, cache_dir, report_dir, force, log, start,
                    group if together else None)


def _run(spec: Declared, name: str, overrides: list[str], variants_cfg: list, runtimes: list,
         cache_dir: str | Path | None, report_dir: str | Path | None, force: bool, log: Callable[[str], None],
         start: float, group: Any) -> PipelineResult:
    """`run_pipeline` once its configurations are valid, in the process group (if any) of a launched run."""
    from nlp_pipeline.engine import run_stage
    from nlp_pipeline.training.distributed import run_together

    cache = ArtifactCache(cache_dir)
    main = group is None or group.is_main
    if not main:
        group.barrier()  # rank 0 first finds (or downloads) the inputs, then the others hash what it found
    variants_cfg = [(resolve_lm_reference(resolve_vector_reference(cfg, cache_dir), cache_dir), v)
                    for cfg, v in variants_cfg]
    for (cfg, _), runtime in zip(variants_cfg, runtimes, strict=True):
        spec.pipeline.plan(cfg, cache, runtime)  # every input found and readable (files hashed once, memoised)
    if group is not None and main:
        group.barrier()
    run = run_together(group, trains) if group is not None else run_stage

    base = Path(report_dir) if report_dir else Path(variants_cfg[0][0].report.dir)
    reports = base / Path(name).stem
    tensorboard = any(c.report.tensorboard for c, _ in variants_cfg)
    claimed = None
    if tensorboard and main:
        claimed, runtimes = _live_events(spec, reports, variants_cfg, runtimes)
        log(f"TensorBoard as training goes: tensorboard --logdir {claimed}")
    try:
        variants, variant_arts = _run_variants(spec, overrides, variants_cfg, runtimes, cache, force, log, run)
    except BaseException:
        if claimed is not None and not any(f.is_file() for f in claimed.rglob("*")):
            shutil.rmtree(claimed, ignore_errors=True)  # no training wrote there: no folder left behind
        raise

    result = PipelineResult(spec.name, variants, Path(), time.perf_counter() - start, columns=spec.columns,
                            rank=spec.rank, best_by=BEST_BY.get(spec.name, "the results table's order"))
    best = result.best
    arts = next(a for v, a in zip(variants, variant_arts, strict=True) if v is best)
    result.model = model_ref(arts[spec.pipeline.train_step], best, cache_dir)
    if not main:
        return result  # rank 0 writes the report and records `latest`
    free_before = free_space(reports)
    try:
        result.report_dir = write_report(result, reports, tensorboard=tensorboard, folder=claimed)
    except OSError as err:
        if (code := disk_full(err)) is None:
            raise
        raise disk_full_error(code, "the report", reports, free_before=free_before) from err
    for stage, art in arts.items():  # the run is complete: `latest` now names the best variant's artifacts
        cache.record_latest(stage, art.key, pipeline=spec.name, variant=best.name)
    result.seconds = time.perf_counter() - start
    return result


def _live_events(spec: Declared, reports: Path, variants_cfg: list, runtimes: list) -> tuple[Path, list]:
    """With ``report.tensorboard``: the report folder, claimed now, and each variant's runtime naming its
    ``<variant>/tensorboard/`` there, where its training stages write their runs as they train (the runtime
    is in no key: what is trained stays the same)."""
    free_before = free_space(reports)
    try:
        claimed = claim_folder(reports)
    except OSError as err:
        if (code := disk_full(err)) is None:
            raise
        raise disk_full_error(code, "the report", reports, free_before=free_before) from err
    return claimed, [dataclasses.replace(r, events=str(claimed / variant_name(spec, cfg, v) / EVENTS_FOLDER))
                     for (cfg, v), r in zip(variants_cfg, runtimes, strict=True)]


def _run_variants(spec: Declared, overrides: list[str], variants_cfg: list, runtimes: list, cache: ArtifactCache,
                  force: bool, log: Callable[[str], None], run: Callable[..., StageRun]
                  ) -> tuple[list[VariantResult], list[dict[str, Artifact]]]:
    """Each variant's steps through the cache: its result and its artifacts by step."""
    variants: list[VariantResult] = []
    variant_arts: list[dict[str, Artifact]] = []
    for (cfg, v), runtime in zip(variants_cfg, runtimes, strict=True):
        if len(variants_cfg) > 1:
            log(f"── variant {' '.join(v)}")
        if (origin := vectors_origin(cfg)) is not None:
            log(origin)
        runs: list[dict] = []

        def record(task: Task, result: StageRun, runs: list[dict] = runs) -> None:
            runs.append({"stage": task.stage.name, "key": result.artifact.key, "hit": result.hit,
                         "seconds": round(result.seconds, 2), "path": str(result.artifact.path),
                         "deterministic": bool(result.artifact.manifest.get("deterministic")),
                         "rebuilt_because": result.rebuilt})

        arts = spec.pipeline.execute(cfg, cache, runtime, force=force, log=log, on_run=record, run=run)
        variants.append(VariantResult(
            name=variant_name(spec, cfg, v), overrides=overrides + v, config=cfg.to_dict(),
            metrics=dict(arts[spec.pipeline.evaluate_step].metadata), train=arts[spec.pipeline.train_step].metadata,
            embeddings=next((arts[s].metadata for s in VECTOR_STEPS if s in arts), None),
            artifacts={k: str(a.path) for k, a in arts.items()}, stage_runs=runs, kind=spec.name,
            train_step=spec.pipeline.train_step, evaluate_step=spec.pipeline.evaluate_step,
            deterministic=all(r["deterministic"] for r in runs)))
        variant_arts.append(arts)
        nondeterministic = [f"{s}: {a.manifest['nondeterministic_because']}" for s, a in arts.items()
                            if a.manifest.get("nondeterministic_because")]
        if nondeterministic:
            log("note: not bit-reproducible (" + "; ".join(nondeterministic) + ")")
    return variants, variant_arts


def model_ref(art: Artifact, variant: VariantResult, cache_dir: str | Path | None) -> ModelRef:
    """What the run says about its model: ``art`` (the best variant's model stage artifact), its key as every
    line shows it, its folder and the exact command that uses it (a probe word the vectors know; the
    pipeline's first sample prompt)."""
    from nlp_pipeline.pipelines.artifacts import usage_command

    probes = variant.metrics.get("probes_found") or [None]
    prompts = (variant.config.get("generate") or {}).get("prompts") or ["the"]
    command = usage_command(art, cache_dir, word=probes[0], prompt=prompts[0] or "the")
    return ModelRef(stage=art.stage, key=art.key, prefix=short_key(art.key), path=str(art.path), variant=variant.name,
                    command=command or "", latest=True)
