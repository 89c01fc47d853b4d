"""Discriminative learning rates and gradual unfreezing (ULMFiT) in the classifier and tagger loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.training.classifier import train_classifier
from nlp_pipeline.training.loop import TrainConfig, build_optimizer, layer_groups


def _model(layers: int = 2, mode: str = "fine-tuned") -> SequenceClassifier:
    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=30, num_classes=2, embedding_dim=8, encoder="bilstm", hidden_size=6,
                           num_layers=layers, embedding_mode=mode)
    return SequenceClassifier(cfg, embedding_matrix=np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32))


def test_layer_groups_run_from_the_output_layer_down_to_the_embedding():
    model = _model(layers=2)
    groups = layer_groups(model)
    assert len(groups) == 4
    ids = [{id(p) for p in g} for g in groups]
    assert {id(p) for p in model.output.parameters()} <= ids[0]
    assert ids[1] == {id(p) for m in (model.encoder.forward_layers[1], model.encoder.backward_layers[1])
                      for p in m.parameters()}
    assert ids[2] == {id(p) for m in (model.encoder.forward_layers[0], model.encoder.backward_layers[0])
                      for p in m.parameters()}
    assert ids[3] == {id(model.embedding.weight)}
    assert sum(len(g) for g in groups) == len(list(model.parameters()))


def test_each_group_below_learns_at_the_rate_above_over_the_decay():
    model = _model(layers=2)
    config = TrainConfig(lr=1e-2, lr_layer_decay=2.0, embedding_lr_scale=0.5, device="cpu")
    optimizer, params = build_optimizer(model, config, torch.device("cpu"))
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([1e-2, 5e-3, 2.5e-3, 1.25e-3 * 0.5])
    assert len(params) == len(list(model.parameters()))


def test_frozen_embeddings_stay_out_of_the_optimizer_with_discriminative_rates():
    model = _model(layers=1, mode="frozen")
    optimizer, _ = build_optimizer(model, TrainConfig(lr_layer_decay=2.6, device="cpu"), torch.device("cpu"))
    assert all(id(model.embedding.weight) not in {id(p) for p in g["params"]} for g in optimizer.param_groups)


def test_gradual_unfreezing_trains_one_more_group_down_each_epoch():
    model = _model(layers=1)
    rng = np.random.default_rng(0)
    ids = [rng.integers(2, 30, size=rng.integers(3, 9)).tolist() for _ in range(40)]
    y = [int(sum(s) % 2) for s in ids]
    snapshots, messages = [], []

    def log(msg):  # each epoch's start (the unfreezing line) and the last epoch's end (its summary line)
        messages.append(msg)
        if "gradual unfreezing" in msg or msg.startswith("epoch 3/3:"):
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    config = TrainConfig(epochs=3, batch_size=8, lr=1e-2, embedding_lr_scale=1.0, unfreeze="gradual", patience=0,
                         device="cpu", num_threads=1)
    train_classifier(model, ids, y, ids[:8], y[:8], config, progress=False, log=log)
    assert [m for m in messages if "gradual" in m] == [
        f"epoch {e}: training the top {e} of 3 layer groups (gradual unfreezing)" for e in (1, 2, 3)]
    start1, start2, start3, end3 = snapshots
    lstm, emb, out = "encoder.forward_layers.0.weight_hh_l0", "embedding.weight", "output.weight"
    assert not torch.equal(start1[out], start2[out])  # epoch 1: the output layer only
    assert torch.equal(start1[lstm], start2[lstm]) and torch.equal(start1[emb], start2[emb])
    assert not torch.equal(start2[lstm], start3[lstm]) and torch.equal(start2[emb], start3[emb])  # epoch 2: + encoder
    assert not torch.equal(start3[emb], end3[emb])  # epoch 3: the embedding too
    assert all(p.requires_grad for p in model.parameters())  # as they were before training


def test_bad_schedule_settings_name_their_key():
    with pytest.raises(ConfigError, match="train.lr_layer_decay"):
        TrainConfig(lr_layer_decay=0.5)
    with pytest.raises(ConfigError, match="train.unfreeze"):
        TrainConfig(unfreeze="slowly")
