"""What a training loop records as it goes: the trace behind TensorBoard, the gradient-norm plot and the
clipped-step share.

A recurrent net's gradient can explode (one step's norm a thousand times the usual) or vanish (the
first layers, or the first time steps, get almost none); clipping hides the first and does nothing for
the second. Both show in numbers a loop already has in hand after ``backward()``: the global gradient
norm (which clipping computes anyway), how often it was over the clipping threshold, and each layer's
own norm. A `Monitor` keeps them, every ``every`` steps, with the loss, the learning rate and the
tokens per second of the steps since the last record, and the dev (held-out) scores of each evaluation:

- the loops call `Monitor.clip` where they clipped before (after ``backward()``, before the optimizer's
  step), `Monitor.step` after the optimizer's step, and `Monitor.evaluated` with each dev row (the time
  between two steps is a step's, less the evaluations: tokens per second are those of training);
- `Monitor.trace` is what the training stage writes as ``trace.json`` in its artifact: the report plots
  it (``grad_norms.png``) and, with ``report.tensorboard``, writes it as TensorBoard event files
  (`nlp_pipeline.reports.tensorboard`) when no training wrote them live, so a cached model's report has
  them too;
- with ``report.tensorboard``, a `Monitor` given a ``live`` run (`nlp_pipeline.reports.tensorboard.LiveEvents`)
  hands it each record and each evaluation as it is made, and the first time the whole trace so far (a
  resumed run's restored one), so TensorBoard shows the run as it trains, each point once;
- its state goes into every checkpoint (`Monitor.state`), so a resumed run's trace is the one an
  uninterrupted run would have written (timings aside).

Recording costs one device-to-host read every ``every`` steps; each layer's norm is only computed on the
steps that are recorded. Nothing here changes what is trained: gradients are read, never written, except
by the clipping the loop asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents

TRACE_POINTS = 200  # about this many records over a run: a readable curve, a JSON of some tens of kB
EVALUATION_KEYS = ("dev_loss", "dev_accuracy", "dev_macro_f1", "heldout_ppl")  # what an evaluation row logs


def record_every(total_steps: int) -> int:
    """Steps between two records, so that a run of ``total_steps`` gives about `TRACE_POINTS` of them."""
    return max(1, math.ceil(total_steps / TRACE_POINTS))


def layer_of(parameter_name: str) -> str:
    """The layer a parameter belongs to: the module that holds it (``encoder.forward_layers.0``, ``embedding``)."""
    return parameter_name.rpartition(".")[0] or parameter_name


def significant(value: float, digits: int = 6) -> float:
    """``value`` with ``digits`` significant digits: a compact JSON that keeps a gradient of 1e-12 readable."""
    return float(f"{value:.{digits}g}")


def global_norm(grads: Iterable[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of all ``grads`` together (what `torch.nn.utils.clip_grad_norm_` returns), on their device."""
    norms = [torch.linalg.vector_norm(g) for g in grads]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


class Monitor:
    """The trace of one training loop (see the module docstring).

    ``clip_norm`` is the loop's threshold (0: no clipping; the norm is still recorded), ``every`` the
    steps between records (`record_every`), ``perplexity`` whether the loss is a language model's
    (TensorBoard then shows its perplexity too), ``live`` the TensorBoard run written as it trains (None:
    none; it only reads what is recorded, so the training is the same with or without it).
    """

    def __init__(self, model: nn.Module, clip_norm: float, every: int, perplexity: bool = False,
                 live: LiveEvents | None = None) -> None:
        self.clip_norm, self.every, self.perplexity, self.live = clip_norm, every, perplexity, live
        self._published = False  # the live run has the trace so far
        self.layers = {id(p): layer_of(name) for name, p in model.named_parameters()}
        self.steps = 0  # optimizer steps taken
        self.clipped_steps = 0  # of them, those whose norm was over clip_norm (recorded windows only)
        self.rows: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []
        self._layer_norms: dict[str, float] | None = None  # of the step being taken, when it is recorded
        self._clock = time.perf_counter()  # when the step being taken began (the last step, or evaluation, ended)
        self._reset_window()

    def _reset_window(self) -> None:
        self._window_steps = self._window_units = self._window_tokens = 0
        self._window_seconds = 0.0
        # Summed on the device and read once per record: a read every step would stall a GPU.
        self._loss: torch.Tensor | float = 0.0
        self._norm: torch.Tensor | float = 0.0
        self._clipped: torch.Tensor | float = 0.0

    # -- the loop's hooks ----------------------------------------------------------------------------------

    def clip(self, params: list[nn.Parameter]) -> None:
        """After ``backward()``: each layer's gradient norm when this step is recorded, then the global norm,
        clipped to ``clip_norm`` when it is set (the loop's clipping, done here), counted when over it."""
        grads = [(p, p.grad) for p in params if p.grad is not None]
        if (self.steps + 1) % self.every == 0:
            self._layer_norms = self._norms_by_layer(grads)
        if self.clip_norm > 0:
            norm = nn.utils.clip_grad_norm_(params, self.clip_norm)
            self._clipped = self._clipped + (norm > self.clip_norm).float()
        else:
            norm = global_norm(g for _, g in grads)
        self._norm = self._norm + norm.detach()

    def step(self, loss: torch.Tensor, units: int, tokens: int, lr: float, epoch: int) -> None:
        """After the optimizer's step: ``loss`` is the batch's mean over ``units`` (documents, tokens),
        ``tokens`` the words it read; a record every ``every`` steps."""
        now = time.perf_counter()
        self.steps += 1
        self._window_steps += 1
        self._window_units += units
        self._window_tokens += tokens
        self._window_seconds += now - self._clock
        self._clock = now
        self._loss = self._loss + loss.detach() * units
        if self.steps % self.every == 0:
            self._record(lr, epoch)

    def evaluated(self, row: Mapping[str, Any]) -> None:
        """A dev (held-out) evaluation at the current step: its scores join the trace."""
        self.evaluations.append({"step": self.steps, **{k: row[k] for k in EVALUATION_KEYS if k in row}})
        self._publish((), self.evaluations[-1:])
        self._clock = time.perf_counter()  # evaluating is not training time

    def trace(self, lr: float, epoch: int) -> dict[str, Any]:
        """The whole trace, the steps since the last record recorded first: what ``trace.json`` holds."""
        if self._window_steps:
            self._record(lr, epoch)
        return {"every": self.every, "steps": self.steps, "clip_norm": self.clip_norm,
                "clipped_fraction": significant(self.clipped_steps / self.steps) if self.steps else 0.0,
                "perplexity": self.perplexity, "rows": self.rows, "evaluations": self.evaluations}

    # -- checkpoints -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything carried from one step to the next, as JSON (read from the device: a checkpoint is rare)."""
        return {"steps": self.steps, "clipped_steps": self.clipped_steps, "rows": self.rows,
                "evaluations": self.evaluations,
                "window": {"steps": self._window_steps, "units": self._window_units, "tokens": self._window_tokens,
                           "seconds": self._window_seconds, "loss": float(self._loss), "norm": float(self._norm),
                           "clipped": float(self._clipped)}}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from `state`'s values (float32 sums go on from their exact values)."""
        self.steps, self.clipped_steps = int(state["steps"]), int(state["clipped_steps"])
        self.rows, self.evaluations = list(state["rows"]), list(state["evaluations"])
        window = state["window"]
        self._window_steps, self._window_units = int(window["steps"]), int(window["units"])
        self._window_tokens, self._window_seconds = int(window["tokens"]), float(window["seconds"])
        self._loss, self._norm, self._clipped = float(window["loss"]), float(window["norm"]), float(window["clipped"])
        self._clock = time.perf_counter()

    # -- inside ------------------------------------------------------------------------------------------

    def _publish(self, rows: Sequence[Mapping[str, Any]], evaluations: Sequence[Mapping[str, Any]]) -> None:
        """Hand what was just recorded to the live run; the first time, every row and evaluation so far
        (those restored from a checkpoint too: a resumed run's events start at its first step). Writing
        them is not training time: the clock of the step being taken moves on by as much."""
        if self.live is None:
            return
        start = time.perf_counter()
        if not self._published:
            rows, evaluations, self._published = self.rows, self.evaluations, True
        self.live.publish(rows, evaluations, self.perplexity)
        self._clock += time.perf_counter() - start

    def _norms_by_layer(self, grads: list[tuple[nn.Parameter, torch.Tensor]]) -> dict[str, float]:
        names = [self.layers.get(id(p), "other") for p, _ in grads]
        if not grads:
            return {}
        squares = torch.stack([torch.linalg.vector_norm(g.detach()).float() ** 2 for _, g in grads]).tolist()
        by_layer: dict[str, float] = {}
        for name, square in zip(names, squares, strict=True):
            by_layer[name] = by_layer.get(name, 0.0) + square
        return {name: significant(math.sqrt(total)) for name, total in by_layer.items()}

    def _record(self, lr: float, epoch: int) -> None:
        n = self._window_steps
        loss, norm, clipped = (float(v) for v in (self._loss, self._norm, self._clipped))
        row: dict[str, Any] = {
            "step": self.steps, "epoch": epoch, "loss": significant(loss / max(1, self._window_units)),
            "lr": significant(lr), "grad_norm": significant(norm / n), "clipped": significant(clipped / n),
            "tokens_per_second": round(self._window_tokens / self._window_seconds) if self._window_seconds else None,
        }
        if self._layer_norms is not None:
            row["layers"] = self._layer_norms
        self.rows.append(row)
        self.clipped_steps += round(clipped)
        self._layer_norms = None
        self._reset_window()
        self._publish((row,), ())
