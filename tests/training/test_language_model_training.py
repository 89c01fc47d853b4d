"""Truncated BPTT, the token budget, the backward model's text, and learning what can be learnt."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from nlp_pipeline.inference.language_model import LanguageModel
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_pipeline.models.language_model_io import EOS
from nlp_pipeline.text.tokenize import TokenizerConfig
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training import language_model as lm_training
from nlp_pipeline.training.language_model import (
    LMTrainConfig,
    about,
    batchify,
    epoch_stream,
    reverse_documents,
    segments,
    train_language_model,
)

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight"]


def _vocab() -> Vocab:
    return Vocab([Vocab.PAD, Vocab.UNK, EOS, *WORDS])


def _documents(docs: list[list[str]], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    ids = [vocab.encode(d) + [vocab.stoi[EOS]] for d in docs]
    offsets = np.cumsum([0, *map(len, ids)])
    return np.concatenate(ids).astype(np.int32), offsets


def _model(vocab: Vocab, **kw) -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=16, hidden_size=32,
                                                output="full", dropout=0.0, embedding_dropout=0.0, **kw))


def test_reverse_documents_reverses_each_documents_words_and_keeps_its_eos_last():
    ids = np.array([5, 6, 7, 2, 8, 9, 2], dtype=np.int32)
    offsets = np.array([0, 4, 7])
    assert reverse_documents(ids, offsets).tolist() == [7, 6, 5, 2, 9, 8, 2]


def test_stream_rows_are_contiguous_and_targets_are_the_next_token():
    data = batchify(np.arange(22), rows=2)  # 22 // 2 = 11 per row
    assert data.tolist() == [list(range(11)), list(range(11, 22))]
    pieces = list(segments(data, bptt=4))
    assert [x.shape[1] for x, _ in pieces] == [4, 4, 2]
    for x, y in pieces:
        assert torch.equal(y, x + 1)


def test_epoch_stream_keeps_every_document_whole_in_a_seeded_order():
    vocab = _vocab()
    ids, offsets = _documents([WORDS[:2], WORDS[2:5], WORDS[5:]], vocab)
    a = epoch_stream(ids, offsets, np.random.default_rng(1))
    b = epoch_stream(ids, offsets, np.random.default_rng(1))
    assert a.tolist() == b.tolist() and sorted(a.tolist()) == sorted(ids.tolist())
    docs = [tuple(d) for d in np.split(a, np.flatnonzero(a == vocab.stoi[EOS]) + 1) if len(d)]
    assert sorted(docs) == sorted(tuple(ids[s:e]) for s, e in zip(offsets[:-1], offsets[1:]))


def test_state_is_carried_across_segments_and_the_gradient_stops_at_their_start():
    """Every segment after the first starts from the state the previous one ended in (its values), but
    detached: no graph reaches back past ``bptt`` steps. Checked on the real training loop."""
    vocab = _vocab()
    ids, offsets = _documents([WORDS] * 30, vocab)
    model = _model(vocab)
    seen: list[tuple] = []
    forward = model.forward

    def recording(x, state=None):
        out, new_state = forward(x, state)
        if model.training:
            seen.append((x.shape[1], state, [tuple(t.detach().clone() for t in s) for s in new_state]))
        return out, new_state

    model.forward = recording
    config = LMTrainConfig(epochs=1, batch_size=2, bptt=5, lr=1e-3, evaluations=1, seed=0, num_threads=1)
    train_language_model(model, ids, offsets, ids[:40], config, log=lambda m: None)
    assert len(seen) > 3 and seen[0][1] is None  # a fresh stream starts from zeros
    assert all(steps <= 5 for steps, _, _ in seen)
    for (_, _, ended), (_, started, _) in zip(seen, seen[1:]):
        for (h_end, c_end), (h, c) in zip(ended, started):
            assert torch.equal(h, h_end) and torch.equal(c, c_end)  # carried: the same values
            assert h.grad_fn is None and c.grad_fn is None and not h.requires_grad  # detached


def test_backpropagation_through_a_detached_state_reaches_only_the_current_segment():
    vocab = _vocab()
    model = _model(vocab)
    first = torch.tensor([[3, 4, 5, 6]])
    embedded = []

    def keep(module, inputs, out):
        out.retain_grad()
        embedded.append(out)

    model.embedding.register_forward_hook(keep)
    _, state = model(first)
    from nlp_pipeline.models.language_model import detach_state

    features, _ = model(torch.tensor([[7, 8, 9, 10]]), detach_state(state))
    model.loss(features, torch.tensor([[8, 9, 10, 2]])).backward()
    assert embedded[0].grad is None  # no path from the second segment's loss to the first's inputs
    assert embedded[1].grad is not None and embedded[1].grad.abs().sum() > 0


def test_the_token_budget_caps_training_whatever_the_epochs():
    vocab = _vocab()
    ids, offsets = _documents([WORDS] * 50, vocab)
    config = LMTrainConfig(epochs=5, max_tokens=200, batch_size=2, bptt=10, evaluations=2, seed=0, num_threads=1)
    result = train_language_model(_model(vocab), ids, offsets, ids[:30], config, log=lambda m: None)
    assert 200 <= result.tokens_trained < 200 + 2 * 10
    assert len(result.history) == 2 and result.history[-1]["tokens"] == result.tokens_trained


@pytest.mark.parametrize(("seconds", "text"), [(44.6, "45 s"), (59.4, "59 s"), (720, "12 min"), (7_500, "2 h 5 min")])
def test_a_duration_reads_as_a_person_says_it(seconds, text):
    assert about(seconds) == text


def test_the_log_says_early_how_long_training_takes_and_which_setting_sets_it(monkeypatch):
    monkeypatch.setattr(lm_training, "ESTIMATE_AFTER_SECONDS", 0.0)  # a tiny run: estimate after its first step
    vocab = _vocab()
    ids, offsets = _documents([WORDS] * 50, vocab)
    config = LMTrainConfig(epochs=1, max_tokens=200, batch_size=2, bptt=10, evaluations=2, seed=0, num_threads=1)
    lines: list[str] = []
    train_language_model(_model(vocab), ids, offsets, ids[:30], config, log=lines.append,
                         budget_setting="model.lm_finetune_tokens")
    estimates = [line for line in lines if "take about" in line]
    assert len(estimates) == 1
    expected = r"tokens/s: the 200 tokens take about \d+ s of training \(model.lm_finetune_tokens sets the budget\)"
    assert re.search(expected, estimates[0])
    evaluations = [line for line in lines if "held-out ppl" in line]
    assert len(evaluations) == 2 and "to go" in evaluations[0] and "to go" not in evaluations[-1]


def _lm(model: RNNLanguageModel, vocab: Vocab) -> LanguageModel:
    return LanguageModel(model, vocab, TokenizerConfig(lowercase=True, strip_html=False), {})


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_a_tiny_model_learns_a_deterministic_sequence_and_generation_reproduces_it(direction):
    vocab = _vocab()
    ids, offsets = _documents([WORDS] * 60, vocab)
    if direction == "backward":
        ids = reverse_documents(ids, offsets)
    model = _model(vocab, direction=direction)
    config = LMTrainConfig(epochs=20, batch_size=4, bptt=12, lr=1e-2, evaluations=2, seed=0, num_threads=1)
    result = train_language_model(model, ids, offsets, ids[:27], config, log=lambda m: None)
    assert result.best["heldout_ppl"] < 1.2  # the sequence is all but certain
    lm = _lm(model, vocab)
    if direction == "forward":
        out = lm.generate("one two", max_tokens=20, temperature=0)
    else:  # the prompt is the end of the text; the model writes what comes before it
        out = lm.generate("seven eight", max_tokens=20, temperature=0)
    assert out["text"] == " ".join(WORDS) and out["stopped"] == "eos" and out["tokens"] == 6
    assert lm.generate("", max_tokens=20, temperature=0)["text"] == " ".join(WORDS)


def test_perplexity_of_structured_text_drops_below_the_unigram_perplexity():
    vocab = _vocab()
    rng = np.random.default_rng(0)
    docs = [WORDS[s:s + 4] for s in rng.integers(0, 5, size=300)]  # a random start, then the order holds
    ids, offsets = _documents(docs, vocab)
    freq = np.bincount(ids, minlength=len(vocab)) + 1.0
    freq /= freq.sum()
    heldout = ids[:100]
    unigram = math.exp(-np.log(freq[heldout]).mean())
    config = LMTrainConfig(epochs=3, batch_size=4, bptt=10, lr=5e-3, evaluations=3, seed=0, num_threads=1)
    result = train_language_model(_model(vocab), ids, offsets, heldout, config, log=lambda m: None)
    assert result.best["heldout_ppl"] < 0.5 * unigram


def test_same_seed_same_weights_on_the_cpu():
    vocab = _vocab()
    ids, offsets = _documents([WORDS] * 20, vocab)
    config = LMTrainConfig(epochs=1, batch_size=2, bptt=8, evaluations=1, seed=3, num_threads=1)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=8,
                                                     output="full"))
        train_language_model(model, ids, offsets, ids[:20], config, log=lambda m: None)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
