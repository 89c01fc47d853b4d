"""Helpers shared by the tagger model tests: a small config and a random right-padded batch."""

import torch

from nlp_pipeline.models.tagger import TaggerConfig


def small_config(**overrides) -> TaggerConfig:
    base = dict(vocab_size=20, num_tags=4, char_vocab_size=12, embedding_dim=8, hidden_size=6, char_dim=4,
                char_hidden=5, dropout=0.0)
    return TaggerConfig(**{**base, **overrides})


def random_batch(seed: int = 0, batch: int = 3, width: int = 5, chars: int = 4):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([width, 2, 3][:batch])
    words = torch.randint(2, 20, (batch, width), generator=g)
    char_ids = torch.randint(1, 12, (batch, width, chars), generator=g)
    for b, n in enumerate(lengths.tolist()):
        words[b, n:] = 0
        char_ids[b, n:] = 0
    return words, char_ids, lengths
