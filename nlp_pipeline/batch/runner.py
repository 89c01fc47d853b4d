"""`process`: run a task over many input files, in parallel, resumably, with every record accounted for.

>>> summary = process(["reviews/*.jsonl.gz"], "sentiment", "out", model="latest")  # doctest: +SKIP
>>> print("\\n".join(summary.lines()))                                              # doctest: +SKIP

The steps: expand the inputs into shards (`inputs`), fingerprint each shard and keep the finished
ones (`shards`), run the rest on an executor (`executors`), then gather every shard's rejected records
into ``errors.jsonl`` and return a `ProcessSummary`. The library never prints: progress goes to a
tqdm bar (``progress=False`` turns it off) and messages to ``log``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from nlp_pipeline.batch.executors import ENGINES, run_dask, run_in_process, run_pool
from nlp_pipeline.batch.inputs import ReadOptions, Shard, build_sources, find_files, number_lines, plan_shards
from nlp_pipeline.batch.shards import ShardJob, ShardResult, errors_path, finished, output_lock, shard_key
from nlp_pipeline.batch.tasks import TaskSpec, get_task_class
from nlp_pipeline.engine.cache import AtomicWriter
from nlp_pipeline.errors import ConfigError, DataError, PipelineError

ERRORS_FILE = "errors.jsonl"
SUMMARY_FILE = "summary.json"
DEFAULT_BATCH_SIZE = 256  # texts per task call: enough to fill a model batch, small enough to keep memory flat
DEFAULT_SPLIT_MB = 64  # uncompressed text/JSONL inputs above this are cut into parts that workers share


class RejectedRecordsError(DataError):
    """``strict=True`` and some records or inputs were rejected; ``summary`` holds the finished run's counts."""

    def __init__(self, summary: ProcessSummary) -> None:
        self.summary = summary
        parts = []
        if summary.rejected_total:
            parts.append(f"{summary.rejected_total:,} record(s) rejected")
        if summary.shards_failed:
            parts.append(f"{summary.shards_failed} input shard(s) unreadable")
        super().__init__(f"{' and '.join(parts)} (strict mode); see {summary.errors_path}")


class WorkerError(PipelineError):
    """A worker raised or died on some shards; the others finished, and a rerun retries only these."""


@dataclass
class ProcessSummary:
    """Counts of one ``process`` run. ``read == written + rejected`` over the shards processed in this run."""

    task: str
    engine: str
    workers: int
    out_dir: Path
    errors_path: Path
    shards: int = 0  # in the plan
    shards_done: int = 0  # processed in this run
    shards_skipped: int = 0  # finished by an earlier run, same fingerprint
    shards_failed: int = 0  # input unreadable (or worker error): no output shard, retried by the next run
    read: int = 0
    written: int = 0
    rejected: int = 0
    tokens: int = 0
    skipped_written: int = 0  # records in the skipped shards' outputs
    skipped_rejected: int = 0  # rejected records of the skipped shards (still listed in errors.jsonl)
    seconds: float = 0.0
    failures: list[dict] = field(default_factory=list)  # one errors.jsonl entry per failed shard

    @property
    def rejected_total(self) -> int:
        return self.rejected + self.skipped_rejected

    @property
    def docs_per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def worker_failures(self) -> list[dict]:
        return [f for f in self.failures if f.get("scope") == "worker"]

    def lines(self) -> list[str]:
        """The human summary the CLI prints."""
        out = [f"shards: {self.shards} ({self.shards_done} done, {self.shards_skipped} skipped as finished, "
               f"{self.shards_failed} failed)",
               f"records: {self.read:,} read = {self.written:,} written + {self.rejected:,} rejected",
               f"speed: {self.docs_per_second:,.0f} docs/s, {self.tokens_per_second:,.0f} tokens/s "
               f"({self.tokens:,} tokens), wall {self.seconds:.1f} s, {self.workers} worker(s), {self.engine} engine"]
        if self.shards_skipped:
            out.append(f"skipped shards hold {self.skipped_written:,} records from earlier runs "
                       f"(+ {self.skipped_rejected:,} rejected)")
        for f in self.failures:
            where = f"{f['file']}:{f['line']}" if f.get("line") else f["file"]
            out.append(f"failed: {where}: {f['error']}")
        out.append(f"output: {self.out_dir}")
        if self.rejected_total or self.shards_failed:
            out.append(f"errors: {self.errors_path}")
        return out

    def to_dict(self) -> dict:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        data.update(docs_per_second=round(self.docs_per_second, 1), tokens_per_second=round(self.tokens_per_second, 1))
        return data


def process(inputs: Iterable[str | Path] | str | Path, task: str, out_dir: str | Path, *, model: str | None = None,
            workers: int | None = None, engine: str = "local", scheduler: str | None = None, strict: bool = False,
            force: bool = False, input_format: str = "auto", text_field: str = "text", id_field: str | None = None,
            text_column: str | None = None, lowercase: bool | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
            split_mb: float = DEFAULT_SPLIT_MB, device: str = "auto", threads_per_worker: int | None = 1,
            cache_dir: str | Path | None = None, progress: bool = True,
            log: Callable[[str], None] | None = None) -> ProcessSummary:
    """Run ``task`` (tokenize, sentiment, tagging) over every document of ``inputs``; one JSONL shard per input shard.

    Parameters
    ----------
    inputs : files, folders (read recursively) and glob patterns, found and read as ``run``'s text
        sources are (`nlp_pipeline.data.readers.find_files`, `read_records`): plain text (one document
        a line), fastText, JSON lines, CSV/TSV, CoNLL-U, each optionally gzip/bz2/xz compressed.
    task : a name in `nlp_pipeline.batch.TASKS`.
    out_dir : the output folder; re-running into it skips the shards already finished for the same
        inputs, task, options and model.
    model : for tasks that need one: a model folder, a train-artifact key prefix or ``latest``.
    workers : parallel workers (default: the number of CPU cores). With the local engine, 1 runs in
        this process, more start spawned processes. With Dask and no ``scheduler``, the size of the
        LocalCluster.
    threads_per_worker : torch threads per worker (default 1: N workers on N cores; None: torch's
        default, every core, which on a busy machine can be several times slower than one thread).
    engine, scheduler : ``local`` (default), or ``dask`` on the cluster at ``scheduler`` (an address
        such as ``tcp://host:8786``; default: a LocalCluster started for the run).
    strict : raise `RejectedRecordsError` at the end if any record or input was rejected.
    force : redo finished shards too.
    lowercase : tokenize only; default: the project's tokenizer setting (lower-case).
    split_mb : uncompressed text/JSONL inputs larger than this many MB are cut into line-aligned parts
        that run in parallel (0: one shard per file).
    text_column : CSV/TSV: the text column (default: the first of `TEXT_COLUMNS` in the header).

    Bad options and a model that cannot be found raise `ConfigError`, missing inputs `DataError`, before
    any work.
    """
    start = time.perf_counter()
    log = log or (lambda message: None)
    if _in_spawned_import_of_main():
        raise ConfigError("process() was called while a worker process imported your script; put the call "
                          "under `if __name__ == \"__main__\":` (worker processes are spawned)")
    inputs = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    if scheduler and engine != "dask":
        raise ConfigError("--scheduler needs --engine dask")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if batch_size < 1 or split_mb < 0:
        raise ConfigError("batch size must be at least 1 and the split size at least 0")
    workers = workers or os.cpu_count() or 1
    task_class = get_task_class(task)
    spec = task_class.prepare(model, cache_dir=cache_dir, device=device, threads=threads_per_worker,
                              lowercase=lowercase)
    options = ReadOptions(input_format, text_field, id_field, text_column)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError("output folder is a file", path=out)
    shards = plan_shards(build_sources(find_files(inputs, exclude=out), options), options, int(split_mb * (1 << 20)))
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        summary = ProcessSummary(task, engine, workers, out, out / ERRORS_FILE, shards=len(shards))
        jobs = _pending_jobs(shards, spec, options, out, force, batch_size, summary)
        log(f"{len(shards)} shard(s) from {len({s.source.abspath for s in shards})} input file(s); "
            f"{summary.shards_skipped} already finished, {len(jobs)} to process")
        _execute(jobs, engine, workers, scheduler, out, summary, progress)
        _merge_errors(out, shards)
        summary.seconds = time.perf_counter() - start
        with AtomicWriter(out / SUMMARY_FILE) as fh:
            fh.write(json.dumps(summary.to_dict(), indent=1))
    if summary.worker_failures:
        first = summary.worker_failures[0]
        raise WorkerError(f"{len(summary.worker_failures)} shard(s) failed in a worker ({first['shard']}: "
                          f"{first['error']}); the other shards finished, a rerun retries these")
    if strict and (summary.rejected_total or summary.shards_failed):
        raise RejectedRecordsError(summary)
    return summary


def _in_spawned_import_of_main() -> bool:
    """Whether a spawned worker is importing the user's script (as ``__mp_main__``) and its top-level
    code called `process`: without this check the worker would fail with an obscure pool error."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__mp_main__":
            return True
        frame = frame.f_back
    return False


def _pending_jobs(shards: list[Shard], spec: TaskSpec, options: ReadOptions, out: Path, force: bool,
                  batch_size: int, summary: ProcessSummary) -> list[ShardJob]:
    """The shards not finished for this fingerprint (counting the others as skipped), largest first."""
    jobs = []
    for shard in shards:
        key = shard_key(shard, options, spec)
        manifest = None if force else finished(out, shard, key)
        if manifest is not None:
            summary.shards_skipped += 1
            summary.skipped_written += manifest.get("written", 0)
            summary.skipped_rejected += manifest.get("rejected", 0)
            continue
        jobs.append(ShardJob(shard, key, spec, options, str(out.resolve()), batch_size))
    for job, shard in zip(jobs, number_lines([j.shard for j in jobs]), strict=True):
        job.shard = shard  # line numbers of split parts, counted only for the parts that run
    return _largest_first(jobs)


def _execute(jobs: list[ShardJob], engine: str, workers: int, scheduler: str | None, out: Path,
             summary: ProcessSummary, progress: bool) -> None:
    """Run the jobs on the engine, with a progress bar, adding each result to ``summary``."""
    if not jobs:
        return
    bar = tqdm(total=None, unit="doc", desc=f"process {summary.task}", disable=None if progress else True,
               dynamic_ncols=True, postfix=f"shards 0/{len(jobs)}")  # disable=None: on a terminal only

    def on_progress(documents: int, tokens: int) -> None:
        bar.update(documents)

    def on_result(result: ShardResult) -> None:
        _add(summary, result)
        if result.error and result.error.get("scope") == "worker":  # the worker could not write it itself
            with AtomicWriter(errors_path(out, result.name)) as fh:
                fh.write(json.dumps(result.error, ensure_ascii=False) + "\n")
        bar.set_postfix_str(f"shards {summary.shards_done + summary.shards_failed}/{len(jobs)}")

    try:
        if engine == "local" and workers == 1:
            summary.workers = run_in_process(jobs, on_result, on_progress)
        elif engine == "local":
            summary.workers = run_pool(jobs, workers, on_result, on_progress)
        else:
            summary.workers = run_dask(jobs, workers, scheduler, on_result, on_progress)
    finally:
        bar.close()


def _largest_first(jobs: list[ShardJob]) -> list[ShardJob]:
    """Start the biggest shards first so that one large shard does not run alone at the end."""
    return sorted(jobs, key=lambda j: (j.shard.end if j.shard.end is not None else j.shard.source.size) - j.shard.start,
                  reverse=True)


def _add(summary: ProcessSummary, result: ShardResult) -> None:
    if result.status == "done":
        for name in ("read", "written", "rejected", "tokens"):
            setattr(summary, name, getattr(summary, name) + getattr(result, name))
        summary.shards_done += 1
    else:
        summary.shards_failed += 1
        summary.failures.append(result.error or {"file": result.path, "shard": result.name, "error": "failed"})


def _merge_errors(out: Path, shards: list[Shard]) -> None:
    """``errors.jsonl``: the per-shard error files of this run's shards, in input order, streamed."""
    with AtomicWriter(out / ERRORS_FILE) as merged:
        for shard in shards:
            path = errors_path(out, shard.name)
            if path.is_file():
                with open(path, encoding="utf-8") as fh:
                    for line in fh:
                        merged.write(line)


TASK_OF_KIND = {"classifier": "sentiment", "tagger": "tagging"}


def model_task(model: str, task: str | None = None, cache_dir: str | Path | None = None) -> tuple[str, str | None]:
    """``process MODEL``: which task a model reference runs, and the model (None for ``tokenize``).

    ``tokenize`` needs no model; anything else is found as ``evaluate model`` finds it (a folder says what
    it holds, a key prefix is looked up among classifiers and taggers, ``latest`` is the newer of the two),
    unless ``task`` says which kind to look for.
    """
    from nlp_pipeline.pipelines.model_refs import resolve_trained_model

    if model == "tokenize":
        if task not in (None, "tokenize"):
            raise ConfigError(f"MODEL tokenize runs the tokenize task, not --task {task}")
        return "tokenize", None
    if task is not None:
        return task, model
    found = resolve_trained_model(model, cache_dir)
    return TASK_OF_KIND[found.kind], str(found.path)
