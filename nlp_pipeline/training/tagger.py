"""The training loop for sequence taggers, with word dropout.

The epochs are the classifier's (`nlp_pipeline.training.loop.fit_epochs`: Adam with the same parameter
groups, gradient clipping, length-bucketed batches, early stopping on dev accuracy, best weights
restored) with a loss and an accuracy over tokens instead of documents. Padding never counts: padded
positions carry `IGNORE_INDEX` as their tag, which the loss skips and every metric filters out.

Word dropout (Kiperwasser & Goldberg, 2016): during training a word seen ``c`` times in the training
set is replaced by ``<unk>`` with probability ``α / (α + c)``. Rare words are dropped most, so the
``<unk>`` row and the character model learn to stand in for words the model has not seen, which is
what happens at test time to every unseen word.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.errors import DataError
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE
from nlp_pipeline.models.scoring import predict_tags_and_loss
from nlp_pipeline.models.tagger import SequenceTagger
from nlp_pipeline.models.tagger_encoding import EncodedSentences, pad_tagged_batch
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.checkpoint import Checkpoints
from nlp_pipeline.training.gradient_flow import tagger_flow
from nlp_pipeline.training.loop import TrainConfig, TrainResult, fit_epochs, training_run

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents


def word_dropout_rates(data: EncodedSentences, vocab_size: int, alpha: float) -> torch.Tensor:
    """Per word id, the chance ``α / (α + count)`` of being replaced by ``<unk>`` in a training step."""
    counts = Counter(w for sent in data.words for w in sent)
    freq = torch.zeros(vocab_size, dtype=torch.float32)
    for word, c in counts.items():
        freq[word] = c
    rates = alpha / (alpha + freq) if alpha > 0 else torch.zeros(vocab_size)
    rates[Vocab.PAD_INDEX] = 0.0
    rates[Vocab.UNK_INDEX] = 0.0
    return rates


def train_tagger(model: SequenceTagger, train: EncodedSentences, dev: EncodedSentences, config: TrainConfig,
                 word_dropout: float = 0.25, lr_decay: float = 1.0, progress: bool = True,
                 log: Callable[[str], None] | None = None, partial: PartialBuild | None = None,
                 events: LiveEvents | None = None) -> TrainResult:
    """Train ``model`` in place; it ends holding the best dev epoch's weights, in eval mode.

    ``word_dropout`` is the α of the rare-word dropout above (0 = off). ``lr_decay`` multiplies every
    learning rate after each epoch that does not improve dev accuracy (1 = constant): smaller steps
    once the dev score stalls, instead of stopping while the optimizer still overshoots. ``history``
    rows hold epoch, train_loss (per token), dev_loss, dev_accuracy (token accuracy), dev_macro_f1,
    lr (the epoch's learning rate), seconds and tokens_per_second. With ``partial`` (a stage's build),
    training saves checkpoints there (the word-dropout generator's state with them) and resumes from the last one.
    The result holds the trace and the trained model's gradient flow over the longest dev sentences. With
    ``events`` (``report.tensorboard``), the trace goes to TensorBoard as it is recorded.
    """
    for name, split in (("train", train), ("dev", dev)):
        if len(split) == 0:
            raise DataError(f"the {name} split is empty; training needs sentences in train and dev")
        if split.tags is None:
            raise ValueError(f"{name}: tags are required for training")
    with training_run(config) as device:
        from sklearn.metrics import f1_score

        generator = torch.Generator().manual_seed(config.seed)
        drop_rates = word_dropout_rates(train, model.config.vocab_size, word_dropout)
        epoch_tokens = int(sum(len(w) for w in train.words))
        dev_gold = np.concatenate([np.asarray(t, dtype=np.int64) for t in dev.tags]) if dev.tags else np.zeros(0)

        def train_step(batch: np.ndarray) -> tuple[torch.Tensor, int]:
            words, chars, batch_lengths, tags = pad_tagged_batch(train, batch)
            if word_dropout > 0:
                drop = torch.rand(words.shape, generator=generator) < drop_rates[words]
                words = words.masked_fill(drop, Vocab.UNK_INDEX)
            words, chars, tags = (t.to(device, non_blocking=True) for t in (words, chars, tags))
            scores = model(words, chars, batch_lengths)
            return model.loss(scores, tags, batch_lengths), int(batch_lengths.sum())

        def evaluate() -> dict[str, float]:
            predictions, dev_loss = predict_tags_and_loss(model, dev, EVAL_BATCH_SIZE, device, with_loss=True)
            dev_pred = np.concatenate([np.asarray(p, dtype=np.int64) for p in predictions])
            return {"dev_loss": dev_loss, "dev_accuracy": float((dev_pred == dev_gold).mean()),
                    "dev_macro_f1": float(f1_score(dev_gold, dev_pred, labels=list(range(model.config.num_tags)),
                                                   average="macro", zero_division=0))}

        log = log or (lambda msg: None)
        result = fit_epochs(model, config, device, progress, log, train.lengths, epoch_tokens, max(1, epoch_tokens),
                            train_step, evaluate, lr_decay=lr_decay,
                            checkpoints=Checkpoints.open(partial, "fit_epochs", log),
                            generators={"word_dropout": generator}, events=events)
        result.gradient_flow = tagger_flow(model, dev, device)
        return result
