"""Word-embedding helpers shared by the classifier and the tagger, and the config checks both run.

Both heads start from the same kind of word table (word2vec rows, frozen / fine-tuned / random) and
grow it the same way after training, so the code lives once, below both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.text.vocab import Vocab

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

EMBEDDING_MODES = ("frozen", "fine-tuned", "random")
RANDOM_INIT_RANGE = 0.25  # uniform(-a, a) for random embeddings when no pretrained vectors set the scale


class ModelConfig:
    """What the classifier's and the tagger's config dataclasses share: `validate` on construction, and the
    plain dict saved as ``config.json`` and read back (an unknown key, or a missing ``required`` one, is an error)."""

    required: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(f"model: unknown key(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        missing = [name for name in cls.required if name not in data]
        if missing:
            raise ConfigError(f"model: missing key(s) {', '.join(missing)}")
        return cls(**data)


def check_model_fields(config: Any, choices: dict[str, tuple[str, ...]], positive_ints: tuple[str, ...],
                       fractions: tuple[str, ...]) -> None:
    """Raise `ConfigError` naming ``model.<key>`` for a value outside its choices, a non-positive or
    non-integer size, or a dropout outside [0, 1). Shared by the classifier and tagger configs."""
    for name, valid in choices.items():
        value = getattr(config, name)
        if value not in valid:
            raise ConfigError(f"model.{name}: {value!r} is not one of {', '.join(valid)}")
    for name in positive_ints:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"model.{name}: must be a positive integer, got {value!r}")
    for name in fractions:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
            raise ConfigError(f"model.{name}: must be a number in [0, 1), got {value!r}")


def word_embedding(vocab_size: int, dim: int, mode: str, matrix: np.ndarray | None) -> nn.Embedding:
    """The word table of a classifier or tagger: ``matrix`` rows (frozen / fine-tuned) or random, ``<pad>`` zero.

    ``frozen`` turns its gradient off: no optimizer state and no update (the trainers only optimize
    trainable parameters). ``random`` ignores ``matrix``.
    """
    embedding = nn.Embedding(vocab_size, dim, padding_idx=Vocab.PAD_INDEX)
    with torch.no_grad():
        if matrix is not None and mode != "random":
            if tuple(matrix.shape) != (vocab_size, dim):
                raise ValueError(f"embedding_matrix has shape {matrix.shape}, expected {(vocab_size, dim)}")
            embedding.weight.copy_(torch.as_tensor(matrix, dtype=torch.float32))
        else:
            nn.init.uniform_(embedding.weight, -RANDOM_INIT_RANGE, RANDOM_INIT_RANGE)
        embedding.weight[Vocab.PAD_INDEX].zero_()
    if mode == "frozen":
        embedding.weight.requires_grad_(False)
    return embedding


def build_embedding_matrix(vocab: Vocab, vectors: KeyedVectors | None, dim: int, seed: int) -> tuple[np.ndarray, float]:
    """Initial embedding table for ``vocab`` from word2vec ``vectors``.

    Rows of words found in ``vectors`` are copied. Other rows (and ``<unk>``) are drawn from
    ``uniform(-a, a)`` with ``a`` chosen so their variance matches the found vectors' (Kim, 2014):
    random rows on a different scale would dominate or vanish next to the pretrained ones. With no
    vectors ``a`` is `RANDOM_INIT_RANGE`. The ``<pad>`` row is zero.

    Returns ``(matrix float32 [len(vocab), dim], coverage)``, where coverage is the fraction of the
    vocabulary's regular words (specials excluded) found in ``vectors``; a low value usually means the
    vectors were trained with a different tokenizer or casing.
    """
    if vectors is not None and vectors.vector_size != dim:
        raise ConfigError(f"model.embedding_dim: {dim} does not match the word vectors' size {vectors.vector_size}")
    rows: list[int] = []
    sources: list[int] = []
    if vectors is not None:
        key_to_index = vectors.key_to_index
        for row in range(2, len(vocab)):
            source = key_to_index.get(vocab.itos[row])
            if source is not None:
                rows.append(row)
                sources.append(source)
    found = np.asarray(vectors.vectors[sources], dtype=np.float32) if rows else None
    scale = RANDOM_INIT_RANGE
    if found is not None and found.size > 1 and float(found.std()) > 0:
        scale = math.sqrt(3.0) * float(found.std())
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-scale, scale, size=(len(vocab), dim)).astype(np.float32)
    if found is not None:
        matrix[rows] = found
    matrix[Vocab.PAD_INDEX] = 0.0
    coverage = len(rows) / max(1, len(vocab) - 2)
    return matrix, coverage


def extend_vocabulary(
    model: nn.Module, vocab: Vocab, vectors: KeyedVectors, max_words: int
) -> tuple[nn.Module, Vocab, int]:
    """Append the ``max_words`` most frequent words of ``vectors`` that ``vocab`` lacks, with their vectors.

    Why after training: a word absent from the training set never gets a gradient, so (with no
    weight decay) its row would leave training exactly as it came in. Adding the rows afterwards
    gives the same model without paying an optimizer update over a table several times larger
    on every step. At test time such words then carry their pretrained meaning instead of <unk>.
    Works for any model with an ``embedding`` table and a ``config`` dataclass with ``vocab_size``
    (classifiers and taggers).
    Returns the model (modified in place), the new vocabulary and the number of words added.
    """
    extra = [w for w in vectors.index_to_key[:max_words] if w not in vocab.stoi]
    if not extra:
        return model, vocab, 0
    old = model.embedding.weight.detach()
    rows = torch.as_tensor(np.stack([vectors[w] for w in extra]), dtype=old.dtype, device=old.device)
    weight = torch.cat([old, rows], dim=0)
    embedding = nn.Embedding(weight.size(0), weight.size(1), padding_idx=Vocab.PAD_INDEX).to(old.device)
    with torch.no_grad():
        embedding.weight.copy_(weight)
    embedding.weight.requires_grad_(model.embedding.weight.requires_grad)
    model.embedding = embedding
    model.config = type(model.config)(**{**model.config.to_dict(), "vocab_size": weight.size(0)})
    return model, Vocab(vocab.itos + extra), len(extra)
