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


def _cost(batches: list[list[int]], lengths: list[int]) -> float:
    """What a cut costs as its batches run: each on the shape grid, or as it is and compiled, the cheaper."""
    from nlp_pipeline.models.batching import CALL_COST_STEPS, MISS_COST_STEPS, STEP_COST_STEPS, shape_rows, shape_steps

    def one(rows: int, steps: int) -> float:
        return min(shape_steps(steps) * (STEP_COST_STEPS + shape_rows(rows)),
                   steps * (STEP_COST_STEPS + rows) + MISS_COST_STEPS)

    return sum(CALL_COST_STEPS + one(len(b), max(lengths[i] for i in b)) for b in batches)


def test_run_shape_is_the_grid_unless_its_padding_costs_more_than_a_compile():
    from nlp_pipeline.models.batching import run_shape

    assert run_shape(1, 21) == (1, 24)  # a sentence: a few pad steps
    assert run_shape(26, 20) == (32, 20)  # a server's batch of sentences: six pad rows
    assert run_shape(1, 301) == (1, 320)
    assert run_shape(200, 301) == (200, 301)  # 200 reviews: 19 steps each would cost more than compiling
    assert run_shape(5, 35, max_length=36) == (6, 36)  # 40 on the grid, but never past the cut


def test_shape_grid_rounds_up_within_its_steps():
    from nlp_pipeline.models.batching import SHAPE_ROWS, shape_rows, shape_steps

    assert [shape_rows(n) for n in (1, 2, 3, 4, 5, 7, 9, 13, 32, 33, 256, 257)] == \
        [1, 2, 3, 4, 6, 8, 12, 16, 32, 48, 256, 384]
    assert all(shape_rows(n) == n for n in SHAPE_ROWS)
    assert [shape_steps(t) for t in (0, 1, 4, 5, 32, 33, 64, 65, 129, 257, 400)] == \
        [4, 4, 4, 8, 32, 40, 64, 80, 160, 320, 448]
    # every length rounds up, by less than a step of its range; few shapes cover a sentence's lengths
    assert all(t <= shape_steps(t) < t + max(4, t / 4) for t in range(1, 1000))
    assert len({shape_steps(t) for t in range(1, 65)}) == 12


def test_pad_batch_on_the_grid_adds_one_token_rows_and_pad_steps_never_past_max_length():
    from nlp_pipeline.models.batching import pad_batch

    ids, lengths = pad_batch([[5, 6, 7, 8, 9], [1]] * 2 + [[2]], max_length=None, grid=True)
    assert ids.shape == (6, 8)  # 5 rows -> 6, 5 steps -> 8
    assert ids[:5, :5].tolist() == pad_batch([[5, 6, 7, 8, 9], [1]] * 2 + [[2]])[0].tolist()
    assert ids[:, 5:].abs().sum() == 0 and ids[5].abs().sum() == 0
    assert lengths.tolist() == [5, 1, 5, 1, 1, 1]
    ids, lengths = pad_batch([list(range(1, 40))], max_length=34, grid=True)
    assert ids.shape == (1, 34) and lengths.tolist() == [34]  # 34 -> 40 on the grid, but no further than the cut


def test_cheapest_batches_cover_every_text_once_sorted_and_never_cost_more_than_one_batch_or_one_each():
    from nlp_pipeline.models.batching import cheapest_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=97).tolist() + [400, 400, 3]
    batches = cheapest_batches(lengths, 32)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 32 for b in batches)
    assert [lengths[i] for i in flat] == sorted(lengths)  # length-sorted, so each batch pads the least
    chunks = [sorted(range(len(lengths)), key=lengths.__getitem__)[i:i + 32] for i in range(0, len(lengths), 32)]
    assert _cost(batches, lengths) <= _cost(chunks, lengths)
    assert _cost(batches, lengths) < _cost([[i] for i in range(len(lengths))], lengths)
    assert [400, 400] in [[lengths[i] for i in b] for b in batches]  # the two long texts do not pad the rest
    assert cheapest_batches([], 8) == [] and cheapest_batches([5], 8) == [[0]]
    assert cheapest_batches([7] * 10, 64) == [list(range(10))]  # equal lengths: one call


def test_scoring_in_cheapest_batches_gives_each_text_the_logits_it_gets_alone():
    from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
    from nlp_pipeline.models.scoring import iter_logits, predict_logits

    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(vocab_size=50, num_classes=3, embedding_dim=8, encoder="bilstm",
                                                hidden_size=6))
    rng = np.random.default_rng(1)
    ids = [rng.integers(1, 50, size=n).tolist() for n in [3, 40, 5, 7, 38, 2, 9, 41, 4]]
    together = predict_logits(model, ids, 256, None, torch.device("cpu"))
    parts = list(iter_logits(model, ids, 256, None, torch.device("cpu")))
    assert len(parts) > 1 and sorted(i for batch, _ in parts for i in batch) == list(range(len(ids)))
    for i, seq in enumerate(ids):
        alone = predict_logits(model, [seq], 256, None, torch.device("cpu"))
        torch.testing.assert_close(together[i], alone[0], rtol=1e-5, atol=1e-6)
