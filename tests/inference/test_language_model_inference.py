"""Sampling rules, detokenization and streamed perplexity of `LanguageModel`."""

from __future__ import annotations

import math

import pytest
import torch

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.inference import language_model as lm_module
from nlp_pipeline.inference.language_model import LanguageModel, check_sampling, detokenize, sample_next
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_pipeline.models.language_model_io import EOS
from nlp_pipeline.text.tokenize import TokenizerConfig
from nlp_pipeline.text.vocab import Vocab

WORDS = ["the", "film", "was", "good", "bad", ".", "and", "i", "liked", "it"]


@pytest.fixture(scope="module")
def lm() -> LanguageModel:
    torch.manual_seed(0)
    vocab = Vocab([Vocab.PAD, Vocab.UNK, EOS, *WORDS])
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=8,
                                                 cutoffs=(5,)))
    return LanguageModel(model, vocab, TokenizerConfig(lowercase=True, strip_html=True), {})


def test_top_k_and_top_p_only_ever_sample_the_words_they_keep():
    log_probs = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    g = torch.Generator().manual_seed(0)
    assert {sample_next(log_probs, 1.0, 2, 1.0, g) for _ in range(300)} == {0, 1}
    assert {sample_next(log_probs, 1.0, 0, 0.7, g) for _ in range(300)} == {0, 1}  # 0.5 + 0.3 reach 0.7
    assert {sample_next(log_probs, 1.0, 0, 0.4, g) for _ in range(50)} == {0}  # the top word always stays
    assert {sample_next(log_probs, 1.0, 0, 1.0, g) for _ in range(2000)} == {0, 1, 2, 3}
    assert sample_next(log_probs, 0.0, 0, 1.0, g) == 0  # temperature 0: greedy


def test_a_low_temperature_concentrates_the_samples():
    log_probs = torch.log(torch.tensor([0.4, 0.35, 0.25]))
    g = torch.Generator().manual_seed(1)
    cold = sum(sample_next(log_probs, 0.2, 0, 1.0, g) == 0 for _ in range(500))
    warm = sum(sample_next(log_probs, 1.0, 0, 1.0, g) == 0 for _ in range(500))
    assert cold > warm + 100


def test_generation_is_reproducible_with_a_seed_and_never_samples_specials(lm):
    a = lm.generate("the film", max_tokens=30, seed=7)
    b = lm.generate("the film", max_tokens=30, seed=7)
    assert a == b and a["text"].startswith("the film")
    outs = {lm.generate("the film", max_tokens=30, seed=s)["generated"] for s in range(8)}
    assert len(outs) > 1
    for s in range(20):
        assert "<unk>" not in lm.generate("", max_tokens=30, seed=s)["text"]


@pytest.mark.parametrize("kwargs,option", [({"max_tokens": 0}, "--max-tokens"),
                                           ({"temperature": -1.0}, "--temperature"),
                                           ({"top_k": -2}, "--top-k"), ({"top_p": 0.0}, "--top-p")])
def test_bad_sampling_settings_name_their_option(kwargs, option):
    settings = {"max_tokens": 5, "temperature": 1.0, "top_k": 0, "top_p": 1.0, **kwargs}
    with pytest.raises(ConfigError, match=option):
        check_sampling(**settings)


def test_detokenize_joins_punctuation_and_clitics():
    tokens = ["i", "do", "n't", "think", "it", "'s", "good", ",", "really", "."]
    assert detokenize(tokens) == "i don't think it's good, really."
    assert detokenize(["(", "a", ")", "$", "5"]) == "(a) $5"


def test_perplexity_is_the_same_in_any_chunking_and_counts_every_eos(lm, monkeypatch):
    texts = ["the film was good .", "", "i liked it and the film was bad .", "unknownword the film"]
    whole = lm.perplexity(texts)
    assert whole["documents"] == 3 and whole["tokens"] == 5 + 9 + 3 + 3  # words + one <eos> each
    assert whole["unknown_rate"] == pytest.approx(1 / 17, abs=1e-4)
    monkeypatch.setattr(lm_module, "SCORE_CHUNK", 3)
    chunked = lm.perplexity(iter(texts))  # a generator: read once, streamed
    assert chunked["perplexity"] == pytest.approx(whole["perplexity"], rel=1e-5)


def test_perplexity_matches_the_probabilities_of_the_words(lm):
    """exp of the mean negative log-probability of each token given all before it (from <eos>)."""
    ids = [lm.vocab.stoi[w] for w in ["the", "film", "was", "good"]] + [lm.eos]
    with torch.no_grad():
        features, _ = lm.model(torch.tensor([[lm.eos, *ids[:-1]]]))
        log_probs = lm.model.log_probs(features[0])
    expected = math.exp(-float(log_probs[torch.arange(len(ids)), torch.tensor(ids)].mean()))
    assert lm.perplexity(["the film was good"])["perplexity"] == pytest.approx(expected, rel=1e-4)
