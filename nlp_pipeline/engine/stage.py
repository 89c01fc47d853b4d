"""A stage: a named, versioned build step that sees only what its cache key covers.

A `Stage` declares a frozen parameter type (a projection of the declared settings it reads:
`nlp_pipeline.settings.stage_params`), the inputs it takes and a *module-level* build function
``build(params, inputs, ctx) -> metadata``. A `Task` binds a stage to one parameter object and its
inputs; its key is the hash of

- the stage's name and code ``version`` (bump it when the code's output changes),
- every field of the parameter object (the very object the build function receives),
- every input's fingerprint (an upstream artifact's stage and key; a corpus's content hashes),
- the major.minor versions of the libraries that shape outputs, and
- whether the build is deterministic under this run's execution settings (`Runtime`).

Because the build function gets nothing else (no closure, no pipeline config: `Stage` refuses a
closure), a setting it could read but its key leaves out cannot exist. Execution settings that do not
change what is computed (threads, processes, progress bars, the device, where a training stage writes
TensorBoard events as it trains) reach it through ``ctx.runtime``; they are not in the key, except as the
deterministic flag.

`run_stage` returns the cached artifact when its key is there and intact (a *hit*); otherwise it
takes the key's lock (waiting for a concurrent builder, then usually hitting its result), builds into
a temporary folder with every global RNG seeded from the key, and commits it atomically. A build that
fails leaves nothing; one that fills the disk is a `DiskFullError`, whichever library's write failed.

A build that can take long (training) resumes instead of restarting: ``ctx.partial`` names the key's
partial-build folder, where its loop saves checkpoints (`nlp_pipeline.training.checkpoint`). Only the
holder of the key's lock writes there; a killed build leaves its last checkpoint, which the next build
of the same key resumes from; the folder is removed once the artifact is committed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import random
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from nlp_pipeline import settings
from nlp_pipeline.engine.cache import (
    Artifact,
    ArtifactCache,
    Lookup,
    disk_full,
    disk_full_error,
    folder_size,
    free_space,
    short_key,
)
from nlp_pipeline.engine.fingerprint import fingerprint_path, hash_json

_logger = logging.getLogger(__name__)

# Libraries whose major.minor version can change a stage's output.
KEY_LIBRARIES = ("torch", "gensim", "spacy", "numpy", "scikit-learn")

_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class ArtifactRef:
    """An upstream artifact known by its key only (planning computes keys before anything is built)."""

    stage: str
    key: str


@dataclass(frozen=True)
class DataRef:
    """An external input (a corpus, or a text source), identified in the key by its content.

    ``name`` is how the data layer finds it (a registered name such as ``imdb:train``, or the user's
    path) and ``data_dir`` where it looks; neither is in the key, so moving a file or a mirror keeps
    the key. ``id`` (the registered name, or ``user:<file name>``), the content hash of every file and
    of the corpus definition (its reader settings) are.
    """

    id: str
    name: str
    files: tuple[Path, ...]
    data_dir: str | None = None
    spec: Path | None = None  # corpora/<name>.yaml, whose reader settings shape what is read
    options: tuple[tuple[str, Any], ...] = ()  # how a user's files are read (a JSON field, a CSV column)


Input = Artifact | ArtifactRef | DataRef | tuple[DataRef, ...]


@dataclass(frozen=True)
class Runtime:
    """How a run executes, as opposed to what it computes: never in a key (but see `Stage.nondeterministic`)."""

    device: str = "cpu"  # a resolved torch device ("cpu", "cuda:0"), resolved once per command
    workers: int = 1  # word2vec threads (resolved: never 0)
    num_threads: int = 1  # torch CPU threads (resolved: never 0)
    n_process: int = 1  # tokenizer processes
    progress: bool = True  # tqdm bars
    pipeline: str | None = None  # the pipeline that asked for the build (recorded: `embed.vectors=embeddings`)
    # how often a training build saves a checkpoint (and at every epoch's end); 0: at epoch ends only
    checkpoint_minutes: float = settings.default_of(settings.Runtime, "checkpoint_minutes")
    processes: int = 1  # of a launched run (torchrun, run --nproc) that train each batch together
    # With report.tensorboard: the report's variant folder where training stages write TensorBoard events as
    # they train (`nlp_pipeline.reports.tensorboard`); None: nowhere. Rank 0's only, in a launched run.
    events: str | None = None


@dataclass(frozen=True)
class PartialBuild:
    """Where one build of a key keeps the progress it can resume from, and what it must match.

    ``folder`` is ``<cache>/partial/<stage>/<key>/`` (or a ``part`` of it: a build that trains several
    models in turn keeps one folder per model). Only the holder of the key's lock writes there; a
    checkpoint is resumed only by a build of the same stage, key and code version.
    """

    folder: Path
    stage: str
    key: str
    version: str  # the stage's code version
    every_seconds: float  # a checkpoint this often (and at every epoch's end); 0: at epoch ends only
    part: str | None = None  # which of the build's models, when it trains several

    def of_part(self, name: str) -> PartialBuild:
        """The partial build of one of several models the build trains (``forward``, ``backward``)."""
        return dataclasses.replace(self, folder=self.folder / name, part=name)

    @property
    def label(self) -> str:
        """How log lines name it: ``train [3f9a0c1d2e4b]``, ``finetune_lm [3f9a0c1d2e4b] backward``."""
        return f"{self.stage} [{short_key(self.key)}]" + (f" {self.part}" if self.part else "")


@dataclass
class BuildContext:
    """What a build function receives besides its parameters and inputs."""

    out_dir: Path  # write every output file here (a temporary folder until the stage succeeds)
    runtime: Runtime
    log: Callable[[str], None] = _logger.info
    partial: PartialBuild | None = None  # where a training loop keeps checkpoints (None: it keeps none)

    @property
    def progress(self) -> bool:
        return self.runtime.progress


def _no_reason(params: Any, runtime: Runtime) -> str | None:
    return None


def _no_summary(art: Artifact) -> str:
    return ""


def frozen_params_type(tp: Any) -> bool:
    """A frozen dataclass or a frozen pydantic model: what a stage's params may be."""
    if dataclasses.is_dataclass(tp):
        return tp.__dataclass_params__.frozen
    config = getattr(tp, "model_config", None)
    return isinstance(config, dict) and bool(config.get("frozen"))


def param_values(params: Any) -> dict[str, Any]:
    """A params object's fields and values (tuples stay tuples)."""
    if dataclasses.is_dataclass(params):
        return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    return params.model_dump()


@dataclass(frozen=True)
class Stage:
    """A stage's declaration. ``build`` must be a module-level function: it can reach nothing but its arguments."""

    name: str
    version: str
    params: type  # frozen (a settings projection, or a dataclass) whose fields are plain values or tuples
    build: Callable[[Any, Mapping[str, Input], BuildContext], dict]
    inputs: tuple[str, ...] = ()  # required input names
    optional_inputs: tuple[str, ...] = ()
    describe: Callable[[Any], str] = str  # one line for the run log
    summary: Callable[[Artifact], str] = _no_summary  # what `cache ls` says about an artifact
    # Why a build with these params and runtime would not be bit-reproducible (None: it would be).
    nondeterministic: Callable[[Any, Runtime], str | None] = _no_reason

    def __post_init__(self) -> None:
        fn = self.build
        if getattr(fn, "__closure__", None) or "<locals>" in getattr(fn, "__qualname__", "<locals>"):
            raise TypeError(f"stage {self.name}: build must be a module-level function (no closure), got {fn!r}")
        if not frozen_params_type(self.params):
            raise TypeError(f"stage {self.name}: params must be a frozen dataclass or settings type, got "
                            f"{self.params!r}")


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(f"{where} must be a plain value (str, int, float, bool, None or a tuple), got {value!r}")


@dataclass(frozen=True)
class Task:
    """A stage bound to one parameter object and its inputs: what gets keyed, built and cached."""

    stage: Stage
    params: Any
    inputs: Mapping[str, Input] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.stage
        if type(self.params) is not s.params:
            raise TypeError(f"stage {s.name}: params must be a {s.params.__name__}, got {type(self.params).__name__}")
        for name, value in param_values(self.params).items():
            _check_plain(value, f"{s.name}.{name}")
        missing = set(s.inputs) - set(self.inputs)
        unknown = set(self.inputs) - set(s.inputs) - set(s.optional_inputs)
        if missing or unknown:
            raise TypeError(f"stage {s.name}: missing inputs {sorted(missing)}, unknown inputs {sorted(unknown)}")

    def nondeterminism(self, runtime: Runtime) -> str | None:
        return self.stage.nondeterministic(self.params, runtime)

    def key(self, cache: ArtifactCache, runtime: Runtime) -> str:
        payload = {"stage": self.stage.name, "version": self.stage.version, "params": key_params(self.params),
                   "inputs": {k: input_fingerprint(v, cache.fingerprint_memo) for k, v in sorted(self.inputs.items())},
                   "libraries": library_versions(), "deterministic": self.nondeterminism(runtime) is None}
        return hash_json(payload)[:20]


@dataclass
class StageRun:
    artifact: Artifact
    hit: bool
    seconds: float
    rebuilt: str | None = None  # why a cached artifact under this key was not used (damage), if it was there


@functools.cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    versions = {}
    for lib in KEY_LIBRARIES:
        try:
            versions[lib] = ".".join(metadata.version(lib).split(".")[:2])
        except metadata.PackageNotFoundError:
            versions[lib] = "absent"
    return tuple(versions.items())


def library_versions() -> dict[str, str]:
    """major.minor of each `KEY_LIBRARIES` package (read once per process: every key needs them)."""
    return dict(_library_versions())


BUILT_BEFORE = "built_before"  # a parameter's metadata: the value artifacts built before it existed had


def built_before(params_type: type) -> dict[str, Any]:
    """``{field: value}`` for each parameter added after a stage's artifacts existed, with the value
    those artifacts were built with (``metadata={BUILT_BEFORE: v}`` on a dataclass field,
    ``json_schema_extra={BUILT_BEFORE: v}`` on a settings field)."""
    if dataclasses.is_dataclass(params_type):
        return {f.name: f.metadata[BUILT_BEFORE] for f in dataclasses.fields(params_type) if BUILT_BEFORE in f.metadata}
    found = {}
    for name, info in params_type.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and BUILT_BEFORE in extra:
            found[name] = extra[BUILT_BEFORE]
    return found


def key_params(params: Any) -> dict:
    """The params as the key sees them: every field, except one added after the stage's artifacts
    existed (`built_before`) while it holds the value those artifacts were built with, so they keep
    their keys. Any other value of it, a later default included, gives a new key."""
    values = param_values(params)
    for name, old in built_before(type(params)).items():
        if values[name] == old and type(values[name]) is type(old):
            del values[name]
    return values


def input_fingerprint(value: Input, memo_file: Path | None) -> Any:
    if isinstance(value, Artifact | ArtifactRef):
        return f"{value.stage}:{value.key}"
    if isinstance(value, DataRef):
        return {"id": value.id, "files": [fingerprint_path(p, memo_file) for p in value.files],
                "spec": fingerprint_path(value.spec, memo_file) if value.spec is not None else None,
                **({"options": [list(o) for o in value.options]} if value.options else {})}
    if isinstance(value, tuple):
        return [input_fingerprint(v, memo_file) for v in value]
    raise TypeError(f"not a stage input: {value!r}")


def describe_input(value: Input) -> Any:
    """How a manifest names an input: the exact upstream artifact (stage, key, content digest), or the files."""
    if isinstance(value, Artifact):
        return {"stage": value.stage, "key": value.key, "digest": value.digest}
    if isinstance(value, ArtifactRef):
        return {"stage": value.stage, "key": value.key, "digest": None}
    if isinstance(value, DataRef):
        return {"id": value.id, "files": [str(p) for p in value.files]}
    return [describe_input(v) for v in value]


def seed_global_rngs(key: str) -> None:
    """Seed Python's, NumPy's and (when loaded) torch's global generators from the stage key.

    Stages seed what they use from their own ``seed`` parameter; this makes anything else that draws
    from a global generator a function of the key too, so a build never depends on what ran before it
    in the same process.
    """
    seed = int(key[:8], 16)
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def run_stage(task: Task, cache: ArtifactCache, runtime: Runtime | None = None, *, force: bool = False,
              log: Callable[[str], None] = _logger.info, on_build: Callable[[str], None] | None = None) -> StageRun:
    """Return the task's artifact, building it only when its key is not cached intact (or ``force``: then
    from the beginning, whatever checkpoint a stopped build of the key left). ``on_build(key)`` is called
    holding the key's lock, just before a build starts (the processes of a distributed run then build with
    this one: `nlp_pipeline.training.distributed`)."""
    runtime = runtime or Runtime()
    start = time.perf_counter()
    stage = task.stage
    key = task.key(cache, runtime)
    if not force:
        found = _usable(task, cache.lookup(stage.name, key))
        if found.artifact is not None:
            return StageRun(found.artifact, hit=True, seconds=time.perf_counter() - start)

    def waiting() -> None:
        log(f"  waiting: another process is building {stage.name} [{short_key(key)}]")

    with cache.lock(stage.name, key, on_wait=waiting):
        damage = None
        if not force:
            found = _usable(task, cache.lookup(stage.name, key))  # a concurrent builder may have finished it
            if found.artifact is not None:
                return StageRun(found.artifact, hit=True, seconds=time.perf_counter() - start)
            damage = found.problem
            if damage:
                state = "out of date" if found.stale else "damaged"
                log(f"  {stage.name} [{short_key(key)}] in the cache is {state} ({damage}): rebuilding it")
        else:
            cache.remove_partial(stage.name, key)  # a rebuild starts from the beginning, not from a checkpoint
        if on_build is not None:
            on_build(key)
        return _build(task, key, cache, runtime, log, start, damage)


def _usable(task: Task, found: Lookup) -> Lookup:
    """``found``, unless the artifact was built from other upstream content than this run's inputs.

    An upstream artifact rebuilt after damage, or with several threads, can hold other bytes under
    the same key; what was built from its old content is then rebuilt too, so every manifest names
    upstream artifacts that agree with the cache.
    """
    if found.artifact is None:
        return found
    recorded = found.artifact.manifest["inputs"]
    for name, value in task.inputs.items():
        if isinstance(value, Artifact):
            entry = recorded.get(name)
            digest = entry.get("digest") if isinstance(entry, dict) else None
            if digest != value.digest:
                return Lookup(problem=f"built from another {value.stage} [{short_key(value.key)}] than the one "
                                      "now cached", stale=True)
    return found


def _build(task: Task, key: str, cache: ArtifactCache, runtime: Runtime, log: Callable[[str], None],
           start: float, damage: str | None) -> StageRun:
    stage = task.stage
    tmp: Path | None = None
    free_before = free_space(cache.artifacts_dir)  # what a build that fills the disk needed more than
    partial = PartialBuild(cache.partial_folder(stage.name, key), stage.name, key, stage.version,
                           every_seconds=runtime.checkpoint_minutes * 60)
    try:
        tmp = cache.temp_folder(stage.name, key)
        ctx = BuildContext(out_dir=tmp, runtime=runtime, log=log, partial=partial)
        seed_global_rngs(key)
        metadata_out = stage.build(task.params, task.inputs, ctx) or {}
        seconds = time.perf_counter() - start
        reason = task.nondeterminism(runtime)
        upstream = [v for v in task.inputs.values() if isinstance(v, Artifact)]
        inherited = [f"{a.stage}:{a.key}" for a in upstream if not a.manifest.get("deterministic", False)]
        manifest = {"version": stage.version, "params": param_values(task.params),
                    "inputs": {k: describe_input(v) for k, v in task.inputs.items()},
                    "libraries": library_versions(), "runtime": dataclasses.asdict(runtime),
                    "deterministic": reason is None and not inherited,  # this artifact and all it was built from
                    "nondeterministic_because": reason,  # this build's own reason, if any
                    "nondeterministic_inputs": inherited, "created": time.time(), "seconds": round(seconds, 3),
                    "metadata": metadata_out}
        art = cache.commit(tmp, stage.name, key, manifest)
        cache.remove_partial(stage.name, key)  # committed: nothing left to resume
    except BaseException as err:
        # KeyboardInterrupt included: a half-written folder must never survive.
        code = disk_full(err)
        written = 0
        if tmp is not None:
            if code is not None:
                with contextlib.suppress(OSError):
                    written = folder_size(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
        if code is None and partial.folder.is_dir():
            log(f"  {partial.label} stopped ({type(err).__name__}); its last checkpoint is kept: the same command "
                "resumes from it")
        if code is not None:  # whichever writer hit it (ours, numpy, safetensors, matplotlib): one line
            cache.remove_partial(stage.name, key)  # "nothing was kept": its checkpoints take space too
            raise disk_full_error(code, f"the {stage.name} stage", cache.artifacts_dir / stage.name,
                                  free_before=free_before, written=written) from err
        raise
    return StageRun(art, hit=False, seconds=seconds, rebuilt=damage)
