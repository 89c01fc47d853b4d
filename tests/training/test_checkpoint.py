"""Checkpoints: the format round-trips (weights, optimizer, every RNG), a checkpoint that is not this build's
or not whole is ignored in one line and removed, and a loop stopped at any batch and resumed ends with the
same bytes as one never stopped (classifier, tagger, language model, a part of a build).

A stop is an exception raised from the model's forward pass at a chosen training batch, after the loop
saved a checkpoint at every batch (``every_seconds`` tiny): in this process, in a fraction of a second. The
CLI tests (tests/e2e/test_resume.py) do the same with ``kill -9`` in fresh processes.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from test_classifier_training import make_task, tiny_model

from nlp_pipeline.engine import PartialBuild
from nlp_pipeline.errors import PipelineError
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_pipeline.training.checkpoint import (
    CHECKPOINT_FILE,
    Checkpoints,
    describe,
    load_optimizer_state,
    optimizer_state,
    prefixed,
    rng_state,
    set_rng_state,
)
from nlp_pipeline.training.classifier import train_classifier
from nlp_pipeline.training.language_model import LMTrainConfig, train_language_model
from nlp_pipeline.training.loop import TrainConfig

KEY = "0123456789abcdef0123"


class Stopped(Exception):
    """Stands for the kill: raised where the process would have died."""


def stop_after(model: torch.nn.Module, batches: int) -> None:
    """Make ``model`` raise `Stopped` on its training forward pass number ``batches + 1``."""
    forward, calls = model.forward, [0]

    def counting(*args, **kwargs):
        if model.training:
            calls[0] += 1
            if calls[0] > batches:
                raise Stopped
        return forward(*args, **kwargs)

    model.forward = counting


def partial_build(tmp_path, every_seconds: float = 1e-9, **kw) -> PartialBuild:
    return PartialBuild(tmp_path / "partial" / "train" / KEY, "train", KEY, "3", every_seconds, **kw)


def weights(model: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.cpu().numpy().tobytes() for k, v in model.state_dict().items()}


def without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("seconds", "tokens_per_second")} for row in history]


# -- the format ---------------------------------------------------------------------------------------------


def _trained_adam(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 3))
    optimizer = torch.optim.Adam([{"params": model[1].parameters()}, {"params": model[0].parameters(), "lr": 1e-4}],
                                 lr=0.01, betas=(0.8, 0.95), fused=True)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.tensor([[1, 2, 3]])).sum().backward()
        optimizer.step()
    optimizer.param_groups[0]["lr"] *= 0.5  # a decayed rate is part of the state
    return model, optimizer


def test_round_trip_restores_weights_optimizer_and_every_generator(tmp_path):
    model, optimizer = _trained_adam(seed=0)
    order = np.random.default_rng(5)
    order.permutation(10)
    dropout = torch.Generator().manual_seed(7)
    torch.rand(3, generator=dropout)
    torch.manual_seed(11), np.random.seed(12), random.seed(13)
    generators = {"order": order, "dropout": dropout}
    opt_tensors, opt_values = optimizer_state(optimizer)
    rng_tensors, rng_values = rng_state(generators)
    saved = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None)
    saved.save({**prefixed("model.", model.state_dict()), **opt_tensors, **rng_tensors},
               {"optimizer": opt_values, "rng": rng_values}, {"epoch": 2, "batch": 3, "batches": 9})
    draws = (torch.rand(4), np.random.rand(2), random.random(), order.random(3), torch.rand(2, generator=dropout))
    files = sorted(p.name for p in saved.folder.iterdir())
    assert files[0] == CHECKPOINT_FILE and files[1].endswith(".safetensors") and len(files) == 2  # no pickle

    lines: list[str] = []
    loaded = Checkpoints(partial_build(tmp_path), "test", log=lines.append).load()
    assert loaded is not None and loaded.position == {"epoch": 2, "batch": 3, "batches": 9}
    assert lines == [f"  resuming train [{KEY[:12]}] from epoch 2, batch 3 of 9 (checkpoint 0 s old)"]
    fresh, fresh_optimizer = _trained_adam(seed=1)  # other weights, moments and steps
    fresh.load_state_dict(loaded.take("model."))
    load_optimizer_state(fresh_optimizer, loaded, loaded.state["optimizer"])
    assert weights(fresh) == weights(model)
    want, got = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert got["param_groups"] == want["param_groups"] and got["param_groups"][0]["betas"] == (0.8, 0.95)
    assert got["state"].keys() == want["state"].keys()
    for index, entry in want["state"].items():
        assert got["state"][index].keys() == entry.keys()
        for name, value in entry.items():
            assert torch.equal(got["state"][index][name], value) and got["state"][index][name].dtype == value.dtype

    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    order2, dropout2 = np.random.default_rng(0), torch.Generator()
    set_rng_state(loaded, loaded.state["rng"], {"order": order2, "dropout": dropout2})
    again = (torch.rand(4), np.random.rand(2), random.random(), order2.random(3), torch.rand(2, generator=dropout2))
    assert torch.equal(again[0], draws[0]) and np.array_equal(again[1], draws[1]) and again[2] == draws[2]
    assert np.array_equal(again[3], draws[3]) and torch.equal(again[4], draws[4])


def test_a_new_checkpoint_replaces_the_old_one_whole(tmp_path):
    saved = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None)
    for batch in (1, 2):
        saved.save({"w": torch.full((3,), float(batch))}, {}, {"epoch": 1, "batch": batch, "batches": 5})
    assert len(list(saved.folder.glob("*.safetensors"))) == 1
    loaded = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None).load()
    assert loaded is not None and loaded.tensors["w"].tolist() == [2.0, 2.0, 2.0]
    assert describe(saved.folder.parent.parent.parent)["progress"] == "epoch 1, batch 2 of 5"


def test_tied_weights_and_views_are_saved_each_whole(tmp_path):
    shared = torch.arange(12.0).reshape(3, 4)
    saved = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None)
    saved.save({"embedding": shared, "decoder": shared, "column": shared[:, 1], "row": shared[1]}, {},
               {"epoch": 1, "batch": 1, "batches": 2})
    loaded = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None).load()
    assert torch.equal(loaded.tensors["embedding"], shared) and torch.equal(loaded.tensors["decoder"], shared)
    assert loaded.tensors["column"].tolist() == [1.0, 5.0, 9.0] and loaded.tensors["row"].tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize(("damage", "said"), [
    ("version", "it was written for version '2', not '3'"),
    ("key", f"it was written for key 'feedfacefeedfacefeed', not '{KEY}'"),
    ("format", "it was written for format 0, not 1"),
    ("tensors", "differs from what was written"),
    ("missing", "is missing"),
    ("json", "unreadable"),
])
def test_a_checkpoint_of_another_build_or_damaged_is_ignored_in_one_line_and_removed(tmp_path, damage, said):
    saved = Checkpoints(partial_build(tmp_path), "test", log=lambda m: None)
    saved.save({"w": torch.ones(4)}, {}, {"epoch": 1, "batch": 1, "batches": 5})
    record_path = saved.folder / CHECKPOINT_FILE
    record = json.loads(record_path.read_text())
    tensors = saved.folder / record["tensors"]["file"]
    if damage in ("version", "key", "format"):
        record[damage] = {"version": "2", "key": "feedfacefeedfacefeed", "format": 0}[damage]
        record_path.write_text(json.dumps(record))
    elif damage == "tensors":
        data = bytearray(tensors.read_bytes())
        data[-1] ^= 0xFF
        tensors.write_bytes(bytes(data))
    elif damage == "missing":
        tensors.unlink()
    else:
        record_path.write_text(record_path.read_text()[:40])
    lines: list[str] = []
    assert Checkpoints(partial_build(tmp_path), "test", log=lines.append).load() is None
    assert len(lines) == 1 and lines[0].startswith(f"  ignoring the checkpoint of train [{KEY[:12]}]: "), lines
    assert said in lines[0] and lines[0].endswith("; removed")
    assert not saved.folder.exists()


# -- stopped and resumed: the same bytes --------------------------------------------------------------------


def _classifier_run(tmp_path, stop: int | None, partial: bool = True, **training):
    train_ids, train_y = make_task(240, seed=0)  # 15 batches of 16 an epoch
    dev_ids, dev_y = make_task(40, seed=1)
    model = tiny_model(seed=0, encoder="lstm", num_layers=2, dropout=0.3, embedding_dropout=0.2)
    if stop is not None:
        stop_after(model, stop)
    lines: list[str] = []
    config = TrainConfig(epochs=3, batch_size=16, patience=0, device="cpu", num_threads=1, seed=3, **training)
    result = train_classifier(model, train_ids, train_y, dev_ids, dev_y, config, progress=False, log=lines.append,
                              partial=partial_build(tmp_path) if partial else None)
    return model, result, lines


@pytest.mark.parametrize("stop", [7, 15, 22])  # mid-epoch 1, at the end of epoch 1 (before epoch 2), mid-epoch 2
def test_a_classifier_stopped_at_any_batch_resumes_to_the_same_bytes(tmp_path, stop):
    straight, straight_result, _ = _classifier_run(tmp_path / "straight", None, partial=False)
    with pytest.raises(Stopped):
        _classifier_run(tmp_path, stop)
    model, result, lines = _classifier_run(tmp_path, None)
    epoch, batch = (stop // 15 + 1, stop % 15)
    assert f"  resuming train [{KEY[:12]}] from epoch {epoch}, batch {batch} of 15 (checkpoint" in lines[0]
    assert weights(model) == weights(straight)
    assert without_timings(result.history) == without_timings(straight_result.history)
    assert result.best_epoch == straight_result.best_epoch
    assert without_timings(result.trace["rows"]) == without_timings(straight_result.trace["rows"])
    assert result.trace["evaluations"] == straight_result.trace["evaluations"]


@pytest.mark.parametrize(("optimizer", "state"), [("rmsprop", "square_avg"), ("sgd", "momentum_buffer")])
def test_rmsprop_and_sgd_resume_with_their_state_to_the_same_bytes(tmp_path, optimizer, state):
    training = {"optimizer": optimizer, "lr": 0.05, "clip_norm": 0.5}  # clipped often: the count is resumed too
    straight, straight_result, _ = _classifier_run(tmp_path / "straight", None, partial=False, **training)
    with pytest.raises(Stopped):
        _classifier_run(tmp_path, 22, **training)  # mid-epoch 2
    saved = Checkpoints(partial_build(tmp_path), "fit_epochs", log=lambda m: None).load()
    assert saved is not None and f"optimizer.0.{state}" in saved.tensors  # no Adam moments: this optimizer's own
    model, result, lines = _classifier_run(tmp_path, None, **training)
    assert lines[0].startswith(f"  resuming train [{KEY[:12]}] from epoch 2, batch 7 of 15")
    assert weights(model) == weights(straight)
    assert without_timings(result.trace["rows"]) == without_timings(straight_result.trace["rows"])
    assert 0 < result.trace["clipped_fraction"] == straight_result.trace["clipped_fraction"] <= 1


def test_a_tagger_resumes_its_word_dropout_and_learning_rate_decay(tmp_path, make_treebank):
    from test_tagger_training import encoder_for

    from nlp_pipeline.data import load_tagged
    from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
    from nlp_pipeline.training.tagger import train_tagger

    splits = load_tagged(make_treebank(tmp_path / "tb", n_train=40, n_dev=10))
    words = {s: [x.words for x in v] for s, v in splits.items()}
    tags = {s: [x.upos for x in v] for s, v in splits.items()}
    enc = encoder_for(words["train"], tags["train"] + tags["dev"])
    train, dev = enc.encode(words["train"], tags["train"]), enc.encode(words["dev"], tags["dev"])

    def run(stop: int | None, partial: PartialBuild | None):
        torch.manual_seed(0)
        model = SequenceTagger(TaggerConfig(vocab_size=len(enc.vocab), num_tags=len(enc.tags),
                                            char_vocab_size=len(enc.char_vocab), embedding_dim=8, hidden_size=8,
                                            char_dim=4, char_hidden=8, dropout=0.2, embedding_mode="random"))
        if stop is not None:
            stop_after(model, stop)
        config = TrainConfig(epochs=3, batch_size=8, lr=0.01, patience=0, device="cpu", num_threads=1)
        result = train_tagger(model, train, dev, config, word_dropout=0.5, lr_decay=0.5, progress=False,
                              partial=partial)
        return model, result

    straight, straight_result = run(None, None)
    with pytest.raises(Stopped):
        run(7, partial_build(tmp_path))  # 5 batches an epoch: mid-epoch 2
    model, result = run(None, partial_build(tmp_path))
    assert weights(model) == weights(straight)
    assert without_timings(result.history) == without_timings(straight_result.history)


def _lm_run(partial: PartialBuild | None, stop: int | None):
    rng = np.random.default_rng(0)
    docs = [rng.integers(3, 20, size=int(rng.integers(3, 12))) for _ in range(60)]
    ids = np.concatenate([np.append(d, 2) for d in docs]).astype(np.int32)
    offsets = np.cumsum([0, *(len(d) + 1 for d in docs)])
    torch.manual_seed(0)
    model = RNNLanguageModel(LanguageModelConfig(vocab_size=20, embedding_dim=8, hidden_size=16, output="full",
                                                 dropout=0.2, embedding_dropout=0.1))
    if stop is not None:
        stop_after(model, stop)
    lines: list[str] = []
    config = LMTrainConfig(epochs=3, batch_size=4, bptt=8, evaluations=4, device="cpu", num_threads=1)
    result = train_language_model(model, ids, offsets, ids[:80], config, log=lines.append, partial=partial)
    return model, result, lines


@pytest.mark.parametrize("stop", [5, 15, 33])  # 15 segments an epoch: mid-epoch 1, at its end, mid-epoch 3
def test_a_language_model_stopped_at_any_segment_resumes_to_the_same_bytes(tmp_path, stop):
    straight, straight_result, _ = _lm_run(None, None)
    with pytest.raises(Stopped):
        _lm_run(partial_build(tmp_path), stop)
    model, result, lines = _lm_run(partial_build(tmp_path), None)
    assert lines[0].startswith(f"  resuming train [{KEY[:12]}] from epoch {stop // 15 + 1}, batch {stop % 15} of 15")
    assert weights(model) == weights(straight)
    assert without_timings(result.history) == without_timings(straight_result.history)
    assert result.best == [r for r in result.history if r["step"] == straight_result.best["step"]][0]
    assert without_timings(result.trace["rows"]) == without_timings(straight_result.trace["rows"])


def test_a_part_of_a_build_keeps_its_end_state_and_is_not_trained_again(tmp_path):
    partial = partial_build(tmp_path, every_seconds=0).of_part("forward")
    first, first_result, _ = _lm_run(partial, None)
    assert describe(partial.folder.parent)["progress"] == "the end of its training"
    again, again_result, lines = _lm_run(partial, stop=0)  # any training step would raise
    assert lines == [f"  resuming train [{KEY[:12]}] forward from the end of its training (checkpoint 0 s old)"]
    assert weights(again) == weights(first) and again_result.history == first_result.history


def test_a_checkpoint_that_does_not_fit_the_model_fails_the_build_in_one_line_and_is_removed(tmp_path):
    partial = partial_build(tmp_path)
    with pytest.raises(Stopped):
        _classifier_run(tmp_path, 5)
    record_path = partial.folder / CHECKPOINT_FILE
    record = json.loads(record_path.read_text())
    del record["state"]["optimizer"]
    record_path.write_text(json.dumps(record))
    with pytest.raises(PipelineError, match=r"checkpoint of train \[0123456789ab\] does not fit .* removed"):
        _classifier_run(tmp_path, None)
    assert not partial.folder.exists()
