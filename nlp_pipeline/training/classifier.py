"""The training loop for sequence classifiers: Adam, gradient clipping, early stopping on dev accuracy.

Each epoch shuffles length-bucketed batches, takes Adam steps with the gradient norm clipped, then
scores the dev split; the epochs themselves (shared with the tagger loop) are
`nlp_pipeline.training.loop.fit_epochs`.

It reports through a ``log`` callable (default: this module's logger) and a tqdm bar, never ``print``,
so the CLI and a notebook can both decide where messages go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE, pad_batch
from nlp_pipeline.models.scoring import model_num_classes, predict_logits
from nlp_pipeline.training.checkpoint import Checkpoints
from nlp_pipeline.training.gradient_flow import classifier_flow
from nlp_pipeline.training.loop import TrainConfig, TrainResult, check_split, fit_epochs, training_run

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents

logger = logging.getLogger(__name__)


def train_classifier(model: nn.Module, train_ids: list[list[int]], train_y: list[int], dev_ids: list[list[int]],
                     dev_y: list[int], config: TrainConfig, progress: bool = True,
                     log: Callable[[str], None] | None = None, partial: PartialBuild | None = None,
                     events: LiveEvents | None = None) -> TrainResult:
    """Train ``model`` in place and leave it holding the best dev epoch's weights, in eval mode.

    ``model`` is called as ``model(token_ids [B, T], lengths [B]) -> logits [B, C]`` (e.g.
    `nlp_pipeline.models.SequenceClassifier`) and moved to ``config.device``; parameters with
    ``requires_grad=False`` (frozen embeddings) are left out of the optimizer. ``train_ids``/``dev_ids``
    are encoded documents (`Vocab.encode`), ``train_y``/``dev_y`` class indices. ``progress`` shows a tqdm
    bar per epoch; ``log`` receives a line per epoch (default: this module's logger at INFO level). With
    ``partial`` (a stage's build), training saves checkpoints there and resumes from the last one. The
    result holds the trace (loss, learning rate, gradient norms) and the trained model's gradient flow over
    the longest dev documents (`nlp_pipeline.training.gradient_flow`). With ``events`` (``report.tensorboard``),
    the trace goes to TensorBoard as it is recorded; the caller writes the gradient flow and finishes it.
    """
    check_split("train", train_ids, train_y)
    check_split("dev", dev_ids, dev_y)
    with training_run(config) as device:
        from sklearn.metrics import f1_score  # slow to import; only training needs it (see metrics.py)

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

        def train_step(batch: np.ndarray) -> tuple[torch.Tensor, int]:
            token_ids, lengths = pad_batch([train_ids[i] for i in batch], cap)
            logits = model(token_ids.to(device, non_blocking=True), lengths)
            loss = F.cross_entropy(logits, targets[batch].to(device, non_blocking=True),
                                   label_smoothing=config.label_smoothing)
            return loss, len(batch)

        def evaluate() -> dict[str, float]:
            dev_logits = predict_logits(model, dev_ids, EVAL_BATCH_SIZE, cap, device)
            dev_pred = dev_logits.argmax(dim=1).numpy()
            all_classes = list(range(dev_logits.size(1)))
            return {
                "dev_loss": float(F.cross_entropy(dev_logits, dev_targets)),
                "dev_accuracy": float((dev_pred == dev_targets.numpy()).mean()),
                "dev_macro_f1": float(f1_score(dev_targets.numpy(), dev_pred, labels=all_classes, average="macro",
                                               zero_division=0)),
            }

        log = log or logger.info
        result = fit_epochs(model, config, device, progress, log, train_lengths, int(train_lengths.sum()),
                            len(train_ids), train_step, evaluate,
                            checkpoints=Checkpoints.open(partial, "fit_epochs", log), events=events)
        result.gradient_flow = classifier_flow(model, dev_ids, dev_y, cap, device)
        return result
