"""Sequence taggers (many-to-many): word vectors + a character model → RNN / GRU / LSTM / BiLSTM → tags.

Each token is represented by its word embedding (initialised from word2vec: frozen, fine-tuned or
random) concatenated with a character-level encoding of its spelling. The characters are what lets
an unseen or rare word get a sensible tag: ``-ly``, ``-ing``, a capital letter, digits or a hyphen
say a lot about a part of speech, and the word table has nothing to say about a word it never saw.
The character part is a CNN with max-over-time pooling (Ma & Hovy, 2016) or a BiLSTM whose final
states are concatenated (Plank et al., 2016); ``char_encoder: none`` turns it off so its value can
be measured. The word vocabulary may be lower-cased (to match lower-cased word2vec vectors) while the
characters always keep the original case.

The encoder is the `RecurrentEncoder` shared with the classifier (exact on right-padded batches, no
packing), and the output is a softmax per token, or a linear-chain CRF (``crf: true``) that scores tag
transitions and decodes the best sequence with Viterbi. Padding never counts: the loss and every
metric only look at the first ``lengths[b]`` positions.

>>> config = TaggerConfig(vocab_size=10, num_tags=3, char_vocab_size=8, embedding_dim=8, hidden_size=4)
>>> model = SequenceTagger(config).eval()
>>> words, chars = torch.tensor([[2, 3, 4], [5, 0, 0]]), torch.ones(2, 3, 5, dtype=torch.long)
>>> model(words, chars, torch.tensor([3, 1])).shape
torch.Size([2, 3, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.embedding import EMBEDDING_MODES, ModelConfig, check_model_fields, word_embedding
from nlp_pipeline.models.encoder import ENCODERS, NONLINEARITIES, RecurrentEncoder
from nlp_pipeline.settings import CharModel, Encoder, default_of

CHAR_ENCODERS = ("none", "cnn", "bilstm")
IGNORE_INDEX = -100  # tag id of padded positions: cross-entropy skips them


@dataclass
class TaggerConfig(ModelConfig):
    """Architecture of a `SequenceTagger`: everything needed to rebuild it before loading weights."""

    vocab_size: int  # rows of the word table; 0 = <pad>, 1 = <unk>
    num_tags: int  # output size; tag i means tags[i] of the saved tag list
    char_vocab_size: int = 2  # rows of the character table; 0 = <pad>, 1 = <unk>
    embedding_dim: int = 300  # word vector size (= the word2vec vectors' size when they are used)
    encoder: str = default_of(Encoder, "encoder")  # rnn | gru | lstm | bilstm
    hidden_size: int = default_of(Encoder, "hidden_size")  # recurrent state size per direction
    num_layers: int = default_of(Encoder, "num_layers")  # stacked recurrent layers
    dropout: float = default_of(Encoder, "dropout")  # on the encoder's inputs and outputs (and between stacked layers)
    embedding_dropout: float = default_of(Encoder, "embedding_dropout")  # extra dropout on the word vectors only
    embedding_mode: str = default_of(Encoder, "embedding_mode")  # frozen | fine-tuned | random
    char_encoder: str = default_of(CharModel, "char_encoder")  # none | cnn | bilstm
    char_dim: int = default_of(CharModel, "char_dim")  # character embedding size
    char_hidden: int = default_of(CharModel, "char_hidden")  # CNN filters, or BiLSTM state size per direction
    char_kernel: int = 3  # CNN window (characters)
    # linear-chain CRF output (Viterbi decoding) instead of a softmax per token
    crf: bool = default_of(CharModel, "crf")
    nonlinearity: str = default_of(Encoder, "nonlinearity")  # the plain rnn's activation: tanh | relu

    def validate(self) -> None:
        """Raise `ConfigError` naming the offending key; called on construction and on load."""
        check_model_fields(
            self,
            choices={"encoder": ENCODERS, "embedding_mode": EMBEDDING_MODES, "char_encoder": CHAR_ENCODERS,
                     "nonlinearity": NONLINEARITIES},
            positive_ints=("vocab_size", "num_tags", "char_vocab_size", "embedding_dim", "hidden_size", "num_layers",
                           "char_dim", "char_hidden", "char_kernel"),
            fractions=("dropout", "embedding_dropout"),
        )
        if not isinstance(self.crf, bool):
            raise ConfigError(f"model.crf: must be true or false, got {self.crf!r}")

    @property
    def char_features(self) -> int:
        """Size of a word's character encoding (0 without a character model)."""
        if self.char_encoder == "none":
            return 0
        return self.char_hidden * (2 if self.char_encoder == "bilstm" else 1)


class CharCNN(nn.Module):
    """Characters of each word → embedding → 1-D convolution → max over the word's real characters."""

    def __init__(self, vocab_size: int, dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, kernel, padding=kernel // 2)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """``chars [N, L]`` (0 = padding) → ``[N, filters]``."""
        x = self.conv(self.embedding(chars).transpose(1, 2))  # [N, F, L']
        x = x[:, :, : chars.size(1)]  # an even kernel pads one step too many
        mask = (chars != 0).unsqueeze(1)
        return torch.tanh(x.masked_fill(~mask, float("-inf")).amax(dim=2))


class CharBiLSTM(nn.Module):
    """Characters of each word → embedding → BiLSTM; the two directions' final states, concatenated."""

    def __init__(self, vocab_size: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.encoder = RecurrentEncoder("lstm", dim, hidden, num_layers=1, bidirectional=True, dropout=0.0)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        lengths = (chars != 0).sum(dim=1).clamp(min=1)
        _, last = self.encoder(self.embedding(chars), lengths)
        return last


class LinearChainCRF(nn.Module):
    """Tag-transition scores on top of per-token emissions: sequence log-likelihood and Viterbi decoding.

    Scores of a tag sequence ``y``: ``start[y1] + Σ emit[t, yt] + Σ trans[y(t-1), yt] + end[yT]``; the
    loss is ``log Z − score(gold)`` with ``log Z`` from the forward algorithm, over real positions only.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sum over the batch of ``−log p(tags | words)``; ``mask [B, T]`` marks real positions (prefixes)."""
        batch = torch.arange(emissions.size(0), device=emissions.device)
        tags = tags.clamp(min=0)  # padded positions hold IGNORE_INDEX; they are masked below
        maskf = mask.to(emissions.dtype)
        score = self.start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        alpha = self.start[None, :] + emissions[:, 0]  # [B, K]
        for t in range(1, emissions.size(1)):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[batch, t, tags[:, t]]
            score = score + step * maskf[:, t]
            nxt = torch.logsumexp(alpha[:, :, None] + self.transitions[None] + emissions[:, t, None, :], dim=1)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        last = tags[batch, mask.sum(dim=1) - 1]
        score = score + self.end[last]
        log_z = torch.logsumexp(alpha + self.end[None, :], dim=1)
        return (log_z - score).sum()

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag sequence per row (Viterbi) as ``[B, T]``; padded positions hold 0."""
        best = self.start[None, :] + emissions[:, 0]
        pointers = []
        for t in range(1, emissions.size(1)):
            scores = best[:, :, None] + self.transitions[None]  # [B, from, to]
            top, arg = scores.max(dim=1)
            pointers.append(arg)
            best = torch.where(mask[:, t, None], top + emissions[:, t], best)
        best = best + self.end[None, :]
        lengths = mask.sum(dim=1)
        cur = best.argmax(dim=1)  # each row's last real tag; kept until the backtrace reaches that row's end
        out = torch.zeros(mask.shape, dtype=torch.long, device=emissions.device)
        for t in range(emissions.size(1) - 1, -1, -1):
            if t < emissions.size(1) - 1:
                back = pointers[t].gather(1, cur[:, None]).squeeze(1)  # step t+1's pointer: the tag at t
                cur = torch.where(t < lengths - 1, back, cur)
            out[:, t] = torch.where(t < lengths, cur, torch.zeros_like(cur))
        return out


class SequenceTagger(nn.Module):
    """[word embedding ; char encoding] → dropout → recurrent encoder → dropout → linear (→ CRF).

    ``embedding_matrix`` is the initial word table (`build_embedding_matrix`), used by the ``frozen``
    and ``fine-tuned`` modes; the attribute is called ``embedding`` so the shared optimizer gives it
    its own learning rate.
    """

    def __init__(self, config: TaggerConfig, embedding_matrix: np.ndarray | None = None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = word_embedding(config.vocab_size, config.embedding_dim, config.embedding_mode,
                                        embedding_matrix)
        self.chars: nn.Module | None = None
        if config.char_encoder == "cnn":
            self.chars = CharCNN(config.char_vocab_size, config.char_dim, config.char_hidden, config.char_kernel)
        elif config.char_encoder == "bilstm":
            self.chars = CharBiLSTM(config.char_vocab_size, config.char_dim, config.char_hidden)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = RecurrentEncoder.over_words(config, config.embedding_dim + config.char_features)
        directions = 2 if config.encoder == "bilstm" else 1
        self.output = nn.Linear(config.hidden_size * directions, config.num_tags)
        self.crf = LinearChainCRF(config.num_tags) if config.crf else None

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag scores ``[B, T, num_tags]`` for right-padded ``word_ids [B, T]``, ``char_ids [B, T, L]``."""
        lengths = lengths.to(word_ids.device, torch.int64).clamp(min=1, max=word_ids.size(1))
        x = self.embedding_dropout(self.embedding(word_ids))
        if self.chars is not None:
            real = torch.arange(word_ids.size(1), device=word_ids.device)[None, :] < lengths[:, None]
            # Only real tokens go through the character model: padding would cost as much as words.
            char_features = x.new_zeros(*word_ids.shape, self.config.char_features)
            char_features[real] = self.chars(char_ids[real])
            x = torch.cat([x, char_features], dim=2)
        outputs, _ = self.encoder(self.dropout(x), lengths)
        return self.output(self.dropout(outputs))

    def loss(self, scores: torch.Tensor, tags: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Mean loss per real token; ``tags`` hold `IGNORE_INDEX` at padded positions."""
        mask = tags != IGNORE_INDEX
        n_tokens = mask.sum().clamp(min=1)
        if self.crf is not None:
            return self.crf.neg_log_likelihood(scores, tags, mask) / n_tokens
        return F.cross_entropy(scores.reshape(-1, scores.size(-1)), tags.reshape(-1),
                               ignore_index=IGNORE_INDEX, reduction="sum") / n_tokens

    def decode(self, scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Predicted tag ids ``[B, T]`` (values at padded positions are meaningless)."""
        if self.crf is None:
            return scores.argmax(dim=2)
        mask = torch.arange(scores.size(1), device=scores.device)[None, :] < lengths.to(scores.device)[:, None]
        return self.crf.decode(scores, mask)
