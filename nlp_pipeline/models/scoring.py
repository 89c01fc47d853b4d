"""Scoring a whole split with a model, in length-sorted batches and without gradients.

Training scores its dev split after every epoch with these, and inference scores new text with them,
so they sit here, below both: training never imports inference, nor inference training.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from nlp_pipeline.models.batching import bucketed_batches, budget_batches, cheapest_batches, pad_batch
from nlp_pipeline.models.tagger import SequenceTagger
from nlp_pipeline.models.tagger_encoding import EncodedSentences, pad_tagged_batch

EVAL_BATCH_TOKENS = 16_384  # tagger scoring batches hold at most this many padded positions (long documents)


def predict_logits(model: nn.Module, ids: Sequence[list[int]], batch_size: int, max_length: int | None,
                   device: torch.device) -> torch.Tensor:
    """Logits ``[N, C]`` on the CPU in input order, scored in length-sorted batches (least padding)."""
    out: torch.Tensor | None = None
    for batch, logits in iter_logits(model, ids, batch_size, max_length, device):
        if out is None:
            out = torch.empty((len(ids), logits.size(1)), dtype=torch.float32)
        out[torch.as_tensor(batch)] = logits
    if out is None:  # no documents: shape (0, C) when the model says what C is
        out = torch.empty((0, model_num_classes(model) or 0), dtype=torch.float32)
    return out


def iter_logits(model: nn.Module, ids: Sequence[list[int]], batch_size: int, max_length: int | None,
                device: torch.device) -> Iterator[tuple[list[int], torch.Tensor]]:
    """``(indices, logits [len(indices), C] on the CPU)`` per batch, as each is scored: a caller can answer
    the texts of the first batch while the next is scored (`nlp_pipeline.serve` does).

    On the CPU the batches are cut where the recurrent model's time is least (`cheapest_batches`: a long
    text does not make a batch of short ones pay for its padding) and padded to the shape grid (oneDNN keeps
    a compiled primitive per shape; see `nlp_pipeline.models.batching.SHAPE_ROWS`); on a GPU, where a step's
    cost hardly depends on the batch, in sorted chunks of ``batch_size``.
    """
    was_training = model.training
    model.eval()
    cap = max_length
    lengths = [max(1, len(s) if cap is None else min(len(s), cap)) for s in ids]
    on_cpu = device.type == "cpu"
    batches = cheapest_batches(lengths, batch_size, max_length=cap) if on_cpu else \
        bucketed_batches(lengths, batch_size, shuffle=False)
    try:
        for batch in batches:
            token_ids, batch_lengths = pad_batch([ids[i] for i in batch], cap, grid=on_cpu)
            with torch.inference_mode():  # not held across the yield: the caller's code runs outside it
                logits = model(token_ids.to(device, non_blocking=True), batch_lengths)[:len(batch)].float().cpu()
            yield batch, logits
    finally:
        model.train(was_training)


def model_num_classes(model: nn.Module) -> int | None:
    """``model.config.num_classes`` when the model has one (a `SequenceClassifier` does)."""
    value = getattr(getattr(model, "config", None), "num_classes", None)
    return int(value) if value is not None else None


def predict_tags_and_loss(model: SequenceTagger, data: EncodedSentences, batch_size: int, device: torch.device,
             with_loss: bool) -> tuple[list[list[int]], float]:
    """Decode every sentence in length-sorted batches; also the mean loss per token when tags are given."""
    was_training = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in range(len(data))]
    loss_sum, n_tokens = 0.0, 0
    try:
        with torch.inference_mode():
            for batch in budget_batches(data.lengths, batch_size, EVAL_BATCH_TOKENS):
                words, chars, lengths, tags = pad_tagged_batch(data, batch)
                scores = model(words.to(device), chars.to(device), lengths)
                if with_loss and data.tags is not None:
                    n = int(sum(len(data.words[i]) for i in batch))
                    loss_sum += float(model.loss(scores, tags.to(device), lengths)) * n
                    n_tokens += n
                decoded = model.decode(scores, lengths).cpu().numpy()
                for row, i in enumerate(batch):
                    out[i] = decoded[row, : len(data.words[i])].tolist()
    finally:
        model.train(was_training)
    return out, loss_sum / max(1, n_tokens)
