"""Length bucketing: every example once, little padding, reproducible; pad_batch truncates and pads;
budget_batches caps sequences and padded tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlp_pipeline.models.batching import bucketed_batches, budget_batches, pad_batch


@pytest.fixture
def lengths():
    return np.random.default_rng(0).integers(1, 56, size=5000).tolist()


def test_every_index_exactly_once_and_sizes_bounded(lengths):
    batches = bucketed_batches(lengths, 64, shuffle=True, rng=np.random.default_rng(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 64 for b in batches)


def test_bucketing_keeps_padding_small(lengths):
    lens = np.asarray(lengths)
    batches = bucketed_batches(lengths, 64, shuffle=True, rng=np.random.default_rng(1))
    padded = sum(lens[b].max() * len(b) for b in batches)
    assert padded / lens.sum() < 1.1  # random batches of this distribution pad ~1.9x


def test_shuffle_is_seeded_and_varies_between_seeds(lengths):
    a = bucketed_batches(lengths, 32, shuffle=True, rng=np.random.default_rng(7))
    b = bucketed_batches(lengths, 32, shuffle=True, rng=np.random.default_rng(7))
    c = bucketed_batches(lengths, 32, shuffle=True, rng=np.random.default_rng(8))
    assert a == b
    assert a != c


def test_no_shuffle_sorts_by_length():
    batches = bucketed_batches([5, 1, 3, 2, 4], 2, shuffle=False, rng=None)
    assert batches == [[1, 3], [2, 4], [0]]
    assert bucketed_batches([], 4, shuffle=True, rng=None) == []


def test_pad_batch_pads_truncates_and_handles_empty():
    ids, lengths = pad_batch([[5, 6, 7, 8], [9], []], max_length=3)
    assert ids.dtype == torch.int64 and lengths.dtype == torch.int64
    assert ids.tolist() == [[5, 6, 7], [9, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 1]
    ids, lengths = pad_batch([[1, 2], [3]], max_length=None)
    assert ids.tolist() == [[1, 2], [3, 0]] and lengths.tolist() == [2, 1]


def test_budget_batches_cap_sequences_and_padded_tokens():
    lengths = np.array([5, 1, 300, 2, 40, 3, 3, 1000])
    batches = budget_batches(lengths, max_sequences=3, max_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(8))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[b]) <= 100
    assert [7] in batches and [2] in batches  # longer than the budget: alone
