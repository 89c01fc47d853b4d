"""A tagger's input encoding: token lists → word and character ids, and right-padded tagger batches.

It belongs with the model's vocabularies (saved next to its weights), so inference and training
both encode sentences the same way without inference importing the training code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.tagger import IGNORE_INDEX
from nlp_pipeline.text.vocab import Vocab

MAX_WORD_CHARS = 24  # longer words keep their first and last 12 characters (prefix and suffix carry the tag)


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
