"""A stage: a small unit with declared inputs, parameters and outputs.

``run_stage`` computes the stage's key, returns the cached artifact when it exists (a *hit*), and
otherwise builds it in a temporary folder that is renamed into place only when complete.

The key hashes: the stage name, its code ``version`` (bump it when the code's output changes), the
parameters it reads, the fingerprint of every input (a file's content hash, or an upstream
artifact's key) and the major.minor versions of the libraries whose behaviour shapes the output.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp_pipeline.engine.cache import Artifact, ArtifactCache
from nlp_pipeline.engine.fingerprint import fingerprint_path, hash_json

# Libraries whose major.minor version can change a stage's output.
KEY_LIBRARIES = ("torch", "gensim", "spacy", "numpy", "scikit-learn")

Input = Artifact | Path | Sequence[Path]


@dataclass
class StageContext:
    """What a stage's build function receives."""

    out_dir: Path  # write every output file here (a temporary folder until the stage succeeds)
    params: dict[str, Any]
    inputs: dict[str, Input]
    log: Callable[[str], None] = print
    progress: bool = True


@dataclass
class Stage:
    name: str
    version: str
    params: dict[str, Any]
    inputs: dict[str, Input]
    build: Callable[[StageContext], dict]  # writes files into ctx.out_dir and returns metadata
    description: str = ""
    extra_key: dict[str, Any] = field(default_factory=dict)  # key-relevant facts that are not params


@dataclass
class StageRun:
    artifact: Artifact
    hit: bool
    seconds: float


def library_versions() -> dict[str, str]:
    versions = {}
    for lib in KEY_LIBRARIES:
        try:
            versions[lib] = ".".join(metadata.version(lib).split(".")[:2])
        except metadata.PackageNotFoundError:
            versions[lib] = "absent"
    return versions


def input_fingerprint(value: Input, memo_file: Path | None) -> str | list[str]:
    if isinstance(value, Artifact):
        return f"{value.stage}:{value.key}"
    if isinstance(value, Path | str):
        return fingerprint_path(value, memo_file)
    return [fingerprint_path(p, memo_file) for p in value]


def stage_key(stage: Stage, cache: ArtifactCache) -> str:
    payload = {
        "stage": stage.name,
        "version": stage.version,
        "params": stage.params,
        "inputs": {k: input_fingerprint(v, cache.fingerprint_memo) for k, v in sorted(stage.inputs.items())},
        "libraries": library_versions(),
        "extra": stage.extra_key,
    }
    return hash_json(payload)[:20]


def run_stage(
    stage: Stage,
    cache: ArtifactCache,
    *,
    force: bool = False,
    progress: bool = True,
    log_fn: Callable[[str], None] = print,
) -> StageRun:
    """Return the stage's artifact, building it only when its key is not cached (or ``force``)."""
    start = time.perf_counter()
    key = stage_key(stage, cache)
    if not force and (art := cache.get(stage.name, key)) is not None:
        return StageRun(art, hit=True, seconds=time.perf_counter() - start)

    tmp = cache.temp_folder(stage.name, key)
    ctx = StageContext(out_dir=tmp, params=stage.params, inputs=stage.inputs, log=log_fn, progress=progress)
    try:
        metadata_out = stage.build(ctx) or {}
    except BaseException:
        # KeyboardInterrupt included: a half-written folder must never survive.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    manifest = {
        "stage": stage.name,
        "version": stage.version,
        "key": key,
        "params": stage.params,
        "inputs": {
            k: (f"{v.stage}:{v.key}" if isinstance(v, Artifact) else _describe_path(v))
            for k, v in stage.inputs.items()
        },
        "libraries": library_versions(),
        "created": time.time(),
        "seconds": round(seconds, 3),
        "metadata": metadata_out,
    }
    art = cache.commit(tmp, stage.name, key, manifest)
    return StageRun(art, hit=False, seconds=seconds)


def _describe_path(value: Path | Sequence[Path]) -> str | list[str]:
    if isinstance(value, Path | str):
        return str(value)
    return [str(p) for p in value]
