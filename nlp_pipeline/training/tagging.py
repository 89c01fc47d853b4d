"""Training and inference for sequence taggers: encoding, padded batches, the loop, tagging metrics.

The loop mirrors `nlp_pipeline.training.trainer.train_classifier` (Adam with the same parameter
groups, gradient clipping, length-bucketed batches, early stopping on dev accuracy, best weights
restored) with a loss and an accuracy over tokens instead of documents. Padding never counts: padded
positions carry `IGNORE_INDEX` as their tag, which the loss skips and every metric filters out.

Word dropout (Kiperwasser & Goldberg, 2016): during training a word seen ``c`` times in the training
set is replaced by ``<unk>`` with probability ``α / (α + c)``. Rare words are dropped most, so the
``<unk>`` row and the character model learn to stand in for words the model has not seen, which is
what happens at test time to every unseen word.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.tagger import IGNORE_INDEX, SequenceTagger
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.batching import bucketed_batches
from nlp_pipeline.training.device import resolve_device
from nlp_pipeline.training.trainer import (
    EVAL_BATCH_SIZE,
    BestEpoch,
    TrainConfig,
    TrainResult,
    build_optimizer,
    resolve_threads,
    seed_everything,
)

MAX_WORD_CHARS = 24  # longer words keep their first and last 12 characters (prefix and suffix carry the tag)
EVAL_BATCH_TOKENS = 16_384  # inference batches hold at most this many padded positions (long documents)


@dataclass
class EncodedSentences:
    """Sentences as model inputs: word ids, per-sentence character id arrays ``[n_words, chars]``, tag ids."""

    words: list[list[int]]
    chars: list[np.ndarray]
    tags: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((max(1, len(w)) for w in self.words), dtype=np.int64, count=len(self.words))


class TaggerEncoder:
    """Turns token lists into the ids a `SequenceTagger` reads, with the vocabularies it was trained with.

    Words are looked up lower-cased when ``lowercase`` (to match lower-cased word2vec vectors);
    characters always keep their case, since capitalisation is a strong cue (proper nouns).
    """

    def __init__(self, vocab: Vocab, char_vocab: Vocab, tags: list[str], lowercase: bool) -> None:
        self.vocab = vocab
        self.char_vocab = char_vocab
        self.tags = list(tags)
        self.tag_index = {t: i for i, t in enumerate(self.tags)}
        self.lowercase = lowercase
        self._char_cache: dict[str, list[int]] = {}

    def word_key(self, word: str) -> str:
        return word.lower() if self.lowercase else word

    def char_ids(self, word: str) -> list[int]:
        ids = self._char_cache.get(word)
        if ids is None:
            text = word if len(word) <= MAX_WORD_CHARS else word[: MAX_WORD_CHARS // 2] + word[-MAX_WORD_CHARS // 2:]
            ids = self.char_vocab.encode(list(text)) or [Vocab.UNK_INDEX]
            if len(self._char_cache) < 100_000:
                self._char_cache[word] = ids
        return ids

    def encode(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None = None,
               where: Sequence[str] | None = None) -> EncodedSentences:
        """Encode token lists (and their tags; an unknown tag is a `DataError` naming ``where[i]``)."""
        stoi, unk = self.vocab.stoi, Vocab.UNK_INDEX
        words = [[stoi.get(self.word_key(w), unk) for w in sent] for sent in sentences]
        chars = []
        for sent in sentences:
            rows = [self.char_ids(w) for w in sent]
            array = np.zeros((len(rows), max((len(r) for r in rows), default=1)), dtype=np.int64)
            for i, r in enumerate(rows):
                array[i, : len(r)] = r
            chars.append(array)
        tag_ids = None
        if tags is not None:
            tag_ids = []
            for i, sent_tags in enumerate(tags):
                try:
                    tag_ids.append([self.tag_index[t] for t in sent_tags])
                except KeyError as err:
                    place = where[i] if where is not None else f"sentence {i + 1}"
                    raise DataError(f"{place}: tag {err.args[0]!r} is not in the model's tag set "
                                    f"({', '.join(self.tags)})") from None
        return EncodedSentences(words, chars, tag_ids)


def pad_tagged_batch(data: EncodedSentences, batch: Sequence[int]) -> tuple[torch.Tensor, ...]:
    """Right-padded ``word_ids [B, T]``, ``char_ids [B, T, L]``, ``lengths [B]`` and ``tags [B, T]``.

    Padded words are ``<pad>`` (0), padded characters 0, and padded tags `IGNORE_INDEX`, so the loss
    and the metrics never see them. An empty sentence reads as one ``<pad>`` token (length 1).
    """
    lengths = np.fromiter((max(1, len(data.words[i])) for i in batch), dtype=np.int64, count=len(batch))
    width = int(lengths.max()) if len(batch) else 1
    char_width = max((data.chars[i].shape[1] for i in batch), default=1)
    words = np.zeros((len(batch), width), dtype=np.int64)
    chars = np.zeros((len(batch), width, char_width), dtype=np.int64)
    tags = np.full((len(batch), width), IGNORE_INDEX, dtype=np.int64)
    for row, i in enumerate(batch):
        n = len(data.words[i])
        words[row, :n] = data.words[i]
        c = data.chars[i]
        chars[row, : c.shape[0], : c.shape[1]] = c
        if data.tags is not None:
            tags[row, :n] = data.tags[i]
    return torch.from_numpy(words), torch.from_numpy(chars), torch.from_numpy(lengths), torch.from_numpy(tags)


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


def train_tagger(
    model: SequenceTagger,
    train: EncodedSentences,
    dev: EncodedSentences,
    config: TrainConfig,
    word_dropout: float = 0.25,
    lr_decay: float = 1.0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place; it ends holding the best dev epoch's weights, in eval mode.

    ``word_dropout`` is the α of the rare-word dropout above (0 = off). ``lr_decay`` multiplies every
    learning rate after each epoch that does not improve dev accuracy (1 = constant): smaller steps
    once the dev score stalls, instead of stopping while the optimizer still overshoots. ``history``
    rows hold epoch, train_loss (per token), dev_loss, dev_accuracy (token accuracy), dev_macro_f1,
    lr (the epoch's learning rate), seconds and tokens_per_second.
    """
    config.validate()
    for name, split in (("train", train), ("dev", dev)):
        if len(split) == 0:
            raise DataError(f"the {name} split is empty; training needs sentences in train and dev")
        if split.tags is None:
            raise ValueError(f"{name}: tags are required for training")
    log = log or (lambda msg: None)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(resolve_threads(config.num_threads))
    try:
        return _train(model, train, dev, config, word_dropout, lr_decay, device, progress, log)
    finally:
        torch.set_num_threads(previous_threads)


def _train(model: SequenceTagger, train: EncodedSentences, dev: EncodedSentences, config: TrainConfig,
           word_dropout: float, lr_decay: float, device: torch.device, progress: bool,
           log: Callable[[str], None]) -> TrainResult:
    from sklearn.metrics import f1_score

    model.to(device)
    optimizer, params = build_optimizer(model, config, device)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    drop_rates = word_dropout_rates(train, model.config.vocab_size, word_dropout)
    lengths = train.lengths
    epoch_tokens = int(sum(len(w) for w in train.words))
    dev_gold = np.concatenate([np.asarray(t, dtype=np.int64) for t in dev.tags]) if dev.tags else np.zeros(0)

    result = TrainResult()
    best = BestEpoch(model, result, config, log)
    loop_start = time.perf_counter()
    total_step_seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        batches = bucketed_batches(lengths, config.batch_size, shuffle=True, rng=rng)
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", disable=not progress, leave=False)
        loss_sum = torch.zeros((), device=device)
        for step, batch in enumerate(bar, start=1):
            words, chars, batch_lengths, tags = pad_tagged_batch(train, batch)
            if word_dropout > 0:
                drop = torch.rand(words.shape, generator=generator) < drop_rates[words]
                words = words.masked_fill(drop, Vocab.UNK_INDEX)
            words, chars, tags = (t.to(device, non_blocking=True) for t in (words, chars, tags))
            scores = model(words, chars, batch_lengths)
            loss = model.loss(scores, tags, batch_lengths)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm > 0:
                nn.utils.clip_grad_norm_(params, config.clip_norm)
            optimizer.step()
            loss_sum += loss.detach() * int(batch_lengths.sum())
            if progress and step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        step_seconds = time.perf_counter() - epoch_start
        train_loss = float(loss_sum) / max(1, epoch_tokens)

        predictions, dev_loss = _predict(model, dev, EVAL_BATCH_SIZE, device, with_loss=True)
        dev_pred = np.concatenate([np.asarray(p, dtype=np.int64) for p in predictions])
        dev_accuracy = float((dev_pred == dev_gold).mean())
        dev_macro_f1 = float(f1_score(dev_gold, dev_pred, labels=list(range(model.config.num_tags)),
                                      average="macro", zero_division=0))
        seconds = time.perf_counter() - epoch_start
        total_step_seconds += step_seconds
        row = {"epoch": epoch, "train_loss": train_loss, "dev_loss": dev_loss, "dev_accuracy": dev_accuracy,
               "dev_macro_f1": dev_macro_f1, "lr": optimizer.param_groups[0]["lr"], "seconds": seconds,
               "tokens_per_second": epoch_tokens / step_seconds if step_seconds > 0 else 0.0}
        improved, stop = best.end_epoch(row)
        if stop:
            break
        if not improved and lr_decay != 1.0:
            for group in optimizer.param_groups:
                group["lr"] *= lr_decay
    best.restore()
    result.train_seconds = time.perf_counter() - loop_start
    result.tokens_per_second = epoch_tokens * len(result.history) / total_step_seconds if total_step_seconds else 0.0
    return result


def predict_tags(model: SequenceTagger, data: EncodedSentences, batch_size: int = EVAL_BATCH_SIZE,
                 device: str | torch.device | None = None) -> list[list[int]]:
    """Tag ids per sentence, in input order (one id per word; an empty sentence gets none)."""
    if device is None:
        target = next(model.parameters()).device
    else:
        target = resolve_device(device)
        model.to(target)
    predictions, _ = _predict(model, data, batch_size, target, with_loss=False)
    return predictions


def _predict(model: SequenceTagger, data: EncodedSentences, batch_size: int, device: torch.device,
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


def budget_batches(lengths: np.ndarray, max_sequences: int, max_tokens: int) -> list[list[int]]:
    """Length-sorted batches of at most ``max_sequences`` sequences and ``max_tokens`` padded positions.

    Why a token budget: activations grow with batch × longest sequence, so 256 sentences are a few
    MB but 256 long reviews were 4 GB resident. A sequence longer than the budget is a batch alone.
    """
    order = np.argsort(lengths, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order.tolist():
        longest = int(lengths[i])  # sorted ascending: the newest is the longest
        if current and (len(current) >= max_sequences or (len(current) + 1) * longest > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def tagging_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                    words: Sequence[Sequence[str]], train_words: set[str], tags: list[str]) -> dict:
    """Token accuracy, accuracy on words unseen in training, macro-F1, per-tag report, confusion matrix.

    A word is *unseen* when its exact form never occurs in the training split (``train_words``), the
    usual definition in the POS literature. Returns `classification_metrics`' keys plus ``tokens``,
    ``unseen_tokens`` and ``unseen_accuracy`` (``None`` when the split has no unseen word).
    """
    from nlp_pipeline.training.metrics import classification_metrics

    index = {t: i for i, t in enumerate(tags)}
    y_true, y_pred, unseen_total, unseen_right = [], [], 0, 0
    for sent_words, sent_gold, sent_pred in zip(words, gold, predicted):
        if not (len(sent_words) == len(sent_gold) == len(sent_pred)):
            raise ValueError("words, gold and predicted tags must have the same lengths per sentence")
        for w, g, p in zip(sent_words, sent_gold, sent_pred):
            y_true.append(index[g])
            y_pred.append(index[p])
            if w not in train_words:
                unseen_total += 1
                unseen_right += g == p
    metrics = classification_metrics(y_true, y_pred, tags)
    metrics["tokens"] = len(y_true)
    metrics["unseen_tokens"] = unseen_total
    metrics["unseen_accuracy"] = unseen_right / unseen_total if unseen_total else None
    return metrics
