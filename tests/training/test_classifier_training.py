"""train_classifier: learns a trivial task, restores the best dev epoch, clips gradients, respects
frozen embeddings and the embedding learning rate; TrainConfig checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.inference.classifier import predict_proba
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.training.classifier import train_classifier
from nlp_pipeline.training.loop import TrainConfig

GOOD = 2
VOCAB_SIZE = 12


def make_task(n: int, seed: int) -> tuple[list[list[int]], list[int]]:
    rng = np.random.default_rng(seed)
    ids, labels = [], []
    for _ in range(n):
        seq = rng.integers(GOOD + 1, VOCAB_SIZE, size=int(rng.integers(2, 9))).tolist()
        if rng.random() < 0.5:
            seq[int(rng.integers(0, len(seq)))] = GOOD
        ids.append(seq)
        labels.append(int(GOOD in seq))
    return ids, labels


@pytest.fixture
def task():
    train = make_task(240, seed=0)
    dev = make_task(80, seed=1)
    return (*train, *dev)


def tiny_model(seed: int = 0, **kw) -> SequenceClassifier:
    torch.manual_seed(seed)
    defaults = dict(vocab_size=VOCAB_SIZE, num_classes=2, embedding_dim=12, hidden_size=12, dropout=0.0)
    defaults.update(kw)
    return SequenceClassifier(ClassifierConfig(**defaults))


FAST = dict(batch_size=16, num_threads=1, device="cpu")


def _accuracy(model, ids, y) -> float:
    return float((predict_proba(model, ids).argmax(axis=1) == np.asarray(y)).mean())


def test_overfits_tiny_task_to_full_train_accuracy(task):
    train_ids, train_y, dev_ids, dev_y = task
    model = tiny_model(encoder="bilstm", pooling="max", embedding_mode="random")
    messages: list[str] = []
    result = train_classifier(
        model,
        train_ids,
        train_y,
        dev_ids,
        dev_y,
        TrainConfig(epochs=8, lr=1e-2, patience=0, **FAST),
        progress=False,
        log=messages.append,
    )
    assert _accuracy(model, train_ids, train_y) == 1.0
    assert result.best_dev_accuracy == 1.0
    assert len(result.history) == 8 and len(messages) == 8
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    row = result.history[0]
    assert set(row) == {
        "epoch",
        "train_loss",
        "dev_loss",
        "dev_accuracy",
        "dev_macro_f1",
        "seconds",
        "tokens_per_second",
    }
    assert result.tokens_per_second > 0 and result.train_seconds > 0
    assert not model.training  # left in eval mode


def test_early_stopping_restores_best_epoch_weights(task):
    # Dev labels are the opposite of train labels, so dev accuracy falls as the model learns: the best
    # epoch is an early one and the final epoch's weights are clearly worse.
    train_ids, train_y, dev_ids, dev_y = task
    flipped = [1 - y for y in dev_y]
    model = tiny_model(embedding_mode="random", encoder="gru", pooling="mean")
    result = train_classifier(
        model, train_ids, train_y, dev_ids, flipped, TrainConfig(epochs=12, lr=3e-3, patience=2, **FAST), progress=False
    )
    accuracies = [row["dev_accuracy"] for row in result.history]
    assert result.best_epoch == int(np.argmax(accuracies)) + 1
    assert result.best_dev_accuracy == max(accuracies)
    assert len(result.history) == result.best_epoch + 2  # stopped after `patience` epochs without gain
    assert accuracies[-1] < result.best_dev_accuracy  # the last epoch was worse ...
    assert _accuracy(model, dev_ids, flipped) == result.best_dev_accuracy  # ... and its weights were replaced


def _grad_norms_during_training(task, clip_norm: float) -> list[float]:
    train_ids, train_y, dev_ids, dev_y = task
    model = tiny_model(embedding_mode="random")
    with torch.no_grad():
        model.output.weight.mul_(1e4)  # absurdly confident logits → huge loss and gradients on mistakes
    norms: list[float] = []

    def record(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    handle = register_optimizer_step_pre_hook(record)
    try:
        config = TrainConfig(epochs=1, lr=1e-3, clip_norm=clip_norm, **FAST)
        train_classifier(model, train_ids[:64], train_y[:64], dev_ids, dev_y, config, progress=False)
    finally:
        handle.remove()
    return norms


def test_gradient_clipping_bounds_the_norm(task):
    unclipped = _grad_norms_during_training(task, clip_norm=0.0)
    clipped = _grad_norms_during_training(task, clip_norm=1.0)
    assert max(unclipped) > 100.0  # the setup really produces exploding gradients ...
    assert max(clipped) <= 1.0 + 1e-4  # ... and clipping caps every step


@pytest.mark.parametrize("mode", ["frozen", "fine-tuned"])
def test_frozen_embeddings_stay_fixed_and_fine_tuned_change(task, mode):
    train_ids, train_y, dev_ids, dev_y = task
    matrix = np.random.default_rng(3).normal(scale=0.3, size=(VOCAB_SIZE, 12)).astype(np.float32)
    matrix[0] = 0
    model = tiny_model(embedding_mode="random")
    model = type(model)(type(model.config)(**{**model.config.to_dict(), "embedding_mode": mode}), matrix)
    before = model.embedding.weight.detach().clone()
    optimized: list[set[int]] = []
    handle = register_optimizer_step_pre_hook(
        lambda opt, a, k: optimized.append({id(p) for g in opt.param_groups for p in g["params"]})
    )
    try:
        config = TrainConfig(epochs=2, lr=1e-2, weight_decay=0.01, **FAST)
        train_classifier(model, train_ids, train_y, dev_ids, dev_y, config, progress=False)
    finally:
        handle.remove()
    after = model.embedding.weight.detach()
    in_optimizer = id(model.embedding.weight) in optimized[0]
    if mode == "frozen":
        assert torch.equal(before, after)
        assert not in_optimizer
    else:
        assert not torch.allclose(before, after)
        assert in_optimizer
    assert not after[0].any()  # the <pad> row never gets a gradient


def test_train_config_and_data_errors(task):
    with pytest.raises(ConfigError, match="train.batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="valid: epochs"):
        TrainConfig.from_dict({"epoch": 3})
    train_ids, train_y, _, _ = task
    with pytest.raises(DataError, match="dev split is empty"):
        train_classifier(tiny_model(), train_ids, train_y, [], [], TrainConfig(**FAST), progress=False)


def test_embedding_lr_scale_slows_embedding_updates(task):
    """A smaller embedding learning rate moves the pretrained rows less; scale 0 keeps them fixed."""
    train_ids, train_y, dev_ids, dev_y = task
    matrix = np.random.default_rng(3).normal(scale=0.3, size=(VOCAB_SIZE, 12)).astype(np.float32)
    matrix[0] = 0
    drift = {}
    for scale in (1.0, 0.1, 0.0):
        model = tiny_model(embedding_mode="random")
        model = type(model)(type(model.config)(**{**model.config.to_dict(), "embedding_mode": "fine-tuned"}), matrix)
        config = TrainConfig(epochs=2, lr=1e-2, embedding_lr_scale=scale, patience=0, **FAST)
        train_classifier(model, train_ids, train_y, dev_ids, dev_y, config, progress=False)
        drift[scale] = float((model.embedding.weight.detach() - torch.from_numpy(matrix)).abs().sum())
    assert drift[0.0] == 0.0
    assert 0.0 < drift[0.1] < drift[1.0]


def test_label_smoothing_makes_the_classifier_less_confident(task):
    """train.label_smoothing ε: with 2 labels the loss is lowest at 1 - ε/2 on the right one; without it,
    the same model and data drive the top probability towards 1."""
    train_ids, train_y, dev_ids, dev_y = task
    confidence = {}
    for smoothing in (0.0, 0.3):
        model = tiny_model(encoder="bilstm", pooling="max", embedding_mode="random", embedding_dropout=0.0)
        config = TrainConfig(epochs=12, lr=1e-2, patience=0, label_smoothing=smoothing, **FAST)
        train_classifier(model, train_ids, train_y, dev_ids, dev_y, config, progress=False)
        confidence[smoothing] = float(predict_proba(model, train_ids).max(axis=1).mean())
    assert confidence[0.0] > 0.85
    assert confidence[0.3] < min(confidence[0.0] - 0.15, 1 - 0.3 / 2)
