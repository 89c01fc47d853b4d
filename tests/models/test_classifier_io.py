"""save_classifier / load_classifier: identical predictions, safetensors only (no pickle), clear errors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import load_file

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.batching import pad_batch
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.classifier_io import load_classifier, save_classifier
from nlp_pipeline.text.vocab import Vocab

VOCAB = Vocab(["<pad>", "<unk>", "good", "bad", "film", "plot", "the"])
META = {"tokenizer": {"lowercase": True, "strip_html": True, "language": "en"}, "max_length": 50, "corpus": "toy"}


def _model(**kw) -> tuple[SequenceClassifier, ClassifierConfig]:
    torch.manual_seed(0)
    settings = dict(vocab_size=len(VOCAB), num_classes=3, embedding_dim=6, hidden_size=5, embedding_mode="frozen")
    config = ClassifierConfig(**{**settings, **kw})
    return SequenceClassifier(config).eval(), config


@pytest.fixture
def saved(tmp_path):
    model, config = _model(encoder="gru", pooling="mean")
    directory = tmp_path / "model"
    save_classifier(directory, model, config, VOCAB, ["neg", "neu", "pos"], META)
    return directory, model


def test_roundtrip_gives_identical_predictions_without_pickle(saved, monkeypatch):
    directory, model = saved
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors", "vocab.json"]

    def forbidden(*args, **kwargs):
        raise AssertionError("loading a classifier must not unpickle anything")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    loaded, config_json, vocab = load_classifier(directory, device="cpu")

    assert vocab.itos == VOCAB.itos
    assert config_json["labels"] == ["neg", "neu", "pos"]
    assert config_json["tokenizer"] == META["tokenizer"] and config_json["max_length"] == 50
    assert ClassifierConfig.from_dict(config_json["model"]) == model.config
    assert not loaded.training
    assert not loaded.embedding.weight.requires_grad  # frozen mode survives the round trip
    token_ids, lengths = pad_batch([[2, 4, 6], [3, 5], [1]], max_length=None)
    with torch.no_grad():
        assert torch.equal(loaded(token_ids, lengths), model(token_ids, lengths))


def test_weights_file_is_plain_safetensors(saved):
    directory, model = saved
    tensors = load_file(str(directory / "model.safetensors"))
    assert tensors.keys() == model.state_dict().keys()
    assert torch.equal(tensors["embedding.weight"], model.embedding.weight)
    assert json.loads((directory / "config.json").read_text())["model"]["encoder"] == "gru"


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "model.safetensors"])
def test_missing_file_is_data_error_naming_it(saved, name):
    directory, _ = saved
    (directory / name).unlink()
    with pytest.raises(DataError, match=name):
        load_classifier(directory)


@pytest.mark.parametrize("name", ["config.json", "vocab.json", "model.safetensors"])
def test_corrupt_file_is_data_error_naming_it(saved, name):
    directory, _ = saved
    (directory / name).write_bytes(b"\x00garbage{")
    with pytest.raises(DataError, match=name):
        load_classifier(directory)


def test_weights_not_matching_config_is_data_error(saved, tmp_path):
    directory, _ = saved
    other, other_config = _model(encoder="gru", pooling="mean", hidden_size=7)
    save_classifier(tmp_path / "other", other, other_config, VOCAB, ["neg", "neu", "pos"], META)
    (directory / "model.safetensors").write_bytes((tmp_path / "other" / "model.safetensors").read_bytes())
    with pytest.raises(DataError, match="model.safetensors"):
        load_classifier(directory)
