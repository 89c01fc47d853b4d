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
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from nlp_pipeline.models.language_model import RNNLanguageModel, State, detach_state
from nlp_pipeline.settings import EngineConfig, LMTraining, Runtime

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


def about(seconds: float) -> str:
    """A duration as a person reads it: ``"45 s"``, ``"12 min"``, ``"2 h 5 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def planned_tokens(stream_tokens: int, config: LMTrainConfig) -> int:
    """The training tokens the run will see: every epoch's stream, capped by the budget."""
    total = stream_tokens * config.epochs
    return min(total, config.max_tokens) if config.max_tokens is not None else total


def train_language_model(model: RNNLanguageModel, train_ids: np.ndarray, train_offsets: np.ndarray,
                         heldout_ids: np.ndarray, config: LMTrainConfig, *, progress: bool = False,
                         log: Callable[[str], None] | None = None,
                         budget_setting: str = "lm.max_tokens") -> LMTrainResult:
    """Train ``model`` in place on ``train_ids`` (documents at ``train_offsets``); keep the weights with
    the lowest held-out perplexity; return the history.

    The same model trains 2,600 to 9,700 tokens/s on 2-core machines of one kind, so the log says
    early, from the measured rate, how long the run will take and which setting (``budget_setting``)
    sets its budget, and every held-out line says how long is left. ``log`` receives those lines
    (default: this module's logger at INFO level)."""
    from tqdm.auto import tqdm

    from nlp_pipeline.device import resolve_device, resolve_threads

    log = log or logger.info
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(resolve_threads(config.num_threads))
    model.to(device)
    rng = np.random.default_rng(config.seed)
    heldout = batchify(heldout_ids.astype(np.int64), min(config.batch_size, max(1, len(heldout_ids) // 2)))
    stream_tokens = (len(train_ids) // config.batch_size) * config.batch_size
    total_tokens = planned_tokens(stream_tokens, config)
    tokens_per_step = config.batch_size * config.bptt
    total_steps = max(1, math.ceil(total_tokens / tokens_per_step))
    warmup_steps = max(1, round(config.warmup * total_steps))
    eval_every = max(1, math.ceil(total_steps / max(1, config.evaluations)))
    params = [p for p in model.parameters() if p.requires_grad]
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    log(f"  training {total_tokens:,} tokens ({total_tokens / max(1, stream_tokens):.2f} epochs of "
        f"{stream_tokens:,}), {total_steps:,} steps of {config.batch_size} x {config.bptt}")

    result = LMTrainResult()
    best_state: dict[str, torch.Tensor] | None = None
    best_ppl = float("inf")
    step = trained = 0
    window_nll, window_tokens = 0.0, 0
    start = time.perf_counter()
    train_seconds = 0.0
    estimated = False
    bar = tqdm(total=total_steps, desc="train lm", unit="step", disable=None if progress else True, leave=False)
    epoch = 0
    while step < total_steps:
        epoch += 1
        data = batchify(epoch_stream(train_ids, train_offsets, rng), config.batch_size)
        state: State | None = None
        model.train()
        for x, y in segments(data, config.bptt):
            if step >= total_steps:
                break
            t0 = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(step, total_steps, warmup_steps, config.lr_schedule)
            x, y = x.to(device), y.to(device)
            features, state = model(x, state)
            loss = model.loss(features, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm > 0:
                nn.utils.clip_grad_norm_(params, config.clip_norm)
            optimizer.step()
            state = detach_state(state)
            step += 1
            trained += y.numel()
            window_nll += float(loss.detach()) * y.numel()
            window_tokens += y.numel()
            train_seconds += time.perf_counter() - t0
            bar.update(1)
            if not estimated and train_seconds >= ESTIMATE_AFTER_SECONDS and step < total_steps:
                estimated = True
                log(f"  {trained / train_seconds:,.0f} tokens/s: the {total_tokens:,} tokens take about "
                    f"{about(total_tokens * train_seconds / trained)} of training ({budget_setting} sets the budget)")
            if step % eval_every == 0 or step == total_steps:
                nll, count = stream_nll(model, heldout, config.bptt, device)
                row = {
                    "step": step, "epoch": round(trained / max(1, stream_tokens), 3), "tokens": trained,
                    "train_ppl": round(perplexity(window_nll, window_tokens), 2),
                    "heldout_ppl": round(perplexity(nll, count), 2),
                    "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.perf_counter() - start, 1),
                    "tokens_per_second": round(trained / train_seconds) if train_seconds else None,
                }
                result.history.append(row)
                to_go = (total_tokens - trained) * train_seconds / trained
                left = f", about {about(to_go)} to go" if step < total_steps else ""
                log(f"  step {step:,}/{total_steps:,} (epoch {row['epoch']:.2f}): train ppl {row['train_ppl']:.1f}, "
                    f"held-out ppl {row['heldout_ppl']:.1f}, {row['tokens_per_second'] or 0:,} tokens/s{left}")
                bar.set_postfix(heldout_ppl=f"{row['heldout_ppl']:.1f}")
                if row["heldout_ppl"] < best_ppl:
                    best_ppl = row["heldout_ppl"]
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
                    result.best = row
                window_nll, window_tokens = 0.0, 0
                model.train()
    bar.close()
    if best_state is not None and result.best is not result.history[-1]:
        model.load_state_dict(best_state)
        log(f"  kept the weights of step {result.best['step']:,} (held-out ppl {best_ppl:.1f})")
    model.eval()
    result.tokens_trained = trained
    result.seconds = round(time.perf_counter() - start, 1)
    result.tokens_per_second = round(trained / train_seconds) if train_seconds else 0.0
    return result
