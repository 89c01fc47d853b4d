"""The training loop for sequence classifiers: Adam, gradient clipping, early stopping on dev accuracy.

Each epoch shuffles length-bucketed batches, takes Adam steps with the gradient norm clipped, then
scores the dev split; the parts shared with the tagger loop (config, optimizer, early stopping) are
in `nlp_pipeline.training.loop`.

It reports through a ``log`` callable (default: this module's logger) and a tqdm bar, never ``print``,
so the CLI and a notebook can both decide where messages go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlp_pipeline.device import resolve_device, resolve_threads
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE, bucketed_batches, pad_batch
from nlp_pipeline.models.scoring import model_num_classes, predict_logits
from nlp_pipeline.training.loop import (
    BestEpoch,
    GradualUnfreezing,
    TrainConfig,
    TrainResult,
    build_optimizer,
    check_split,
    epoch_bar,
    seed_everything,
)

logger = logging.getLogger(__name__)


def train_classifier(
    model: nn.Module,
    train_ids: list[list[int]],
    train_y: list[int],
    dev_ids: list[list[int]],
    dev_y: list[int],
    config: TrainConfig,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place and leave it holding the best dev epoch's weights, in eval mode.

    Parameters
    ----------
    model:
        A module called as ``model(token_ids [B, T], lengths [B]) -> logits [B, C]``, e.g.
        `nlp_pipeline.models.SequenceClassifier`. It is moved to ``config.device``. Parameters with
        ``requires_grad=False`` (frozen embeddings) are left out of the optimizer.
    train_ids, dev_ids:
        Encoded documents (`Vocab.encode` output).
    train_y, dev_y:
        Class indices.
    config:
        Hyperparameters; see `TrainConfig`.
    progress:
        Show a tqdm bar per epoch with the running loss.
    log:
        Receives one summary line per epoch; defaults to this module's logger at INFO level.
    """
    check_split("train", train_ids, train_y)
    check_split("dev", dev_ids, dev_y)
    log = log or logger.info
    seed_everything(config.seed)
    device = resolve_device(config.device)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(resolve_threads(config.num_threads))
    try:
        return _train(model, train_ids, train_y, dev_ids, dev_y, config, device, progress, log)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    model: nn.Module,
    train_ids: list[list[int]],
    train_y: list[int],
    dev_ids: list[list[int]],
    dev_y: list[int],
    config: TrainConfig,
    device: torch.device,
    progress: bool,
    log: Callable[[str], None],
) -> TrainResult:
    from sklearn.metrics import f1_score  # slow to import; only training needs it (see metrics.py)

    model.to(device)
    optimizer, params = build_optimizer(model, config, device)
    unfreezing = GradualUnfreezing(model, config, log)  # after the optimizer: it holds every trainable group
    rng = np.random.default_rng(config.seed)
    cap = config.max_length
    train_lengths = np.fromiter(
        (max(1, len(s) if cap is None else min(len(s), cap)) for s in train_ids),
        dtype=np.int64,
        count=len(train_ids),
    )
    targets = torch.as_tensor(train_y, dtype=torch.long)
    dev_targets = torch.as_tensor(dev_y, dtype=torch.long)
    num_classes = model_num_classes(model)
    if num_classes is not None:
        for name, y in (("train", targets), ("dev", dev_targets)):
            if int(y.min()) < 0 or int(y.max()) >= num_classes:
                raise ValueError(f"{name}: label indices must lie in 0..{num_classes - 1}")

    result = TrainResult()
    best = BestEpoch(model, result, config, log)
    loop_start = time.perf_counter()
    total_tokens = 0
    total_step_seconds = 0.0

    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        unfreezing.start_epoch(epoch)
        model.train()
        batches = bucketed_batches(train_lengths, config.batch_size, shuffle=True, rng=rng)
        bar = epoch_bar(batches, epoch, config, progress)
        # Sum losses on the device and read them back rarely: .item() every step would stall a GPU.
        loss_sum = torch.zeros((), device=device)
        for step, batch in enumerate(bar, start=1):
            token_ids, lengths = pad_batch([train_ids[i] for i in batch], cap)
            token_ids = token_ids.to(device, non_blocking=True)
            logits = model(token_ids, lengths)
            loss = F.cross_entropy(logits, targets[batch].to(device, non_blocking=True),
                                   label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm > 0:
                nn.utils.clip_grad_norm_(params, config.clip_norm)
            optimizer.step()
            loss_sum += loss.detach() * len(batch)
            if progress and step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # GPU work is asynchronous: wait for it before timing
        step_seconds = time.perf_counter() - epoch_start
        epoch_tokens = int(train_lengths.sum())
        train_loss = float(loss_sum) / len(train_ids)

        dev_logits = predict_logits(model, dev_ids, EVAL_BATCH_SIZE, cap, device)
        dev_loss = float(F.cross_entropy(dev_logits, dev_targets))
        dev_pred = dev_logits.argmax(dim=1).numpy()
        dev_accuracy = float((dev_pred == dev_targets.numpy()).mean())
        all_classes = list(range(dev_logits.size(1)))
        dev_macro_f1 = float(
            f1_score(dev_targets.numpy(), dev_pred, labels=all_classes, average="macro", zero_division=0)
        )
        seconds = time.perf_counter() - epoch_start
        total_tokens += epoch_tokens
        total_step_seconds += step_seconds
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "dev_loss": dev_loss,
            "dev_accuracy": dev_accuracy,
            "dev_macro_f1": dev_macro_f1,
            "seconds": seconds,
            "tokens_per_second": epoch_tokens / step_seconds if step_seconds > 0 else 0.0,
        }
        _, stop = best.end_epoch(row)
        if stop:
            break

    unfreezing.finish()
    best.restore()
    result.train_seconds = time.perf_counter() - loop_start
    result.tokens_per_second = total_tokens / total_step_seconds if total_step_seconds > 0 else 0.0
    return result
