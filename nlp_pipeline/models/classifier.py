"""Recurrent sentence classifiers: embedding → RNN / GRU / LSTM / BiLSTM encoder → pooling → linear.

One config dataclass (`ClassifierConfig`, the constructor arguments saved next to the weights) and
one module (`SequenceClassifier`), in the nanoGPT manner: a saved model is rebuilt from its config
alone, never from the training config.

The recurrent layers run over the right-padded batch without packing and stay exact (see
`nlp_pipeline.models.encoder`), so a sequence's logits do not depend on what it was batched with.
The word table and its word2vec initialisation are shared with the tagger (`nlp_pipeline.models.embedding`).

>>> import torch
>>> config = ClassifierConfig(vocab_size=10, num_classes=2, embedding_dim=8, hidden_size=4)
>>> model = SequenceClassifier(config).eval()
>>> model(torch.tensor([[2, 3, 4], [5, 0, 0]]), torch.tensor([3, 1])).shape
torch.Size([2, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.embedding import EMBEDDING_MODES, ModelConfig, check_model_fields, word_embedding
from nlp_pipeline.models.encoder import ENCODERS, NONLINEARITIES, RecurrentEncoder
from nlp_pipeline.settings import Encoder, Pooling, default_of

POOLINGS = ("last", "max", "mean")


@dataclass
class ClassifierConfig(ModelConfig):
    """Architecture of a `SequenceClassifier`: everything needed to rebuild it before loading weights."""

    required = ("vocab_size", "num_classes")  # in a saved config.json

    vocab_size: int  # rows of the embedding table = len(vocab); row 0 is <pad>, row 1 is <unk>
    num_classes: int  # output size; logit i means labels[i] of the saved label list
    embedding_dim: int = 300  # word vector size; must equal the word2vec vectors' size when they are used
    # rnn (Elman: tanh, or relu with nonlinearity) | gru | lstm | bilstm (forward + backward LSTM, concatenated)
    encoder: str = default_of(Encoder, "encoder")
    # recurrent state size per direction (a BiLSTM's features are twice this)
    hidden_size: int = default_of(Encoder, "hidden_size")
    num_layers: int = default_of(Encoder, "num_layers")  # stacked recurrent layers
    # on the pooled features before the output layer, and between stacked layers
    dropout: float = default_of(Encoder, "dropout")
    # on word vectors before the encoder; 0 = off (try 0.2-0.5 when fine-tuning)
    embedding_dropout: float = default_of(Encoder, "embedding_dropout")
    # last (final state; BiLSTM: forward's last + backward's first) | max | mean over time
    pooling: str = default_of(Pooling, "pooling")
    # frozen (word2vec fixed) | fine-tuned (word2vec init, trained) | random
    embedding_mode: str = default_of(Encoder, "embedding_mode")
    nonlinearity: str = default_of(Encoder, "nonlinearity")  # the plain rnn's activation: tanh | relu

    def validate(self) -> None:
        """Raise `ConfigError` naming the offending key; called on construction and on load."""
        check_model_fields(
            self,
            choices={"encoder": ENCODERS, "pooling": POOLINGS, "embedding_mode": EMBEDDING_MODES,
                     "nonlinearity": NONLINEARITIES},
            positive_ints=("vocab_size", "num_classes", "embedding_dim", "hidden_size", "num_layers"),
            fractions=("dropout", "embedding_dropout"),
        )
        if self.vocab_size < 2:
            raise ConfigError(f"model.vocab_size: must be >= 2 (<pad> and <unk>), got {self.vocab_size}")

    @property
    def bidirectional(self) -> bool:
        return self.encoder == "bilstm"

    @property
    def feature_size(self) -> int:
        """Size of the pooled sentence vector fed to the output layer."""
        return self.hidden_size * (2 if self.bidirectional else 1)


class SequenceClassifier(nn.Module):
    """Embedding → recurrent encoder → pooling over time → dropout → linear logits.

    ``embedding_matrix`` (``[vocab_size, embedding_dim]``, see `build_embedding_matrix`) holds the initial
    word vectors of the ``frozen`` and ``fine-tuned`` modes (``random`` ignores it); without it (a saved
    model being loaded, whose weights are restored afterwards) the table starts random.
    """

    def __init__(self, config: ClassifierConfig, embedding_matrix: np.ndarray | None = None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = word_embedding(config.vocab_size, config.embedding_dim, config.embedding_mode,
                                        embedding_matrix)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.encoder = RecurrentEncoder.over_words(config, config.embedding_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.feature_size, config.num_classes)

    def features(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Pooled sentence vectors ``[B, feature_size]`` for right-padded ``token_ids [B, T]``."""
        lengths = lengths.to(token_ids.device, torch.int64).clamp(min=1, max=token_ids.size(1))
        embedded = self.embedding_dropout(self.embedding(token_ids))
        outputs, last = self.encoder(embedded, lengths)
        if self.config.pooling == "last":
            return last
        mask = torch.arange(outputs.size(1), device=outputs.device)[None, :] < lengths[:, None]
        if self.config.pooling == "max":
            return outputs.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)
        summed = (outputs * mask.unsqueeze(-1)).sum(dim=1)
        return summed / lengths.unsqueeze(-1).to(outputs.dtype)

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` for right-padded ``token_ids [B, T]`` with true ``lengths [B]``."""
        return self.output(self.dropout(self.features(token_ids, lengths)))
