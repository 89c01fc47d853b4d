"""Language-model weights land in a classifier's and a tagger's layers, by value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.embedding import build_embedding_matrix
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_pipeline.models.language_model_io import EOS, save_language_model
from nlp_pipeline.models.lm_transfer import (
    check_encoder_against,
    copy_recurrent_layers,
    embedding_vectors,
    encoder_settings,
    load_encoder_lms,
)
from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
from nlp_pipeline.text.vocab import Vocab

WORDS = ["the", "film", "was", "good", "bad", "plot"]


@pytest.fixture(scope="module")
def lm_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    vocab = Vocab([Vocab.PAD, Vocab.UNK, EOS, *WORDS])
    folders = {}
    for seed, direction, cell in [(1, "forward", "lstm"), (2, "backward", "lstm"), (3, "forward", "gru")]:
        torch.manual_seed(seed)
        model = RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=6, hidden_size=16,
                                                     num_layers=2, cell=cell, cutoffs=(4,), direction=direction))
        folder = root / f"{direction}-{cell}"
        save_language_model(folder, model, vocab, {})
        folders[(direction, cell)] = folder
    return folders


def _classifier(lms, encoder: str, num_layers: int, vocab: Vocab):
    kv = embedding_vectors(lms)
    matrix, coverage = build_embedding_matrix(vocab, kv, lms.embedding_dim, seed=0)
    cfg = ClassifierConfig(vocab_size=len(vocab), num_classes=2, embedding_dim=lms.embedding_dim, encoder=encoder,
                           hidden_size=lms.hidden_size, num_layers=num_layers)
    model = SequenceClassifier(cfg, embedding_matrix=matrix)
    return model, copy_recurrent_layers(model.encoder, lms), coverage


def test_a_bilstm_classifier_starts_from_both_models_layers_and_the_forward_embedding(lm_folders):
    lms = load_encoder_lms(lm_folders[("forward", "lstm")], lm_folders[("backward", "lstm")])
    vocab = Vocab([Vocab.PAD, Vocab.UNK, "film", "unseenword", "the"])
    model, copied, coverage = _classifier(lms, "bilstm", 2, vocab)
    assert copied == 2 and coverage == pytest.approx(2 / 3)
    for name, value in lms.forward.layers[0].state_dict().items():
        assert torch.equal(getattr(model.encoder.forward_layers[0], name), value)
    for name, value in lms.backward.layers[0].state_dict().items():
        assert torch.equal(getattr(model.encoder.backward_layers[0], name), value)
    # layer 2 reads both directions' outputs [forward 16 | backward 16]: each takes its own model's columns
    fwd_ih, bwd_ih = model.encoder.forward_layers[1].weight_ih_l0, model.encoder.backward_layers[1].weight_ih_l0
    assert torch.equal(fwd_ih[:, :16], lms.forward.layers[1].weight_ih_l0) and not fwd_ih[:, 16:].any()
    assert torch.equal(bwd_ih[:, 16:], lms.backward.layers[1].weight_ih_l0) and not bwd_ih[:, :16].any()
    assert torch.equal(model.encoder.backward_layers[1].weight_hh_l0, lms.backward.layers[1].weight_hh_l0)
    lm_rows = lms.forward.embedding.weight.detach()
    for word in ("film", "the"):
        assert torch.equal(model.embedding.weight[vocab.stoi[word]].detach(), lm_rows[lms.vocab.stoi[word]])
    assert not any(torch.equal(model.embedding.weight[3].detach(), row) for row in lm_rows)  # drawn at random


def test_extra_encoder_layers_start_at_random_and_missing_ones_leave_the_models_top_out(lm_folders):
    lms = load_encoder_lms(lm_folders[("forward", "lstm")])
    vocab = Vocab([Vocab.PAD, Vocab.UNK, "film"])
    model, copied, _ = _classifier(lms, "lstm", 3, vocab)
    assert copied == 2
    assert not torch.equal(model.encoder.forward_layers[2].weight_hh_l0, lms.forward.layers[1].weight_hh_l0)
    model, copied, _ = _classifier(lms, "lstm", 1, vocab)
    assert copied == 1 and torch.equal(model.encoder.forward_layers[0].weight_ih_l0, lms.forward.layers[0].weight_ih_l0)


def test_a_taggers_first_layer_takes_the_word_columns_and_zeroes_its_character_columns(lm_folders):
    lms = load_encoder_lms(lm_folders[("forward", "lstm")], lm_folders[("backward", "lstm")])
    cfg = TaggerConfig(vocab_size=5, num_tags=3, char_vocab_size=10, embedding_dim=6, hidden_size=16, num_layers=1,
                       char_encoder="cnn", char_hidden=8)
    torch.manual_seed(0)
    model = SequenceTagger(cfg)
    assert copy_recurrent_layers(model.encoder, lms) == 1
    after = model.encoder.forward_layers[0].weight_ih_l0.detach()
    assert torch.equal(after[:, :6], lms.forward.layers[0].weight_ih_l0.detach())
    assert not after[:, 6:].any()  # at the start the layer computes what the language model's does
    assert torch.equal(model.encoder.backward_layers[0].weight_hh_l0, lms.backward.layers[0].weight_hh_l0)


def test_settings_that_contradict_the_language_models_are_config_errors(lm_folders):
    forward = load_encoder_lms(lm_folders[("forward", "lstm")])
    with pytest.raises(ConfigError, match="model.encoder=gru contradicts the language model, a lstm"):
        encoder_settings(forward, "gru")
    with pytest.raises(ConfigError, match="needs a backward language model"):
        encoder_settings(forward, "bilstm")
    assert encoder_settings(forward, "lstm") == {"hidden_size": 16, "embedding_dim": 6}
    with pytest.raises(ConfigError, match="is a backward language model where a forward one is needed"):
        load_encoder_lms(lm_folders[("backward", "lstm")])
    with pytest.raises(ConfigError, match="differ in cell"):
        load_encoder_lms(lm_folders[("forward", "gru")], lm_folders[("backward", "lstm")])
    gru = load_encoder_lms(lm_folders[("forward", "gru")])
    assert encoder_settings(gru, "gru")["hidden_size"] == 16


def test_a_plain_rnn_starts_from_a_language_model_of_its_own_activation(tmp_path):
    vocab = Vocab([Vocab.PAD, Vocab.UNK, EOS, *WORDS])
    for nonlinearity in ("tanh", "relu"):
        model = RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=6, hidden_size=8, cell="rnn",
                                                     cutoffs=(4,), nonlinearity=nonlinearity))
        save_language_model(tmp_path / nonlinearity, model, vocab, {})
    relu = load_encoder_lms(tmp_path / "relu")
    assert encoder_settings(relu, "rnn", "relu")["hidden_size"] == 8
    with pytest.raises(ConfigError, match="model.nonlinearity=tanh contradicts the language model, a relu rnn"):
        encoder_settings(relu, "rnn", "tanh")
    with pytest.raises(ConfigError, match="model.nonlinearity=relu contradicts the language model, a tanh rnn"):
        check_encoder_against([tmp_path / "tanh"], "rnn", "relu")  # on config.json alone, before any stage


def test_the_language_models_embedding_as_vectors_leaves_out_its_specials(lm_folders):
    lms = load_encoder_lms(lm_folders[("forward", "lstm")])
    kv = embedding_vectors(lms)
    assert kv.index_to_key == WORDS
    assert np.array_equal(kv["plot"], lms.forward.embedding.weight.detach().numpy()[lms.vocab.stoi["plot"]])
