"""A word-level RNN language model: embedding → stacked RNN / GRU / LSTM → adaptive or full softmax.

Each recurrent layer is its own single-layer ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` module, as in
`nlp_pipeline.models.encoder.RecurrentEncoder`, so a forward model's layer ``i`` and a backward
model's layer ``i`` are the same modules, with the same parameter names and shapes, as a
bidirectional encoder's ``forward_layers[i]`` and ``backward_layers[i]``: language-model weights
land in a classifier or tagger by copying tensors.

The output layer: a 50k-word softmax costs ``hidden × 50k`` multiply-adds per token, several times
the recurrent layer's. ``output="adaptive"`` (`torch.nn.AdaptiveLogSoftmaxWithLoss`, Grave et al.
2017) scores the frequent words in a small head and the rare ones in smaller clusters, which is
exact (a proper distribution over the whole vocabulary) and several times faster on a CPU.
``output="full"`` is the plain softmax, the only one whose weights can be tied to the embedding
(``tie_weights``; Press & Wolf 2017), through a projection when the hidden size differs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.encoder import NONLINEARITIES
from nlp_pipeline.settings import LMArchitecture, default_of

CELLS = ("rnn", "gru", "lstm")
OUTPUTS = ("adaptive", "full")
DIRECTIONS = ("forward", "backward")
_RNN_CLASSES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

ADAPTIVE_DIV = 4  # each adaptive-softmax cluster reads 4x fewer dimensions than the one before
State = list[Any]  # one entry per layer: a tensor [1, B, H] (rnn, gru) or a pair of them (lstm)


@dataclass
class LanguageModelConfig:
    vocab_size: int
    embedding_dim: int
    cell: str = default_of(LMArchitecture, "cell")
    hidden_size: int = default_of(LMArchitecture, "hidden_size")
    num_layers: int = default_of(LMArchitecture, "num_layers")
    dropout: float = default_of(LMArchitecture, "dropout")  # on every recurrent layer's output (and before the softmax)
    embedding_dropout: float = default_of(LMArchitecture, "embedding_dropout")  # on the word vectors
    output: str = default_of(LMArchitecture, "output")
    cutoffs: tuple[int, ...] = default_of(LMArchitecture, "cutoffs")  # adaptive softmax cluster boundaries (word ranks)
    tie_weights: bool = default_of(LMArchitecture, "tie_weights")
    direction: str = default_of(LMArchitecture, "direction")  # backward: reads (and generates) right to left
    nonlinearity: str = default_of(LMArchitecture, "nonlinearity")  # the plain rnn's activation: tanh | relu

    def __post_init__(self) -> None:
        self.cutoffs = tuple(int(c) for c in self.cutoffs)
        self.validate()

    def validate(self) -> None:
        for name, valid in (("cell", CELLS), ("output", OUTPUTS), ("direction", DIRECTIONS),
                            ("nonlinearity", NONLINEARITIES)):
            if getattr(self, name) not in valid:
                raise ConfigError(f"lm.{name}: {getattr(self, name)!r} is not one of {', '.join(valid)}")
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"lm.{name}: must be a positive integer, got {value!r}")
        if self.tie_weights and self.output != "full":
            raise ConfigError("lm.tie_weights: true needs lm.output=full (an adaptive softmax has no one "
                              "word-by-dimension matrix to share with the embedding)")
        if self.output == "adaptive":
            usable = [c for c in self.cutoffs if 0 < c <= self.vocab_size - 1]
            if list(self.cutoffs) != sorted(set(self.cutoffs)) or not self.cutoffs:
                raise ConfigError(f"lm.cutoffs: {list(self.cutoffs)} must be increasing word ranks")
            if usable != list(self.cutoffs):
                raise ConfigError(f"lm.cutoffs: {list(self.cutoffs)} must lie between 1 and the vocabulary "
                                  f"size ({self.vocab_size}) minus 1; lower them or use lm.output=full")
            # cluster i reads features // 4**i dimensions: the last one must keep at least one
            if self.output_features // ADAPTIVE_DIV ** len(self.cutoffs) < 1:
                raise ConfigError(f"lm.cutoffs: {len(self.cutoffs)} clusters need a hidden size of at least "
                                  f"{ADAPTIVE_DIV ** len(self.cutoffs)} (each is {ADAPTIVE_DIV}x narrower than "
                                  f"the last); got {self.output_features}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cutoffs"] = list(self.cutoffs)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> LanguageModelConfig:
        return cls(**data)

    @property
    def output_features(self) -> int:
        """What the softmax reads: the embedding size when tied (through a projection if needed)."""
        return self.embedding_dim if self.tie_weights else self.hidden_size


class RNNLanguageModel(nn.Module):
    """``forward(ids [B, T], state) → (features [B, T, F], new state)``; `loss` and `log_probs` score them."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # N(0, 1) rows would swamp the first layer
        self.embedding_dropout = nn.Dropout(c.embedding_dropout)
        rnn_class = _RNN_CLASSES[c.cell]
        options = {"nonlinearity": c.nonlinearity} if c.cell == "rnn" else {}  # GRU and LSTM take none
        self.layers = nn.ModuleList(
            rnn_class(c.embedding_dim if i == 0 else c.hidden_size, c.hidden_size, batch_first=True, **options)
            for i in range(c.num_layers)
        )
        self.dropout = nn.Dropout(c.dropout)
        self.projection = (nn.Linear(c.hidden_size, c.embedding_dim, bias=False)
                           if c.tie_weights and c.hidden_size != c.embedding_dim else None)
        self.head: nn.Module | None = None
        self.output_bias: nn.Parameter | None = None
        if c.output == "adaptive":
            self.head = nn.AdaptiveLogSoftmaxWithLoss(c.output_features, c.vocab_size, list(c.cutoffs),
                                                     div_value=float(ADAPTIVE_DIV))
        elif c.tie_weights:  # the embedding matrix is the output matrix; only the bias is the head's own
            self.output_bias = nn.Parameter(torch.zeros(c.vocab_size))
        else:
            self.head = nn.Linear(c.output_features, c.vocab_size)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.embedding_dropout(self.embedding(ids))
        new_state: State = []
        for i, layer in enumerate(self.layers):
            x, s = layer(x, None if state is None else state[i])
            new_state.append(s)
            x = self.dropout(x)
        if self.projection is not None:
            x = self.projection(x)
        return x, new_state

    def loss(self, features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood (nats) of ``targets [B, T]`` given ``features [B, T, F]``."""
        flat, y = features.reshape(-1, features.size(-1)), targets.reshape(-1)
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            return self.head(flat, y).loss
        return nn.functional.cross_entropy(self._logits(flat), y)

    def log_probs(self, features: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the whole vocabulary, ``[N, F] → [N, V]`` (generation)."""
        if isinstance(self.head, nn.AdaptiveLogSoftmaxWithLoss):
            return self.head.log_prob(features)
        return torch.log_softmax(self._logits(features), dim=-1)

    def _logits(self, features: torch.Tensor) -> torch.Tensor:
        if self.output_bias is not None:
            return nn.functional.linear(features, self.embedding.weight, self.output_bias)
        return self.head(features)


def fit_cutoffs(cutoffs: tuple[int, ...] | list[int], vocab_size: int) -> tuple[int, ...]:
    """The adaptive softmax's cluster boundaries that fall inside a vocabulary of ``vocab_size``.

    Boundaries at or past the vocabulary's end would make empty clusters (torch refuses them); a
    small vocabulary keeps those below its size, or one boundary at half its size if none is.
    """
    kept = tuple(c for c in cutoffs if 0 < c < vocab_size - 1)
    return kept or (max(1, vocab_size // 2),)


def detach_state(state: State) -> State:
    """The hidden state as values only: truncated BPTT carries it into the next segment but stops the
    gradient there, so backpropagation never runs further back than one segment."""
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]
