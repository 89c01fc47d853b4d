"""The torch engine's C kernel: it builds here, learns what the tensor path learns, is a function of the
seed with one worker, and its absence falls back cleanly (and changes the key, not the bytes under one)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from nlp_pipeline.embeddings import Word2VecParams, native
from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, train_torch
from nlp_pipeline.engine.stage import ADDED_LATER, key_params

needs_kernel = pytest.mark.skipif(not native.kernel_available(), reason=f"no native kernel: {native.load_kernel()[1]}")


@pytest.fixture(scope="module")
def topics(tmp_path_factory):
    """Sentences from two disjoint vocabularies: a working word2vec puts each topic's words together."""
    rng = random.Random(0)
    a, b = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(1500) for words in (a, b)]
    path = tmp_path_factory.mktemp("w2v") / "topics.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, a, b


PARAMS = Word2VecParams(vector_size=16, window=3, negative=5, min_count=1, sample=0, epochs=3, workers=1, seed=3)


def _separation(model, a, b) -> float:
    kv = model.to_keyed_vectors()
    within = np.mean([kv.similarity(x, y) for x in a[:10] for y in a[10:20]])
    across = np.mean([kv.similarity(x, y) for x in a[:10] for y in b[:10]])
    return float(within - across)


@needs_kernel
@pytest.mark.parametrize("sg", [1, 0])
def test_the_kernel_learns_as_the_tensor_path_does(topics, sg):
    path, a, b = topics
    params = dataclasses.replace(PARAMS, sg=sg)
    ours = train_torch(path, params, options=TorchW2VOptions(kernel="native"), progress=False)
    tensor = train_torch(path, params, options=TorchW2VOptions(kernel="tensor"), progress=False)
    assert _separation(ours, a, b) > 0.3 and _separation(tensor, a, b) > 0.3
    assert ours.info["epoch_loss"][-1] < ours.info["epoch_loss"][0]
    assert ours.info["epoch_examples"][0] > 0
    assert not np.array_equal(ours.input_vectors.numpy(), tensor.input_vectors.numpy())  # two algorithms


@needs_kernel
@pytest.mark.parametrize("sg", [1, 0])
def test_one_worker_is_a_function_of_the_seed(topics, sg):
    path, _, _ = topics
    params = dataclasses.replace(PARAMS, sg=sg, epochs=1)
    runs = [train_torch(path, params, options=TorchW2VOptions(kernel="native"), progress=False) for _ in range(2)]
    assert np.array_equal(runs[0].input_vectors.numpy(), runs[1].input_vectors.numpy())
    other = train_torch(path, dataclasses.replace(params, seed=4), options=TorchW2VOptions(kernel="native"),
                        progress=False)
    assert not np.array_equal(runs[0].input_vectors.numpy(), other.input_vectors.numpy())


def test_without_the_kernel_auto_is_the_tensor_path_and_native_is_an_error(monkeypatch, topics):
    monkeypatch.setenv("NLP_PIPELINE_NO_NATIVE", "1")
    native.load_kernel.cache_clear()
    try:
        assert not native.kernel_available()
        assert TorchW2VOptions().resolve(1).kernel == "tensor"
        with pytest.raises(RuntimeError, match="NLP_PIPELINE_NO_NATIVE"):
            train_torch(topics[0], PARAMS, options=TorchW2VOptions(kernel="native"), progress=False)
    finally:
        monkeypatch.delenv("NLP_PIPELINE_NO_NATIVE")
        native.load_kernel.cache_clear()


def test_a_parameter_added_later_keeps_old_keys_at_its_default():
    @dataclasses.dataclass(frozen=True)
    class Before:
        x: int

    @dataclasses.dataclass(frozen=True)
    class After:
        x: int
        kernel: str | None = dataclasses.field(default=None, metadata={ADDED_LATER: True})

    assert key_params(After(1)) == key_params(Before(1))
    assert key_params(After(1, "native")) == {"x": 1, "kernel": "native"}
