"""Checkpoints of a training loop: a killed build resumes where it stopped and ends with the same bytes.

Training is the stage that takes long (minutes to hours on a CPU): a crash, a reboot or a ``kill -9``
should cost the minutes since the last checkpoint, not the whole build. The engine gives each build a
partial-build folder (`nlp_pipeline.engine.PartialBuild`: ``<cache>/partial/<stage>/<key>/``, written
only under the key's lock, never served as an artifact, removed when the build commits); the loops save
there at every epoch's end and every ``runtime.checkpoint_minutes``, at a batch boundary:

- the weights, the optimizer's state (Adam's moments, RMSprop's squared averages or SGD's momentum, the
  step counts, each group's learning rate: where a schedule or a decay stands), the best weights so far,
  the early-stopping counters, the history, the trace (`nlp_pipeline.training.monitor`);
- the position in the data: the epoch, how many of its batches (BPTT segments) were trained, and the
  state the data-order generator had before it drew the epoch's order (drawn again from it, the same);
- every random generator: torch's (CPU, each CUDA device), NumPy's and Python's global ones and those the
  loop owns (the data order's, the tagger's word dropout), so dropout masks and the data order go on
  exactly as they would have: on the CPU with one thread a resumed build ends byte-identical.

Format: ``checkpoint.json`` (what the checkpoint belongs to, where it stands, the loop's plain values)
names one ``tensors-<id>.safetensors`` with its size and sha256. Nothing is pickled: an optimizer's
state_dict is split into its tensors and JSON here (`optimizer_state`). A save writes the tensors to a
new file (temporary name, fsync, rename), then replaces the JSON the same way, then removes the old
tensors: a kill at any moment leaves the previous checkpoint or the new one, whole. A checkpoint of
another stage, key, code version, loop or format, or whose files do not match, is ignored with one line
and removed.

In a run of several processes (`nlp_pipeline.training.distributed`), every process saves and loads at the
same steps, but only rank 0 reads and writes files: a save gathers what each process holds of its own
(`PER_PROCESS`: its generators, its streams' hidden state, its part of the epoch's loss) into rank 0's
checkpoint, and a load gives every process rank 0's checkpoint with its own parts in place. A checkpoint
resumes only with the number of processes that wrote it (their generators are one per process).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.engine.cache import AtomicWriter, disk_full
from nlp_pipeline.engine.fingerprint import sha256_file
from nlp_pipeline.errors import PipelineError
from nlp_pipeline.training.distributed import current

FORMAT = 1  # bump when what a checkpoint holds or how it is laid out changes: older ones are then ignored
CHECKPOINT_FILE = "checkpoint.json"
TENSORS_PREFIX = "tensors-"
TENSORS_SUFFIX = ".safetensors"

Generators = Mapping[str, torch.Generator | np.random.Generator]
# What each process of a distributed run holds of its own: tensors by name prefix, and the state's "rng" values.
PER_PROCESS = ("rng.", "hidden.", "loss_sum")
PROCESS_PREFIX = "process."  # rank r's own tensors in rank 0's checkpoint: process.<r>.<name>


def about(seconds: float) -> str:
    """A duration as a person reads it: ``"45 s"``, ``"12 min"``, ``"2 h 5 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def position_text(position: Mapping[str, Any]) -> str:
    """Where a checkpoint stands, as the resume line and ``cache ls`` say it: ``epoch 2, batch 140 of 512``."""
    if position.get("finished"):
        return "the end of its training"
    return f"epoch {position.get('epoch')}, batch {position.get('batch')} of {position.get('batches')}"


@dataclass
class Checkpoint:
    """A checkpoint as read back: its tensors (on the CPU), the loop's plain values, where it stands."""

    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]
    position: dict[str, Any]
    written: float  # seconds since the epoch

    def take(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors saved under ``prefix`` (``model.``), by their names without it."""
        return {name[len(prefix):]: t for name, t in self.tensors.items() if name.startswith(prefix)}


class Checkpoints:
    """One training loop's checkpoints in its partial-build folder: `load` at the start, `save` when `due`
    and at epoch ends. ``loop`` names the loop (``fit_epochs``, ``language_model``): a checkpoint is
    resumed only by the loop that wrote it."""

    def __init__(self, partial: PartialBuild, loop: str, log: Callable[[str], None]) -> None:
        self.partial, self.loop, self.log = partial, loop, log
        self.folder = partial.folder
        self.last = time.monotonic()
        self.warned = False
        self.group = current()
        self.processes = self.group.world_size if self.group is not None else 1

    @classmethod
    def open(cls, partial: PartialBuild | None, loop: str, log: Callable[[str], None]) -> Checkpoints | None:
        """The checkpoints of ``partial``; None when the build keeps none (a loop called outside a stage)."""
        return None if partial is None else cls(partial, loop, log)

    @property
    def keeps_finished(self) -> bool:
        """A build that trains several models in turn (finetune_lm's two) keeps each one's end state until
        the build commits, so a kill while the second trains does not train the first again."""
        return self.partial.part is not None

    def identity(self) -> dict[str, Any]:
        p = self.partial
        return {"format": FORMAT, "stage": p.stage, "key": p.key, "version": p.version, "part": p.part,
                "loop": self.loop, **({"processes": self.processes} if self.processes > 1 else {})}

    def due(self) -> bool:
        """Whether ``runtime.checkpoint_minutes`` have passed since the last save (or the start); in a group,
        rank 0's clock decides for all (every process saves at the same step)."""
        every = self.partial.every_seconds
        due = every > 0 and time.monotonic() - self.last >= every
        return due if self.group is None else bool(self.group.broadcast_values([float(due)])[0])

    # -- saving --------------------------------------------------------------------------------------

    def save(self, tensors: Mapping[str, torch.Tensor], state: Mapping[str, Any], position: Mapping[str, Any]) -> None:
        """Write a checkpoint atomically (see the module docstring). A full disk is raised (the engine makes
        it one line and removes the build); any other failed write is one line, once, and training goes on.
        In a group, every process calls it; rank 0 writes, with the others' own parts."""
        if self.group is not None:
            tensors, state = self._gathered(tensors, state)
            if not self.group.is_main:
                self.last = time.monotonic()
                return
        try:
            self._write(tensors, state, position)
        except OSError as err:
            if disk_full(err) is not None:
                raise
            if not self.warned:
                self.warned = True
                self.log(f"  could not save a checkpoint of {self.partial.label} ({err}); training goes on")
        self.last = time.monotonic()

    def _write(self, tensors: Mapping[str, torch.Tensor], state: Mapping[str, Any],
               position: Mapping[str, Any]) -> None:
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{TENSORS_PREFIX}{secrets.token_hex(6)}{TENSORS_SUFFIX}"
        tmp = self.folder / f".{name}.tmp-{os.getpid()}"
        try:
            save_file(storable(tensors), tmp)  # written from the tensors' memory: no second copy of a large model
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            size, digest = tmp.stat().st_size, sha256_file(tmp)
            os.replace(tmp, self.folder / name)
        finally:
            tmp.unlink(missing_ok=True)
        record = {**self.identity(), "written": time.time(), "position": dict(position),
                  "progress": position_text(position), "tensors": {"file": name, "size": size, "sha256": digest},
                  "state": state}
        with AtomicWriter(self.folder / CHECKPOINT_FILE) as fh:
            fh.write(json.dumps(record))
        self._remove_stray(keep=name)

    def _remove_stray(self, keep: str | None) -> None:
        """Tensor files no checkpoint names (the previous one's, a write a kill cut short)."""
        for path in self.folder.glob(f"*{TENSORS_PREFIX}*"):
            if path.is_file() and path.name != keep:
                path.unlink(missing_ok=True)
        for path in self.folder.glob(f".{CHECKPOINT_FILE}.tmp-*"):
            path.unlink(missing_ok=True)

    def _gathered(self, tensors: Mapping[str, torch.Tensor],
                  state: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Rank 0's checkpoint with every other process's own parts (`PER_PROCESS`) beside its own."""
        from safetensors.torch import load, save

        assert self.group is not None
        own = {name: t for name, t in tensors.items() if name.startswith(PER_PROCESS)}
        blobs = self.group.gather_bytes(save(storable(own)))
        values = self.group.gather_bytes(json.dumps(state.get("rng")).encode())
        if blobs is None or values is None:
            return dict(tensors), dict(state)
        tensors, state = dict(tensors), dict(state)
        for rank in range(1, self.processes):
            tensors.update(prefixed(f"{PROCESS_PREFIX}{rank}.", load(blobs[rank])))
        state["process_rng"] = {str(rank): json.loads(values[rank]) for rank in range(1, self.processes)}
        return tensors, state

    # -- loading -------------------------------------------------------------------------------------

    def load(self) -> Checkpoint | None:
        """The checkpoint to resume from, said in one line; None when there is none, or when it is not this
        build's or not whole (said in one line, and removed). In a group, rank 0 reads it and every process
        receives it, with its own parts in place."""
        if self.group is None:
            return self._load()
        return self._shared(self._load() if self.group.is_main else None)

    def _shared(self, found: Checkpoint | None) -> Checkpoint | None:
        from safetensors.torch import load, save

        assert self.group is not None
        group = self.group
        head = group.broadcast_json(None if found is None else {
            "state": found.state, "position": found.position, "written": found.written})
        if head is None:
            return None
        data = group.broadcast_bytes(save(storable(found.tensors)) if found is not None else None)
        tensors = found.tensors if found is not None else load(data)
        state = dict(head["state"])
        if group.rank > 0:
            tensors = {name: t for name, t in tensors.items() if not name.startswith(PER_PROCESS)}
            tensors.update(Checkpoint(tensors, {}, {}, 0.0).take(f"{PROCESS_PREFIX}{group.rank}."))
            state["rng"] = state["process_rng"][str(group.rank)]
        tensors = {name: t for name, t in tensors.items() if not name.startswith(PROCESS_PREFIX)}
        return Checkpoint(tensors, state, head["position"], float(head["written"]))

    def _load(self) -> Checkpoint | None:
        path = self.folder / CHECKPOINT_FILE
        if not path.is_file():
            if self.folder.is_dir():
                self._remove_stray(keep=None)  # a first save a kill cut short
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            found, problem = self._read(record)
        except Exception as err:  # noqa: BLE001 - whatever is wrong with it (safetensors has its own error type)
            found, problem = None, f"unreadable ({type(err).__name__}: {err})"
        if found is None:
            self.reject(problem or "unreadable")
            return None
        self.log(f"  resuming {self.partial.label} from {position_text(found.position)} (checkpoint "
                 f"{about(time.time() - found.written)} old)")
        self.last = time.monotonic()
        return found

    def _read(self, record: Any) -> tuple[Checkpoint | None, str | None]:
        if not isinstance(record, dict):
            return None, f"{CHECKPOINT_FILE} is not a JSON object"
        for field, want in self.identity().items():
            if record.get(field) != want:
                return None, f"it was written for {field} {record.get(field)!r}, not {want!r}"
        if record.get("processes", 1) != self.processes:
            return None, f"it was written by {record.get('processes', 1)} processes, not {self.processes}"
        entry = record["tensors"]
        tensors_path = self.folder / Path(entry["file"]).name
        if not tensors_path.is_file():
            return None, f"{entry['file']} is missing"
        if tensors_path.stat().st_size != entry["size"] or sha256_file(tensors_path) != entry["sha256"]:
            return None, f"{entry['file']} differs from what was written"
        from safetensors.torch import load_file

        tensors = load_file(tensors_path)
        return Checkpoint(tensors, record["state"], record["position"], float(record["written"])), None

    def reject(self, problem: str) -> None:
        """Say in one line why a checkpoint is not resumed from, and remove it."""
        self.log(f"  ignoring the checkpoint of {self.partial.label}: {problem}; removed")
        self.discard()

    def discard(self) -> None:
        if self.group is None or self.group.is_main:
            shutil.rmtree(self.folder, ignore_errors=True)

    def restore_failed(self, err: Exception) -> PipelineError:
        """A checkpoint that passed every check but does not fit the model or optimizer: removed, and the
        build fails with one line (the next run trains from the start)."""
        self.discard()
        return PipelineError(f"the checkpoint of {self.partial.label} does not fit what is being trained "
                             f"({type(err).__name__}: {err}); it was removed: run the command again to train from "
                             "the start")


def storable(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``tensors`` as safetensors writes them: on the CPU, contiguous, no two sharing memory (tied weights,
    a copy kept of the same weights). Only those that are not are copied."""
    out, seen = {}, set()
    for name, t in tensors.items():
        t = t.detach()
        if t.device.type != "cpu" or not t.is_contiguous():
            t = t.to("cpu").contiguous()
        if t.numel():
            storage = t.untyped_storage().data_ptr()
            if storage in seen:
                t = t.clone()
                storage = t.untyped_storage().data_ptr()
            seen.add(storage)
        out[name] = t
    return out


def describe(folder: Path) -> dict[str, Any] | None:
    """What ``cache ls`` shows of a partial build: its newest checkpoint's progress, part, when it was
    written; None when it holds none (yet)."""
    newest = None
    for path in sorted(folder.glob(f"**/{CHECKPOINT_FILE}")):
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(record, dict) and isinstance(record.get("written"), int | float) and (
                    newest is None or record["written"] > newest["written"]):
                newest = record
    if newest is None:
        return None
    position = newest.get("position") if isinstance(newest.get("position"), dict) else {}
    return {"part": newest.get("part"), "position": position, "progress": position_text(position),
            "written": newest["written"], "version": newest.get("version"), "format": newest.get("format")}


# -- what goes into a checkpoint --------------------------------------------------------------------


def prefixed(prefix: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{name}": t for name, t in tensors.items()}


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's ``state_dict`` as tensors (``optimizer.<param>.<name>``, ``optimizer.group.<i>.<name>``)
    and JSON (the rest: every group's settings and learning rate, plain per-parameter values), whatever the
    optimizer: Adam's ``exp_avg``, RMSprop's ``square_avg``, SGD's ``momentum_buffer`` are each a tensor."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        plain[str(index)] = {}
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                plain[str(index)][name] = value
    groups = []
    for i, group in enumerate(sd["param_groups"]):
        kept = {}
        for name, value in group.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.group.{i}.{name}"] = value
            else:
                kept[name] = list(value) if isinstance(value, tuple) else value
        groups.append(kept)
    return tensors, {"state": plain, "param_groups": groups}


def load_optimizer_state(optimizer: torch.optim.Optimizer, checkpoint: Checkpoint, values: Mapping[str, Any]) -> None:
    """Put `optimizer_state`'s parts back together and load them (tuples, such as Adam's betas, are tuples
    again: JSON has lists only)."""
    state: dict[int, dict[str, Any]] = {int(i): dict(entry) for i, entry in values["state"].items()}
    groups = [dict(g) for g in values["param_groups"]]
    for name, t in checkpoint.take("optimizer.").items():
        head, _, rest = name.partition(".")
        if head == "group":
            i, _, field = rest.partition(".")
            groups[int(i)][field] = t
        else:
            state.setdefault(int(head), {})[rest] = t
    current = optimizer.state_dict()["param_groups"]
    for group, now in zip(groups, current, strict=True):
        for name, value in now.items():
            if isinstance(value, tuple) and isinstance(group.get(name), list):
                group[name] = tuple(group[name])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_state(generators: Generators) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every random generator's state: torch's CPU and CUDA ones (``rng.torch``, ``rng.cuda.<i>``) and
    ``generators``' torch ones as tensors; NumPy's and Python's global ones and ``generators``' NumPy ones
    as JSON (their states are integers)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    values: dict[str, Any] = {"numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
                              "python": [version, list(internal), gauss_next], "generators": {}}
    for name, g in generators.items():
        if isinstance(g, torch.Generator):
            tensors[f"rng.gen.{name}"] = g.get_state()
        else:
            values["generators"][name] = g.bit_generator.state
    return tensors, values


def set_rng_state(checkpoint: Checkpoint, values: Mapping[str, Any], generators: Generators) -> None:
    """Restore what `rng_state` saved; CUDA generators only where this process has CUDA."""
    tensors = checkpoint.take("rng.")
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[f"cuda.{i}"] for i in range(len(tensors)) if f"cuda.{i}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])
    kind, keys, pos, has_gauss, gauss = values["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = values["python"]
    random.setstate((version, tuple(internal), gauss_next))
    for name, g in generators.items():
        if isinstance(g, torch.Generator):
            g.set_state(tensors[f"gen.{name}"])
        else:
            g.bit_generator.state = values["generators"][name]
