"""Processing one shard so that a killed run never leaves output a restarted run would trust.

Layout of the output folder::

    out/
      reviews.jsonl                # one output shard per input shard, records in input order
      errors.jsonl                 # every rejected record and failed input of the run's inputs
      .process/reviews.json        # the shard's manifest: its fingerprint (key) and counts
      .process/reviews.errors.jsonl

Writes and locks are the artifact cache's (`nlp_pipeline.engine.cache`): every file is written with
its `AtomicWriter` (a hidden temporary file, fsynced, renamed over the final name when complete) and
one run per output folder holds its `held_lock`. The cache's other half, a temporary *folder* renamed
into place with its manifest written last, does not fit here: shards are plain files under names users
and tools glob (``out/*.jsonl``), and the three files of a shard cannot be renamed in one step. So the
same rule is kept file by file: a shard's manifest is written *after* its output and deleted *before*
the shard is redone, so a final name always holds a complete shard, and a shard counts as finished only
when its manifest's key matches the key of this run (input path, size and mtime, byte range, read
options, task, task options, model fingerprint) and the output has the size the manifest recorded. A
changed input, task or model is redone. Temporary files left by a killed run are removed by shard
(the output lock says no other run writes them), not by the cache's process-liveness test, which
cannot see the processes of Dask workers on other machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nlp_pipeline.batch.inputs import InputError, ReadOptions, Record, Rejection, Shard, iter_records
from nlp_pipeline.batch.tasks import Task, TaskSpec, load_task
from nlp_pipeline.engine.cache import AtomicWriter, held_lock
from nlp_pipeline.engine.fingerprint import hash_json
from nlp_pipeline.errors import ConfigError

STATE_DIR = ".process"
FORMAT_VERSION = 2  # of the output records, error messages and manifests; part of every key
Progress = Callable[[int, int], None]  # (documents, tokens) just finished


def shard_key(shard: Shard, options: ReadOptions, spec: TaskSpec) -> str:
    """The fingerprint that decides whether a finished shard can be kept."""
    return hash_json({"format": FORMAT_VERSION, "input": shard.identity(), "read": options.to_dict(),
                      "task": spec.identity()})


def manifest_path(out_dir: Path, name: str) -> Path:
    return out_dir / STATE_DIR / f"{Path(name).stem}.json"


def errors_path(out_dir: Path, name: str) -> Path:
    return out_dir / STATE_DIR / f"{Path(name).stem}.errors.jsonl"


def finished(out_dir: Path, shard: Shard, key: str) -> dict | None:
    """The shard's manifest if its output is complete for this key, else None (the shard must be redone)."""
    try:
        manifest = json.loads(manifest_path(out_dir, shard.name).read_text(encoding="utf-8"))
        size = (out_dir / shard.name).stat().st_size
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key or manifest.get("output_bytes") != size:
        return None
    if manifest.get("rejected") and not errors_path(out_dir, shard.name).is_file():
        return None
    return manifest


@dataclass
class ShardJob:
    """One shard to process: everything a local or Dask worker needs, picklable."""

    shard: Shard
    key: str
    spec: TaskSpec
    options: ReadOptions
    out_dir: str
    batch_size: int = 256


@dataclass
class ShardResult:
    """What a worker reports back. ``status`` is ``done`` or ``failed`` (the input could not be read)."""

    name: str
    path: str
    status: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    tokens: int = 0
    seconds: float = 0.0
    error: dict | None = field(default=None)  # the failed input's entry in errors.jsonl

    def to_dict(self) -> dict:
        return asdict(self)


def output_lock(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on the output folder for the run, without waiting: two runs into one folder would
    delete each other's temporary files. The OS drops it when the process dies, even by SIGKILL."""

    def busy() -> None:
        raise ConfigError("another run is writing to this output folder", path=out_dir)

    return held_lock(out_dir / STATE_DIR / "lock", busy)


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temps(out_dir: Path, name: str) -> None:
    for path in (out_dir / name, errors_path(out_dir, name), manifest_path(out_dir, name)):
        for tmp in path.parent.glob(f".{path.name}.tmp-*"):
            tmp.unlink(missing_ok=True)


def run_shard(job: ShardJob, task: Task | None = None, progress: Progress | None = None) -> ShardResult:
    """Read, process and write one shard atomically; returns its counts. Runs in a worker.

    ``task`` is the loaded task (the in-process engine passes its own); by default the worker's cached
    one is used, so each worker process loads the model once. An input that cannot be read gives a
    ``failed`` result (no output shard, no manifest) instead of an exception, so the other shards go on.
    Rejected records stream to the shard's errors file, so memory stays flat however many there are.
    """
    start = time.perf_counter()
    out_dir = Path(job.out_dir)
    shard = job.shard
    (out_dir / STATE_DIR).mkdir(parents=True, exist_ok=True)
    manifest_path(out_dir, shard.name).unlink(missing_ok=True)  # from here on the shard is not finished
    _remove_stale_temps(out_dir, shard.name)
    task = task or load_task(job.spec)
    result = ShardResult(shard.name, shard.source.path, "done")
    out = AtomicWriter(out_dir / shard.name)
    errors = AtomicWriter(errors_path(out_dir, shard.name))
    try:
        batch: list[Record] = []
        for item in iter_records(shard, job.options):
            result.read += 1
            if isinstance(item, Rejection):
                result.rejected += 1
                errors.write(_error_line(shard, item.line, item.error, item.excerpt))
                continue
            batch.append(item)
            if len(batch) >= job.batch_size:
                _write_batch(task, batch, out, result, progress)
                batch = []
        _write_batch(task, batch, out, result, progress)
    except InputError as err:
        out.discard()
        errors.discard()
        entry = {"file": shard.source.path, "line": err.line, "shard": shard.name, "error": err.message,
                 "scope": "input", "records_before_failure": result.read}
        with AtomicWriter(errors_path(out_dir, shard.name)) as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return ShardResult(shard.name, shard.source.path, "failed", seconds=time.perf_counter() - start, error=entry)
    except BaseException:
        out.discard()
        errors.discard()
        raise
    if result.rejected:
        errors.commit()
    else:
        errors.discard()
        errors.path.unlink(missing_ok=True)
    out.commit()
    result.seconds = time.perf_counter() - start
    manifest = {"key": job.key, "shard": shard.name, "input": shard.identity(), "task": job.spec.identity(),
                "read_options": job.options.to_dict(), "output_bytes": (out_dir / shard.name).stat().st_size,
                "read": result.read, "written": result.written, "rejected": result.rejected,
                "tokens": result.tokens, "seconds": round(result.seconds, 3), "created": time.time()}
    with AtomicWriter(manifest_path(out_dir, shard.name)) as fh:
        fh.write(json.dumps(manifest, indent=1))
    fsync_dir(out_dir)
    fsync_dir(out_dir / STATE_DIR)
    return result


def _write_batch(task: Task, batch: list[Record], out: AtomicWriter, result: ShardResult,
                 progress: Progress | None) -> None:
    if not batch:
        return
    outputs = task.process([r.text for r in batch])
    if len(outputs) != len(batch):
        raise RuntimeError(f"task {task.name!r} returned {len(outputs)} results for {len(batch)} texts")
    tokens = 0
    lines = []
    for record, output in zip(batch, outputs, strict=True):
        tokens += len(output["tokens"]) if "tokens" in output else output.get("n_tokens", 0)
        lines.append(json.dumps({"id": record.id, **output}, ensure_ascii=False))
    out.write("\n".join(lines) + "\n")
    result.written += len(batch)
    result.tokens += tokens
    if progress is not None:
        progress(len(batch), tokens)


def _error_line(shard: Shard, line: int | None, error: str, excerpt: str) -> str:
    entry = {"file": shard.source.path, "line": line, "shard": shard.name, "error": error}
    if excerpt:
        entry["excerpt"] = excerpt
    return json.dumps(entry, ensure_ascii=False) + "\n"
