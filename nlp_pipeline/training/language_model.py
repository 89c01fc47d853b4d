"""Training a language model with truncated backpropagation through time over a continuous stream.

The text is one stream of token ids: every document followed by ``<eos>``, documents in a fresh
seeded order each epoch. The stream is cut into ``batch_size`` rows, each a contiguous stretch of
text, and read ``bptt`` steps at a time. The hidden state at the end of a segment is the start of
the next one in the same row (the model never loses its context at a segment boundary), but it is
detached there: the gradient of a segment's loss flows back through at most ``bptt`` steps, which
is what bounds the cost and the memory (Williams & Peng 1990; Zaremba et al. 2014). Gradient
clipping keeps the occasional exploding gradient from undoing training; gated cells (GRU, LSTM)
keep the gradient alive across those steps.

A token budget (``max_tokens``) caps the training tokens whatever the number of epochs, so a CPU
user chooses the cost; the learning-rate schedule spans exactly the tokens that will be trained.
Held-out perplexity is measured ``evaluations`` times, evenly over the run, and the weights with the
lowest held-out perplexity are the ones kept.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.models.language_model import RNNLanguageModel, State, detach_state
from nlp_pipeline.settings import EngineConfig, LMTraining, Runtime
from nlp_pipeline.training.checkpoint import (
    Checkpoint,
    Checkpoints,
    about,
    load_optimizer_state,
    optimizer_state,
    prefixed,
    rng_state,
    set_rng_state,
)
from nlp_pipeline.training.distributed import Replicas
from nlp_pipeline.training.monitor import Monitor, record_every
from nlp_pipeline.training.optimizers import make_optimizer

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents

logger = logging.getLogger(__name__)

SCHEDULES = ("linear", "cosine", "constant")
ESTIMATE_AFTER_SECONDS = 30.0  # of training: long enough for a steady rate, early enough to change the budget


class LMTrainConfig(LMTraining, EngineConfig):
    """How a language model is trained: the declared LMTraining settings (`nlp_pipeline.settings`, where
    every default lives) and where it runs."""

    section: ClassVar[str] = "lm"
    device: str = Runtime.model_fields["device"]
    num_threads: int = Runtime.model_fields["threads"]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass
class LMTrainResult:
    history: list[dict] = field(default_factory=list)  # one row per evaluation
    best: dict = field(default_factory=dict)  # the kept row (lowest held-out perplexity)
    tokens_trained: int = 0
    seconds: float = 0.0
    tokens_per_second: float = 0.0
    trace: dict = field(default_factory=dict)  # `Monitor.trace`: loss, lr, gradient norms every few steps


def epoch_stream(ids: np.ndarray, offsets: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """The documents of ``ids`` (each ending in ``<eos>``; ``offsets`` their starts, then the end) in a
    random order drawn from ``rng`` (``None``: as stored), as one int64 stream."""
    n = len(offsets) - 1
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return np.concatenate([ids[offsets[i]:offsets[i + 1]] for i in order]).astype(np.int64) if n else ids[:0]


def reverse_documents(ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each document's words in reverse order, its ``<eos>`` still last: the backward model's text.

    ``a b c <eos> d e <eos>`` → ``c b a <eos> e d <eos>``: read right to left, and ``<eos>`` now
    means "this is where the document starts".
    """
    out = ids.copy()
    for start, end in zip(offsets[:-1], offsets[1:], strict=True):
        out[start:end - 1] = ids[start:end - 1][::-1]
    return out


def in_reading_order(ids: np.ndarray, offsets: np.ndarray, direction: str) -> np.ndarray:
    """The documents as a model of ``direction`` reads them: as stored (forward), or each reversed
    with its ``<eos>`` last (backward, `reverse_documents`)."""
    return reverse_documents(ids, offsets) if direction == "backward" else ids


def encode_documents(docs: Iterable[list[str]], stoi: dict[str, int], eos: int,
                     unk: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """Token lists → (int32 ids, each document followed by ``eos``; int64 document starts, then the
    end; how many words were not in ``stoi`` and became ``unk``). The stream every language-model
    stage trains and scores on."""
    get = stoi.get
    rows, unknown = [], 0
    for doc in docs:
        row = [get(w, unk) for w in doc]
        unknown += row.count(unk)
        row.append(eos)
        rows.append(np.asarray(row, dtype=np.int32))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    ids = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32)
    return ids, offsets, unknown


def batchify(stream: np.ndarray, rows: int) -> torch.Tensor:
    """``stream`` as ``[rows, L]``, each row a contiguous stretch (the remainder that does not fill a
    whole column is dropped: fewer than ``rows`` tokens)."""
    length = len(stream) // rows
    return torch.from_numpy(np.ascontiguousarray(stream[: rows * length].reshape(rows, length)))


def segments(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(inputs, targets)`` of ``bptt`` steps each (the last one shorter), targets shifted by one."""
    for t in range(0, data.size(1) - 1, bptt):
        n = min(bptt, data.size(1) - 1 - t)
        yield data[:, t:t + n], data[:, t + 1:t + 1 + n]


@torch.no_grad()
def stream_nll(model: RNNLanguageModel, data: torch.Tensor, bptt: int, device: torch.device) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) and token count of a batchified stream, state carried."""
    model.eval()
    total, count = 0.0, 0
    state: State | None = None
    for x, y in segments(data, bptt):
        x, y = x.to(device), y.to(device)
        features, state = model(x, state)
        total += float(model.loss(features, y)) * y.numel()
        count += y.numel()
    return total, count


def perplexity(nll: float, tokens: int) -> float:
    return math.exp(nll / tokens) if tokens else float("nan")


def _lr_factor(step: int, total: int, warmup_steps: int, schedule: str) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or total <= warmup_steps:
        return 1.0
    done = (step - warmup_steps) / max(1, total - warmup_steps)
    floor = 0.1
    if schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * done))
    return 1.0 - (1 - floor) * done


def planned_tokens(stream_tokens: int, config: LMTrainConfig) -> int:
    """The training tokens the run will see: every epoch's stream, capped by the budget."""
    total = stream_tokens * config.epochs
    return min(total, config.max_tokens) if config.max_tokens is not None else total


def train_language_model(model: RNNLanguageModel, train_ids: np.ndarray, train_offsets: np.ndarray,
                         heldout_ids: np.ndarray, config: LMTrainConfig, *, progress: bool = False,
                         log: Callable[[str], None] | None = None,
                         budget_setting: str = "lm.max_tokens", partial: PartialBuild | None = None,
                         events: LiveEvents | None = None) -> LMTrainResult:
    """Train ``model`` in place on ``train_ids`` (documents at ``train_offsets``); keep the weights with
    the lowest held-out perplexity; return the history.

    The same model trains 2,600 to 9,700 tokens/s on 2-core machines of one kind, so the log says
    early, from the measured rate, how long the run will take and which setting (``budget_setting``)
    sets its budget, and every held-out line says how long is left. ``log`` receives those lines
    (default: this module's logger at INFO level).

    With ``partial`` (a stage's build), training saves checkpoints there at every epoch's end and
    whenever one is due, after a segment (the hidden state carried into the next segment with them),
    and resumes from the last one (`nlp_pipeline.training.checkpoint`); a part of a build (one of
    finetune_lm's models) also keeps its end state. With ``events`` (``report.tensorboard``), the trace goes to
    TensorBoard as it is recorded (`nlp_pipeline.training.monitor.Monitor`); the caller finishes it."""
    from tqdm.auto import tqdm

    from nlp_pipeline.device import resolve_device, resolve_threads

    log = log or logger.info
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(resolve_threads(config.num_threads))
    model.to(device)
    # Alone, or this process's block of the streams (DDP); an adaptive softmax's rare clusters may sit out a step.
    replicas = Replicas(model, _segment_loss(model), device,
                        find_unused=isinstance(model.head, nn.AdaptiveLogSoftmaxWithLoss))
    rng = np.random.default_rng(config.seed)
    heldout = batchify(heldout_ids.astype(np.int64), min(config.batch_size, max(1, len(heldout_ids) // 2)))
    stream_tokens = (len(train_ids) // config.batch_size) * config.batch_size
    total_tokens = planned_tokens(stream_tokens, config)
    tokens_per_step = config.batch_size * config.bptt
    total_steps = max(1, math.ceil(total_tokens / tokens_per_step))
    warmup_steps = max(1, round(config.warmup * total_steps))
    eval_every = max(1, math.ceil(total_steps / max(1, config.evaluations)))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(config.optimizer, params, config.lr, config.weight_decay, device)
    checkpoints = Checkpoints.open(partial, "language_model", log)
    run = _Run(model=model, optimizer=optimizer, generators={"order": rng},
               monitor=Monitor(model, config.clip_norm, record_every(total_steps), perplexity=True, live=events))
    resumed = checkpoints.load() if checkpoints is not None else None
    if resumed is not None:
        try:
            run.restore(resumed, device)
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as err:
            raise checkpoints.restore_failed(err) from err
        if run.finished:
            model.eval()
            return run.result
    else:
        log(f"  training {total_tokens:,} tokens ({total_tokens / max(1, stream_tokens):.2f} epochs of "
            f"{stream_tokens:,}), {total_steps:,} steps of {config.batch_size} x {config.bptt}")

    result = run.result
    start = time.perf_counter() - run.elapsed
    bar = tqdm(total=total_steps, initial=run.step, desc="train lm", unit="step", disable=None if progress else True,
               leave=False)
    while run.step < total_steps:
        if run.segment == 0:
            run.epoch += 1
            run.order = rng.bit_generator.state  # the epoch's order is drawn again from it on resuming
            run.state = None
        else:
            rng.bit_generator.state = run.order
        data = replicas.rows(batchify(epoch_stream(train_ids, train_offsets, rng), config.batch_size))
        n_segments = math.ceil((data.size(1) - 1) / config.bptt)
        model.train()
        for i, (x, y) in enumerate(segments(data, config.bptt)):
            if i < run.segment:
                continue  # trained before the checkpoint this run resumed from
            if run.step >= total_steps:
                break
            t0 = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(run.step, total_steps, warmup_steps, config.lr_schedule)
            x, y = x.to(device), y.to(device)
            loss, state = replicas(x, y, run.state)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.monitor.clip(params)  # clipped to config.clip_norm
            optimizer.step()
            run.monitor.step(loss, y.numel(), y.numel(), optimizer.param_groups[0]["lr"], run.epoch)
            run.state = detach_state(state)
            run.step += 1
            run.segment = i + 1
            tokens = y.numel() * replicas.world  # every process's rows
            run.trained += tokens
            run.window_nll += replicas.mean(float(loss.detach())) * tokens
            run.window_tokens += tokens
            run.train_seconds += time.perf_counter() - t0
            bar.update(1)
            trained, train_seconds = run.trained, run.train_seconds
            if not run.estimated and train_seconds >= ESTIMATE_AFTER_SECONDS and run.step < total_steps:
                run.estimated = True
                log(f"  {trained / train_seconds:,.0f} tokens/s: the {total_tokens:,} tokens take about "
                    f"{about(total_tokens * train_seconds / trained)} of training ({budget_setting} sets the budget)")
            if run.step % eval_every == 0 or run.step == total_steps:
                nll, count = replicas.from_main(lambda: stream_nll(model, heldout, config.bptt, device))
                row = {
                    "step": run.step, "epoch": round(trained / max(1, stream_tokens), 3), "tokens": trained,
                    "train_ppl": round(perplexity(run.window_nll, run.window_tokens), 2),
                    "heldout_ppl": round(perplexity(nll, count), 2),
                    "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.perf_counter() - start, 1),
                    "tokens_per_second": round(trained / train_seconds) if train_seconds else None,
                }
                result.history.append(row)
                run.monitor.evaluated(row)
                to_go = (total_tokens - trained) * train_seconds / trained
                left = f", about {about(to_go)} to go" if run.step < total_steps else ""
                log(f"  step {run.step:,}/{total_steps:,} (epoch {row['epoch']:.2f}): train ppl "
                    f"{row['train_ppl']:.1f}, held-out ppl {row['heldout_ppl']:.1f}, "
                    f"{row['tokens_per_second'] or 0:,} tokens/s{left}")
                bar.set_postfix(heldout_ppl=f"{row['heldout_ppl']:.1f}")
                if row["heldout_ppl"] < run.best_ppl:
                    run.best_ppl = row["heldout_ppl"]
                    run.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    result.best = row
                run.window_nll, run.window_tokens = 0.0, 0
                model.train()
            if checkpoints is not None and run.step < total_steps and (
                    run.segment == n_segments or checkpoints.due()):  # an epoch's end, or one is due
                if run.segment == n_segments:
                    run.segment = 0  # the next epoch starts from its first segment
                run.save(checkpoints, n_segments, time.perf_counter() - start)
        run.segment = 0
    bar.close()
    if run.best_state is not None and result.best is not result.history[-1]:
        model.load_state_dict(run.best_state)
        log(f"  kept the weights of step {result.best['step']:,} (held-out ppl {run.best_ppl:.1f})")
    model.eval()
    result.tokens_trained = run.trained
    result.seconds = round(time.perf_counter() - start, 1)
    result.tokens_per_second = round(run.trained / run.train_seconds) if run.train_seconds else 0.0
    result.trace = run.monitor.trace(optimizer.param_groups[0]["lr"], run.epoch)
    if checkpoints is not None and checkpoints.keeps_finished:
        run.finished = True
        run.save(checkpoints, 0, time.perf_counter() - start)
    return result


def _segment_loss(model: RNNLanguageModel) -> Callable[[torch.Tensor, torch.Tensor, State | None],
                                                    tuple[torch.Tensor, State]]:
    """One segment's step: ``(inputs, targets, state) -> (mean loss, state at its end)``."""
    def step(x: torch.Tensor, y: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        features, state = model(x, state)
        return model.loss(features, y), state
    return step


@dataclass
class _Run:
    """Everything `train_language_model` carries from one segment to the next: what a checkpoint holds."""

    model: RNNLanguageModel
    optimizer: torch.optim.Optimizer
    generators: dict[str, np.random.Generator]
    monitor: Monitor  # the trace: loss, lr, gradient norms every few steps
    result: LMTrainResult = field(default_factory=LMTrainResult)
    step: int = 0
    trained: int = 0  # tokens
    epoch: int = 0  # the epoch being trained (1-based; 0 before the first)
    segment: int = 0  # segments of it trained (0: it starts from the first)
    order: dict | None = None  # the order generator's state before it drew the epoch's order
    state: State | None = None  # the hidden state carried into the next segment
    window_nll: float = 0.0  # since the last held-out evaluation
    window_tokens: int = 0
    train_seconds: float = 0.0
    estimated: bool = False  # the time estimate was logged
    best_state: dict[str, torch.Tensor] | None = None
    best_ppl: float = math.inf  # held-out perplexity of best_state
    finished: bool = False  # the model holds the weights kept (a part of a build keeps them)
    elapsed: float = 0.0  # wall time so far, when resumed

    def save(self, checkpoints: Checkpoints, n_segments: int, elapsed: float) -> None:
        opt_tensors, opt_values = optimizer_state(self.optimizer)
        rng_tensors, rng_values = rng_state(self.generators)
        hidden, layout = _flat_state(self.state)
        history = self.result.history
        best_index = next((i for i, row in enumerate(history) if row is self.result.best), None)
        tensors = {**prefixed("model.", self.model.state_dict()), **opt_tensors, **rng_tensors, **hidden,
                   **prefixed("best.", self.best_state or {})}
        plain = {"step": self.step, "trained": self.trained, "epoch": self.epoch, "segment": self.segment,
                 "order": self.order, "state_layout": layout, "window_nll": self.window_nll,
                 "window_tokens": self.window_tokens, "train_seconds": self.train_seconds,
                 "estimated": self.estimated, "has_best": self.best_state is not None, "best_index": best_index,
                 "best_ppl": self.best_ppl if math.isfinite(self.best_ppl) else None,
                 "history": history, "finished": self.finished, "elapsed": elapsed, "optimizer": opt_values,
                 "rng": rng_values, "monitor": self.monitor.state(),
                 "result": {"tokens_trained": self.result.tokens_trained, "seconds": self.result.seconds,
                            "tokens_per_second": self.result.tokens_per_second, "trace": self.result.trace}}
        # A checkpoint at an epoch's end stands at the next epoch's first segment.
        epoch = self.epoch + 1 if self.segment == 0 else self.epoch
        position = {"finished": True} if self.finished else {"epoch": epoch, "batch": self.segment,
                                                              "batches": n_segments, "step": self.step}
        checkpoints.save(tensors, plain, position)

    def restore(self, checkpoint: Checkpoint, device: torch.device) -> None:
        s = checkpoint.state
        self.model.load_state_dict(checkpoint.take("model."))
        load_optimizer_state(self.optimizer, checkpoint, s["optimizer"])
        set_rng_state(checkpoint, s["rng"], self.generators)
        self.step, self.trained, self.epoch, self.segment = s["step"], s["trained"], s["epoch"], s["segment"]
        self.order, self.window_nll, self.window_tokens = s["order"], float(s["window_nll"]), s["window_tokens"]
        self.train_seconds, self.estimated, self.elapsed = float(s["train_seconds"]), s["estimated"], s["elapsed"]
        self.state = _unflat_state(checkpoint, s["state_layout"], device)
        self.best_state = checkpoint.take("best.") if s["has_best"] else None
        self.best_ppl = math.inf if s["best_ppl"] is None else float(s["best_ppl"])
        self.finished = bool(s["finished"])
        self.monitor.restore(s["monitor"])
        self.result.history = list(s["history"])
        if s["best_index"] is not None:
            self.result.best = self.result.history[s["best_index"]]
        for name, value in s["result"].items():
            setattr(self.result, name, value)


def _flat_state(state: State | None) -> tuple[dict[str, torch.Tensor], list | None]:
    """A hidden state (per layer: a tensor, or an LSTM's pair) as named tensors and its layout for JSON
    (per layer: how many tensors a pair holds, or null for one tensor)."""
    if state is None:
        return {}, None
    tensors, layout = {}, []
    for i, s in enumerate(state):
        parts = s if isinstance(s, tuple) else (s,)
        layout.append(len(parts) if isinstance(s, tuple) else None)
        for j, t in enumerate(parts):
            tensors[f"hidden.{i}.{j}"] = t
    return tensors, layout


def _unflat_state(checkpoint: Checkpoint, layout: list | None, device: torch.device) -> State | None:
    if layout is None:
        return None
    hidden = checkpoint.take("hidden.")
    state: State = []
    for i, n in enumerate(layout):
        parts = tuple(hidden[f"{i}.{j}"].to(device) for j in range(n or 1))
        state.append(parts if n is not None else parts[0])
    return state
