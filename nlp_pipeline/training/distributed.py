"""Training on several processes (torch.distributed): one global batch, split across them.

A run is *launched* when its environment holds the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); ``nlp-pipeline run --nproc N`` starts N local processes
with the same variables (`launch`). Each process joins one process group (`processes`: gloo on the CPU,
NCCL on CUDA with one GPU per process, and a gloo group beside NCCL for the small messages the run
exchanges on the CPU).

What stays the same as one process, and how:

- **The global batch.** ``batch_size`` is the batch of one optimizer step, whatever the number of
  processes: every process draws the same batch order (the same seeded generator) and takes its own
  slice of each batch (`Replicas.batch`: every N-th example from its rank on, so slices differ in length by
  one at most and in cost little). Each slice's mean loss is weighted by its share of the batch's units
  (documents, tokens) before DistributedDataParallel averages the gradients, so the step is the gradient
  of the whole batch's mean: the same optimisation, up to the order floating-point sums are taken in.
  A language model's ``batch_size`` parallel streams are split into N blocks of rows (`Replicas.rows`).
- **Everything decided from a score** (the best epoch, early stopping, a learning-rate decay, the
  weights kept by held-out perplexity): rank 0 scores, the others receive its numbers (`Replicas.from_main`),
  so every process takes the same decisions and holds the same weights at every step.
- **Checkpoints** (`nlp_pipeline.training.checkpoint`): rank 0 writes them, with each process's own
  generators and streams; every process restores from what rank 0 read.

Dropout draws its masks from each process's own generator, on its own slice: with dropout on, N processes
train with other masks than one process does (as different, and as good, as another seed's); with every
dropout at 0 the losses of N processes and of one are equal to about 1e-6 (measured: docs/distributed.md).

In a pipeline (`run_together`), only rank 0 builds a stage and commits its artifact; the others wait
for it and read it, or receive a copy of its files over the process group when their cache does not
hold it (a cache per machine). A training stage is built by every process together, rank 0 committing.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nlp_pipeline.engine import Artifact, ArtifactCache, PartialBuild, Runtime, StageRun, Task, run_stage, short_key
from nlp_pipeline.engine.stage import BuildContext, seed_global_rngs
from nlp_pipeline.errors import ConfigError, PipelineError

logger = logging.getLogger(__name__)

# How long a process waits for another at a meeting point before giving up: rank 0 may build a stage the
# others then read (tokenizing, word2vec) for hours. A process that dies is noticed sooner: the launcher
# (torchrun, or `launch`) stops the others.
WAIT = timedelta(hours=24)
CHUNK = 64 * 2**20  # bytes of an artifact's file sent in one broadcast


# -- where this process stands -----------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """What the launcher's environment says about this process."""

    rank: int  # 0 … world_size - 1, over every machine
    world_size: int  # processes in the run
    local_rank: int  # on this machine (its GPU, with CUDA)
    local_world_size: int  # processes on this machine


def launched() -> Launch | None:
    """This process's place in a launched run (``torchrun`` or ``run --nproc``), or None when it was not launched."""
    env = os.environ
    if "RANK" not in env and "WORLD_SIZE" not in env:
        return None
    try:
        rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
        local_rank = int(env.get("LOCAL_RANK", rank))
        local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    except (KeyError, ValueError):
        raise ConfigError("RANK and WORLD_SIZE must both be set to integers (torchrun sets them, as does "
                          "`nlp-pipeline run --nproc N`)") from None
    if not 0 <= rank < world or not 0 <= local_rank < local_world:
        raise ConfigError(f"RANK {rank} of WORLD_SIZE {world} (LOCAL_RANK {local_rank} of {local_world}) is not a "
                          "place in the run")
    return Launch(rank, world, local_rank, local_world)


class Group:
    """The processes of a launched run, and the few messages they exchange besides DDP's gradients.

    Every message goes through a gloo group on the CPU (the default group on the CPU; a second group beside
    NCCL on CUDA), so they never wait on a GPU. Nothing is pickled: values travel as JSON, tensors as
    safetensors bytes.
    """

    def __init__(self, launch: Launch, backend: str, cpu: Any) -> None:
        self.rank, self.world_size = launch.rank, launch.world_size
        self.local_rank, self.local_world_size = launch.local_rank, launch.local_world_size
        self.backend = backend  # what DDP uses: gloo or nccl
        self.cpu = cpu  # the gloo group of the messages

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier(group=self.cpu)

    def broadcast_values(self, values: Sequence[float]) -> list[float]:
        """Rank 0's ``values`` (every process passes as many)."""
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64)
        dist.broadcast(t, src=0, group=self.cpu)
        return t.tolist()

    def sum(self, values: Sequence[float]) -> list[float]:
        """Each of ``values`` summed over the processes (float64)."""
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64)
        dist.all_reduce(t, group=self.cpu)
        return t.tolist()

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """Rank 0's ``data`` (the others pass None)."""
        import torch.distributed as dist

        size = torch.tensor([len(data) if self.is_main and data is not None else 0], dtype=torch.int64)
        dist.broadcast(size, src=0, group=self.cpu)
        n = int(size)
        if n == 0:
            return b""
        if self.is_main:
            buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        else:
            buf = torch.empty(n, dtype=torch.uint8)
        dist.broadcast(buf, src=0, group=self.cpu)
        return data if self.is_main else buf.numpy().tobytes()

    def broadcast_json(self, value: Any = None) -> Any:
        """Rank 0's ``value`` (plain JSON data)."""
        data = json.dumps(value).encode() if self.is_main else None
        return json.loads(self.broadcast_bytes(data).decode())

    def gather_bytes(self, data: bytes) -> list[bytes] | None:
        """Every process's ``data``, by rank, on rank 0 (None elsewhere)."""
        import torch.distributed as dist

        sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(self.world_size)]
        dist.all_gather(sizes, torch.tensor([len(data)], dtype=torch.int64), group=self.cpu)
        longest = max(1, max(int(s) for s in sizes))
        mine = torch.zeros(longest, dtype=torch.uint8)
        if data:
            mine[:len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        parts = [torch.empty(longest, dtype=torch.uint8) for _ in range(self.world_size)] if self.is_main else None
        dist.gather(mine, parts, dst=0, group=self.cpu)
        if parts is None:
            return None
        return [p[:int(s)].numpy().tobytes() for p, s in zip(parts, sizes, strict=True)]

    def from_main(self, compute: Callable[[], Any]) -> Any:
        """``compute()`` run by rank 0 alone, its result (plain JSON data) given to every process."""
        return self.broadcast_json(compute() if self.is_main else None)


_group: Group | None = None


def current() -> Group | None:
    """The process group this process trains in (`processes`), or None: one process alone."""
    return _group


@contextlib.contextmanager
def processes(device: str | torch.device = "cpu") -> Iterator[Group | None]:
    """Join the launched run's process group for the ``with`` block (None when this process was not
    launched): NCCL when ``device`` is CUDA (this process's GPU is ``cuda:LOCAL_RANK``), else gloo. A group
    already joined (a nested call) is used as it is; one this call joined is left at its end."""
    global _group
    launch = launched()
    if launch is None or _group is not None:
        yield _group
        return
    import torch.distributed as dist

    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise ConfigError(f"RANK and WORLD_SIZE are set but {name} is not: start the run with torchrun, or "
                              "with `nlp-pipeline run --nproc N` on one machine")
    cuda = torch.device(device).type == "cuda"
    backend = "nccl" if cuda else "gloo"
    joined = not dist.is_initialized()
    if joined:
        if cuda:
            torch.cuda.set_device(launch.local_rank)
        dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size,
                                timeout=None if cuda else WAIT)
    backend = dist.get_backend()
    cpu = dist.new_group(backend="gloo", timeout=WAIT) if backend != "gloo" else dist.group.WORLD
    _group = Group(launch, backend, cpu)
    try:
        yield _group
    finally:
        _group = None
        if joined:
            gc.collect()  # a DDP wrapper left in a reference cycle must go while its process group is there
            dist.destroy_process_group()


# -- one model, several processes ---------------------------------------------------------------------


class _Step(nn.Module):
    """A model and one training step's computation as one module, so that DDP's forward covers the loss
    (a tagger's CRF, a language model's adaptive softmax take part in the loss, not in the model's forward)."""

    def __init__(self, model: nn.Module, step: Callable[..., Any]) -> None:
        super().__init__()
        self.model = model
        self.step = step

    def forward(self, *args: Any) -> Any:
        return self.step(*args)


class Replicas:
    """A training loop's steps, run by this process alone or with the others of its `Group`.

    ``step(*args)`` computes a step's loss with ``model`` (already on ``device``). Alone, every method is
    the plain computation; in a group, `__call__` runs the step through DistributedDataParallel (gradients
    averaged across processes in the backward pass), rebuilt whenever the set of trainable parameters
    changes (gradual unfreezing). ``find_unused``: some parameters may take no part in a step's loss (an
    adaptive softmax's rare-word clusters).
    """

    def __init__(self, model: nn.Module, step: Callable[..., Any], device: torch.device, *,
                 find_unused: bool = False) -> None:
        self.model, self.step, self.device, self.find_unused = model, step, device, find_unused
        self.group = current()
        self.world = self.group.world_size if self.group is not None else 1
        self.rank = self.group.rank if self.group is not None else 0
        self._ddp: nn.Module | None = None
        self._trainable: tuple[int, ...] = ()

    def __call__(self, *args: Any) -> Any:
        if self.group is None:
            return self.step(*args)
        trainable = tuple(id(p) for p in self.model.parameters() if p.requires_grad)
        if self._ddp is None or trainable != self._trainable:
            from torch.nn.parallel import DistributedDataParallel

            self._ddp = None  # the old wrapper's gradient hooks go with it
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(_Step(self.model, self.step), device_ids=ids,
                                                find_unused_parameters=self.find_unused)
            self._trainable = trainable
        return self._ddp(*args)

    def batch(self, batch: Sequence[int]) -> tuple[torch.Tensor, float]:
        """One step of ``step(batch) -> (mean loss, units it averages over)`` on this process's slice of the
        global ``batch``; returns ``(loss to call backward on, units)``: ``loss × units`` is this process's
        part of the batch's summed loss, and the gradients averaged over the processes are those of the
        whole batch's mean loss. A process whose slice is empty (a batch smaller than the group) steps on
        one example weighted 0: every process must take part in every step."""
        if self.group is None:
            return self.step(batch)
        mine = batch[self.rank::self.world]
        loss, units = self(mine if len(mine) else batch[:1])
        units = units if len(mine) else 0
        total = self.group.sum([units])[0]
        return loss * (units * self.world / total), total / self.world

    def rows(self, data: torch.Tensor) -> torch.Tensor:
        """This process's block of a language model's ``[batch_size, L]`` streams (rows split evenly)."""
        if self.group is None:
            return data
        if data.size(0) % self.world:
            raise ConfigError(f"a batch of {data.size(0)} streams does not split into {self.world} processes: set "
                              f"the batch size to a multiple of {self.world}")
        n = data.size(0) // self.world
        return data[self.rank * n:(self.rank + 1) * n]

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """A per-process sum (of losses) summed over the processes."""
        if self.group is None:
            return value
        return torch.tensor(self.group.sum([float(value)])[0], dtype=value.dtype, device=value.device)

    def mean(self, value: float) -> float:
        """A value averaged over the processes (the mean losses of equal slices)."""
        return value if self.group is None else self.group.sum([value])[0] / self.world

    def from_main(self, compute: Callable[[], Any]) -> Any:
        """``compute()`` (a score: plain data) on rank 0, given to every process so all decide alike."""
        if self.group is None:
            return compute()
        value = self.group.from_main(compute)
        return tuple(value) if isinstance(value, list) else value


# -- the stages of a pipeline ------------------------------------------------------------------------


def run_together(group: Group, trains: Callable[[Any], bool]) -> Callable[..., StageRun]:
    """`run_stage` for a pipeline run by every process of ``group``: rank 0 looks up or builds each stage;
    a stage that ``trains`` (its `Stage`) is built by all of them, rank 0 alone committing its artifact;
    every process ends with rank 0's artifact in its cache (read there, or copied to it)."""

    def run(task: Task, cache: ArtifactCache, runtime: Runtime, *, force: bool = False,
            log: Callable[[str], None] = logger.info) -> StageRun:
        if group.is_main:
            return _lead(group, trains(task.stage), task, cache, runtime, force, log)
        return _follow(group, task, cache, runtime)

    return run


def _lead(group: Group, together: bool, task: Task, cache: ArtifactCache, runtime: Runtime, force: bool,
          log: Callable[[str], None]) -> StageRun:
    def building(key: str) -> None:
        group.broadcast_json({"do": "build", "stage": task.stage.name, "key": key})

    result = run_stage(task, cache, runtime, force=force, log=log, on_build=building if together else None)
    art = result.artifact
    group.broadcast_json({"do": "read", "stage": art.stage, "key": art.key, "digest": art.digest})
    _share(group, cache, art)
    return result


def _follow(group: Group, task: Task, cache: ArtifactCache, runtime: Runtime) -> StageRun:
    start = time.perf_counter()
    stage = task.stage
    key = task.key(cache, runtime)
    order = group.broadcast_json()
    if order["do"] == "build":
        _agree(group, stage.name, key, order)
        _build_alongside(task, key, cache, runtime)
        order = group.broadcast_json()
    _agree(group, stage.name, key, order)
    art = _share(group, cache, None, order)
    return StageRun(art, hit=True, seconds=time.perf_counter() - start)


def _agree(group: Group, stage: str, key: str, order: dict) -> None:
    if (order["stage"], order["key"]) != (stage, key):
        raise PipelineError(f"rank {group.rank} is at {stage} [{short_key(key)}] but rank 0 at {order['stage']} "
                            f"[{short_key(order['key'])}]: every process must run the same command with the same "
                            "files (and data folders that hold the same corpora)")


def _build_alongside(task: Task, key: str, cache: ArtifactCache, runtime: Runtime) -> None:
    """Run the stage's build with rank 0 (its training steps meet rank 0's), into a folder thrown away after:
    rank 0's build is the one committed. Checkpoints come from rank 0 (``ctx.partial`` is only read through it)."""
    stage = task.stage
    partial = PartialBuild(cache.partial_folder(stage.name, key), stage.name, key, stage.version,
                           every_seconds=runtime.checkpoint_minutes * 60)
    tmp = cache.temp_folder(stage.name, key)
    try:
        seed_global_rngs(key)
        stage.build(task.params, task.inputs, BuildContext(out_dir=tmp, runtime=runtime, log=_quiet, partial=partial))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _quiet(message: str) -> None:
    logger.debug(message)


def _share(group: Group, cache: ArtifactCache, art: Artifact | None, order: dict | None = None) -> Artifact:
    """Rank 0's artifact in every process's cache: a process whose cache does not hold it with the same
    digest (a cache per machine) receives its files over the group and commits them under the key's lock."""
    if group.is_main:
        assert art is not None
        if group.sum([0.0])[0]:
            _send(group, art)
        return art
    assert order is not None
    stage, key = order["stage"], order["key"]
    found = cache.lookup(stage, key).artifact
    have = found is not None and found.digest == order["digest"]
    if not group.sum([0.0 if have else 1.0])[0]:
        assert found is not None
        return found
    if have:
        assert found is not None
        _receive(group, None)  # another process's copy: every process takes part in every broadcast
        return found
    tmp = cache.temp_folder(stage, key)
    try:
        manifest = _receive(group, tmp)
        with cache.lock(stage, key):
            found = cache.lookup(stage, key).artifact
            if found is None or found.digest != order["digest"]:  # else a process of this machine committed it
                fields = {k: v for k, v in manifest.items() if k not in ("files", "digest")}
                found = cache.commit(tmp, stage, key, fields)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if found.digest != order["digest"]:
        raise PipelineError(f"the copy of {stage} [{short_key(key)}] received from rank 0 differs from it")
    return found


def _send(group: Group, art: Artifact) -> None:
    group.broadcast_json(art.manifest)
    for rel in sorted(art.manifest["files"]):
        with open(art.path / rel, "rb") as fh:
            while chunk := fh.read(CHUNK):
                group.broadcast_bytes(chunk)


def _receive(group: Group, folder: Path | None) -> dict:
    """The files `_send` sends, written into ``folder`` (None: received and dropped); returns the manifest."""
    manifest = group.broadcast_json()
    for rel, entry in sorted(manifest["files"].items()):
        out = None
        if folder is not None:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            out = open(folder / rel, "wb")  # noqa: SIM115 - closed below, after its chunks
        try:
            left = entry["size"]
            while left > 0:
                chunk = group.broadcast_bytes(None)
                left -= len(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
    return manifest


# -- starting the processes ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on this machine now, for rank 0's rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command: Sequence[str], nproc: int, env: dict[str, str] | None = None,
           followers: Callable[[int, bytes], None] | None = None) -> int:
    """Run ``command`` as ``nproc`` processes of one run on this machine, with the variables torchrun sets
    (rendezvous on 127.0.0.1); returns the run's exit code: 0 when every process exited 0, else that of the
    first to fail. When one process fails the others are stopped (they would wait for it until `WAIT`);
    an interrupt reaches them all, as it does a terminal's foreground group.

    Rank 0 writes to this process's stdout and stderr. With ``followers``, the other ranks' stderr is
    collected and handed to it at the end, ``(rank, bytes)``: every rank's when the run succeeded, only
    the first failure's when it failed (the others then only say that a peer went away)."""
    port = free_port()
    base = {**os.environ, **(env or {})}
    procs, outputs, readers = [], {}, []
    for rank in range(nproc):
        variables = {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
                     "LOCAL_WORLD_SIZE": str(nproc), "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                     "MASTER_PORT": str(port)}
        collect = followers is not None and rank > 0
        proc = subprocess.Popen(list(command), env={**base, **variables}, stderr=subprocess.PIPE if collect else None)
        procs.append(proc)
        if collect:
            outputs[rank] = bytearray()
            reader = threading.Thread(target=_collect, args=(proc.stderr, outputs[rank]), daemon=True)
            reader.start()
            readers.append(reader)
    codes: dict[int, int] = {}
    failed: list[int] = []  # ranks in the order their failure was seen
    try:
        while len(codes) < nproc:
            for rank, proc in enumerate(procs):
                if rank not in codes and (code := proc.poll()) is not None:
                    codes[rank] = code
                    if code != 0:
                        failed.append(rank)
                        _stop(procs, codes)
            time.sleep(0.05)
    except BaseException:
        _stop(procs, codes)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=10)
    if followers is not None:
        for rank, data in sorted(outputs.items()):
            if data and (not failed or rank == failed[0]):
                followers(rank, bytes(data))
    return codes[failed[0]] if failed else 0


def _collect(stream: Any, into: bytearray) -> None:
    """Read a process's stderr to its end (a full pipe would block the process)."""
    while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
        into += chunk


def _stop(procs: list[subprocess.Popen], codes: dict[int, int]) -> None:
    """Stop every process still running (SIGTERM, then SIGKILL after 10 s) and record their codes."""
    for rank, proc in enumerate(procs):
        if rank not in codes and proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for rank, proc in enumerate(procs):
        if rank in codes:
            continue
        try:
            codes[rank] = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[rank] = proc.wait()
