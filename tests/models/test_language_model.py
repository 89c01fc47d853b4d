"""The language model's architecture, settings checks and files."""

from __future__ import annotations

import json

import pytest
import torch

from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.models.encoder import RecurrentEncoder
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel, fit_cutoffs
from nlp_pipeline.models.language_model_io import EOS, load_language_model, save_language_model
from nlp_pipeline.text.vocab import Vocab


def _vocab(n: int) -> Vocab:
    return Vocab([Vocab.PAD, Vocab.UNK, EOS, *(f"w{i}" for i in range(n - 3))])


@pytest.mark.parametrize("output,tie", [("adaptive", False), ("full", False), ("full", True)])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_saved_model_loads_with_the_same_outputs(tmp_path, cell, output, tie):
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=40, embedding_dim=16, cell=cell, hidden_size=20, num_layers=2,
                                 output=output, cutoffs=(10, 20), tie_weights=tie)
    model = RNNLanguageModel(config).eval()
    vocab = _vocab(40)
    save_language_model(tmp_path, model, vocab, {"tokenizer": {"lowercase": True, "strip_html": True}})
    loaded, payload, loaded_vocab = load_language_model(tmp_path)
    ids = torch.randint(0, 40, (3, 7))
    with torch.no_grad():
        a, _ = model(ids)
        b, _ = loaded(ids)
        assert torch.equal(model.log_probs(a[:, -1]), loaded.log_probs(b[:, -1]))
    assert loaded_vocab == vocab and payload["format"] == "nlp-pipeline-language-model"
    if tie:  # one matrix: the output layer reads the embedding itself
        assert loaded.head is None and loaded.projection is not None
        with torch.no_grad():
            loaded.embedding.weight.add_(1.0)
            assert not torch.equal(loaded.log_probs(b[:, -1]), model.log_probs(a[:, -1]))


def test_log_probs_are_a_distribution_over_the_whole_vocabulary():
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=50, embedding_dim=6, hidden_size=16, cutoffs=(5, 20)))
    features, _ = model(torch.randint(0, 50, (2, 4)))
    probs = model.log_probs(features.reshape(-1, 16)).exp()
    assert probs.shape == (8, 50)
    assert torch.allclose(probs.sum(dim=1), torch.ones(8), atol=1e-5)


def test_layers_have_the_names_and_shapes_of_a_bidirectional_encoders_directions():
    """What lets language-model weights land in a classifier or tagger: tensors copied by name."""
    lm = RNNLanguageModel(LanguageModelConfig(vocab_size=30, embedding_dim=8, hidden_size=10, num_layers=1,
                                              cutoffs=(10,)))
    encoder = RecurrentEncoder("lstm", 8, 10, num_layers=1, bidirectional=True, dropout=0.0)
    for direction in (encoder.forward_layers[0], encoder.backward_layers[0]):
        want = {k: v.shape for k, v in direction.state_dict().items()}
        assert {k: v.shape for k, v in lm.layers[0].state_dict().items()} == want


@pytest.mark.parametrize("kwargs,message", [
    ({"tie_weights": True}, "needs lm.output=full"),
    ({"cell": "transformer"}, "lm.cell"),
    ({"direction": "both"}, "lm.direction"),
    ({"cutoffs": (30, 10)}, "increasing"),
    ({"cutoffs": (10, 60)}, "vocabulary size"),
    ({"hidden_size": 0}, "lm.hidden_size"),
    ({"hidden_size": 15}, "hidden size of at least 16"),
])
def test_contradicting_settings_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LanguageModelConfig(**{"vocab_size": 50, "embedding_dim": 4, "hidden_size": 32, "cutoffs": (10, 20),
                               **kwargs})


def test_cutoffs_past_a_small_vocabulary_are_dropped():
    assert fit_cutoffs((2000, 10000), 50_000) == (2000, 10000)
    assert fit_cutoffs((2000, 10000), 5000) == (2000,)
    assert fit_cutoffs((2000, 10000), 100) == (50,)


def test_a_classifier_folder_is_not_loaded_as_a_language_model(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format": "nlp-pipeline-classifier", "model": {}}))
    with pytest.raises(DataError, match="not a language model"):
        load_language_model(tmp_path)


def test_damaged_weights_are_a_data_error(tmp_path):
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=20, embedding_dim=4, hidden_size=4, cutoffs=(5,)))
    save_language_model(tmp_path, model, _vocab(20), {})
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(DataError, match="model.safetensors"):
        load_language_model(tmp_path)


def test_a_relu_rnn_language_model_is_saved_and_loaded_as_one(tmp_path):
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=20, embedding_dim=6, cell="rnn", hidden_size=8,
                                                 output="full", nonlinearity="relu")).eval()
    save_language_model(tmp_path, model, _vocab(20), {})
    loaded, _, _ = load_language_model(tmp_path)
    assert loaded.config.nonlinearity == "relu" and loaded.layers[0].nonlinearity == "relu"
    ids = torch.randint(0, 20, (2, 5))
    with torch.no_grad():
        assert torch.equal(model(ids)[0], loaded(ids)[0])
    with pytest.raises(ConfigError, match="lm.nonlinearity"):
        LanguageModelConfig(vocab_size=20, embedding_dim=6, nonlinearity="sigmoid")
