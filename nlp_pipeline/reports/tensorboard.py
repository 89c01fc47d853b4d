"""TensorBoard event files of a report's training stages, one run per variant (``report.tensorboard``),
written as training runs.

The runner claims the report folder before the first stage runs and hands each variant's
``<report>/<variant>/tensorboard/`` to its stages through the runtime (`nlp_pipeline.engine.Runtime.events`:
in no key, so a build trains the same bytes with or without it). A training stage writes its run there
as it trains (`LiveEvents`: every record of its `nlp_pipeline.training.monitor.Monitor` and every dev
evaluation, flushed at once), a fine-tuned language model's below it (``.../tensorboard/finetune_lm-<direction>/``),
so ``tensorboard --logdir reports/<pipeline>`` shows the curves grow and lays the variants side by side.
Only rank 0 of a launched run writes (the others' runtimes name no folder).

No point is written twice (TensorBoard merges every event file of a run's folder, so a second copy
would double every point):

- a live run writes, first, the whole trace it starts from: a build resumed from a checkpoint writes the
  restored trace (the steps trained before the kill), then goes on. Every run is written as a new event
  file whose first event (``purge_step`` 0) tells TensorBoard to drop the points of any earlier file in
  the same folder (`_open_writer`), so a folder written again shows each point once;
- it leaves a marker (`LIVE_MARKER`) naming its stage and artifact key, marked complete once the trained
  model's gradient flow is written, at the stage's end; the report (`write_events`'s caller) leaves a
  folder whose marker is complete for the very artifact the variant used, and otherwise writes the run
  again, from the trace recorded in the artifact (``trace.json``) and its metadata's gradient flow: a
  model that came from the cache (nothing trained this time) gets its run as before.

A run killed mid-way (``kill -9``) leaves its report folder with the events written up to then (and no
``results.md``); the run that resumes writes a folder of its own, from the start of the trace.

The scalars, against the optimizer step (`row_scalars`, `evaluation_scalars`, `flow_scalars`: the one
mapping both the live writer and `write_events` use):

- ``train/loss`` (mean since the previous point), ``train/learning_rate``, ``train/tokens_per_second``,
  and for a language model ``train/perplexity``;
- ``gradients/norm`` (the global norm before clipping, mean since the previous point),
  ``gradients/clipped_fraction`` (the share of those steps that were clipped), ``gradients/layer/<name>``;
- ``dev/loss``, ``dev/accuracy``, ``dev/macro_f1`` at each epoch's end (classifier, tagger), or
  ``heldout/perplexity`` at each evaluation (language model);
- ``gradient_flow/relative_norm``: the trained model's ``‖∂loss/∂h_t‖`` over its value at the last step,
  against the steps before the last (`nlp_pipeline.training.gradient_flow`).

Needs the ``tensorboard`` package (``pip install "nlp-pipeline[tensorboard]"``); the setting's declaration
refuses ``report.tensorboard: true`` without it, before anything runs. Without the setting nothing here
is called, and TensorBoard is never imported.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

TRACE_FILE = "trace.json"  # a training stage's trace, in its artifact (and a fine-tuned language model's folder)
EVENTS_FOLDER = "tensorboard"  # in a report's variant folder
LIVE_MARKER = ".live.json"  # in a run's folder written live: {"stage", "key", "complete"}
EVALUATION_TAGS = {"dev_loss": "dev/loss", "dev_accuracy": "dev/accuracy", "dev_macro_f1": "dev/macro_f1",
                   "heldout_ppl": "heldout/perplexity"}

Scalar = tuple[str, float, int]  # (tag, value, step)


def row_scalars(row: Mapping[str, Any], perplexity: bool = False) -> Iterator[Scalar]:
    """The scalars of one trace row (`nlp_pipeline.training.monitor.Monitor`'s record); ``perplexity``: a
    language model's (its loss is a mean negative log-likelihood)."""
    step = int(row["step"])
    yield "train/loss", row["loss"], step
    if perplexity:
        yield "train/perplexity", math.exp(min(row["loss"], 700.0)), step
    yield "train/learning_rate", row["lr"], step
    if row.get("tokens_per_second") is not None:
        yield "train/tokens_per_second", row["tokens_per_second"], step
    yield "gradients/norm", row["grad_norm"], step
    yield "gradients/clipped_fraction", row["clipped"], step
    for layer, norm in (row.get("layers") or {}).items():
        yield f"gradients/layer/{layer}", norm, step


def evaluation_scalars(row: Mapping[str, Any]) -> Iterator[Scalar]:
    """The scalars of one evaluation row of a trace (dev scores, or held-out perplexity, at its step)."""
    for key, tag in EVALUATION_TAGS.items():
        if row.get(key) is not None:
            yield tag, row[key], int(row["step"])


def flow_scalars(gradient_flow: Mapping[str, Any] | None) -> Iterator[Scalar]:
    """The gradient-flow curve relative to the last step, against the distance from it."""
    norms = (gradient_flow or {}).get("norms") or []
    if norms and norms[0] > 0:
        for distance, norm in enumerate(norms):
            yield "gradient_flow/relative_norm", norm / norms[0], distance


def scalars(trace: Mapping[str, Any], gradient_flow: Mapping[str, Any] | None = None) -> Iterator[Scalar]:
    """``(tag, value, step)`` of every scalar a trace (and a gradient-flow curve) holds."""
    for row in trace.get("rows", ()):
        yield from row_scalars(row, bool(trace.get("perplexity")))
    for row in trace.get("evaluations", ()):
        yield from evaluation_scalars(row)
    yield from flow_scalars(gradient_flow)


def stage_folder(events: str | Path, stage: str, part: str | None = None) -> Path:
    """Where a training stage's run goes in a variant's events folder: there itself, or for one model of a
    build that trains several (finetune_lm's ``forward``), in ``<stage>-<part>/`` below it."""
    return Path(events) / f"{stage}-{part}" if part else Path(events)


def live_complete(folder: str | Path, stage: str, key: str | None) -> bool:
    """Whether ``folder`` holds a whole run written live by the build of ``stage`` [``key``]: then the report
    leaves it as it is."""
    try:
        marker = json.loads((Path(folder) / LIVE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return bool(marker.get("complete")) and key is not None and (marker.get("stage"), marker.get("key")) == (stage, key)


def _open_writer(folder: Path) -> Any:
    """A writer of a new run in ``folder``, whose first event (``purge_step`` 0) tells TensorBoard to drop every
    point an earlier event file of the folder holds: a run written again never shows a point twice.

    Earlier files are left in place rather than removed: TensorBoard's reader, when it is watching a file
    that goes away, stops there and never reads the next one. Reading them, then this one (files are read in
    the order of their names, which begin with the time they were created), it keeps this one's points only:
    the legacy reader purges at this file's restart event, the data server drops, for each tag, every earlier
    point from this file's first step of the tag on (and a run written again starts at the trace's first)."""
    from torch.utils.tensorboard import SummaryWriter

    folder.mkdir(parents=True, exist_ok=True)
    (folder / LIVE_MARKER).unlink(missing_ok=True)
    return SummaryWriter(log_dir=str(folder), purge_step=0)


def _add(writer: Any, points: Iterable[Scalar]) -> None:
    for tag, value, step in points:
        writer.add_scalar(tag, float(value), step)


def write_events(folder: str | Path, trace: Mapping[str, Any], gradient_flow: Mapping[str, Any] | None = None) -> Path:
    """Write the event file of one run (a trace and its gradient flow) into ``folder``, in place of any run it
    held (one written live and cut short: `_open_writer`); returns ``folder``."""
    folder = Path(folder)
    writer = _open_writer(folder)
    try:
        _add(writer, scalars(trace, gradient_flow))
    finally:
        writer.close()
    return folder


class LiveEvents:
    """The TensorBoard run of one training stage's model, written as it trains (see the module docstring).

    ``folder`` is the run's (`stage_folder`), ``stage`` and ``key`` the build's (its marker names them, so the
    report knows the run is this artifact's). The writer opens on the first `publish`, which is handed the
    whole trace so far (a resumed build's restored trace with it); each `publish` is flushed before it
    returns. `finish` writes the gradient flow and marks the run complete; `close` (also on failure) only
    closes. Writing is best effort: a failed write (a full disk) is logged once and ends the live run, the
    training goes on, and the report writes the run from the artifact's trace instead.
    """

    def __init__(self, folder: str | Path, stage: str, key: str | None,
                 log: Callable[[str], None] | None = None) -> None:
        self.folder, self.stage, self.key = Path(folder), stage, key
        self.log = log or (lambda message: None)
        self._writer: Any = None
        self._failed = False

    def publish(self, rows: Iterable[Mapping[str, Any]], evaluations: Iterable[Mapping[str, Any]],
                perplexity: bool = False) -> None:
        """Write trace rows and evaluation rows (`row_scalars`, `evaluation_scalars`), flushed."""
        points = [p for row in rows for p in row_scalars(row, perplexity)]
        points += [p for row in evaluations for p in evaluation_scalars(row)]
        self._write(points)

    def finish(self, trace: Mapping[str, Any], gradient_flow: Mapping[str, Any] | None = None) -> None:
        """At the stage's end: the trained model's gradient flow, and the run marked complete. A build that
        recorded nothing live (resumed from a finished model's checkpoint) writes its whole ``trace`` here."""
        if self._writer is None and not self._failed:
            self._write(list(scalars(trace)))
        self._write(list(flow_scalars(gradient_flow)))
        if self._writer is None:  # the live run stopped: the report writes it
            return
        self.close()
        try:
            self._mark(complete=True)
        except OSError as err:
            self._stop(err)

    def close(self) -> None:
        """Close the writer (its events flushed); the run stays marked incomplete unless `finish` marked it."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.close()

    def _write(self, points: list[Scalar]) -> None:
        if self._failed:
            return
        try:
            if self._writer is None:
                self._writer = _open_writer(self.folder)
                self._mark(complete=False)
            _add(self._writer, points)
            self._writer.flush()
        except OSError as err:
            self._stop(err)

    def _stop(self, err: OSError) -> None:
        self._failed = True
        self.close()
        self.log(f"  TensorBoard events in {self.folder} stopped ({err}); training goes on, and the report "
                 "writes them from the trace")

    def _mark(self, complete: bool) -> None:
        tmp = self.folder / f"{LIVE_MARKER}.{os.getpid()}"
        tmp.write_text(json.dumps({"stage": self.stage, "key": self.key, "complete": complete}))
        os.replace(tmp, self.folder / LIVE_MARKER)
