"""Predictor end to end: raw text → spaCy tokens → saved tiny model → labels and probabilities;
predict_proba keeps input order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlp_pipeline.inference import Predictor, predict_proba
from nlp_pipeline.models import ClassifierConfig, SequenceClassifier, save_classifier
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training import TrainConfig, train_classifier

GOOD = 2  # a token id for the tiny model of the predict_proba test
FILLER = ["the", "film", "plot", "is", "was", "a", "story", "acting", "very", "quite", "movie", "!"]


def _texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(2, 7))))
        label = int(rng.integers(0, 2))
        words.insert(int(rng.integers(0, len(words) + 1)), "Good" if label else "Bad")
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    tokenizer_config = TokenizerConfig()
    tokenizer = Tokenizer(tokenizer_config)
    texts, labels = _texts(200, seed=0)
    tokens = list(tokenizer.pipe(texts))
    vocab = Vocab.build(tokens)
    config = ClassifierConfig(
        vocab_size=len(vocab), num_classes=2, embedding_dim=8, hidden_size=8, embedding_mode="random", dropout=0.0
    )
    torch.manual_seed(0)  # the initial weights: the same whatever ran before in this worker
    model = SequenceClassifier(config)
    ids = [vocab.encode(t) for t in tokens]
    train = TrainConfig(epochs=6, lr=1e-2, batch_size=16, num_threads=1, device="cpu", patience=0)
    result = train_classifier(model, ids, labels, ids[:50], labels[:50], train, progress=False)
    assert result.best_dev_accuracy == 1.0
    directory = tmp_path_factory.mktemp("predictor") / "model"
    meta = {"tokenizer": tokenizer_config.to_dict(), "max_length": 20}
    save_classifier(directory, model, config, vocab, ["negative", "positive"], meta)
    return directory


def test_predictor_labels_raw_text(model_dir):
    predictor = Predictor.load(model_dir)  # device="auto": CPU here, CUDA where present
    texts = ["What a GOOD movie!", "The acting was bad.", "good"]
    out = predictor.predict(texts)
    assert [row["text"] for row in out] == texts
    assert [row["label"] for row in out] == ["positive", "negative", "positive"]
    for row in out:
        assert set(row["probabilities"]) == {"negative", "positive"}
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["probabilities"][row["label"]] > 0.5
    assert predictor.max_length == 20


def test_predictor_handles_empty_and_unknown_text(model_dir):
    out = Predictor.load(model_dir, device="cpu").predict(["", "zyzzyva qwxp"])
    assert len(out) == 2 and all(row["label"] in {"negative", "positive"} for row in out)
    assert Predictor.load(model_dir, device="cpu").predict([]) == []


def test_predict_proba_rows_follow_input_order_and_sum_to_one():
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=12, num_classes=2, embedding_dim=12, hidden_size=12, dropout=0.0,
                              embedding_mode="random")
    model = SequenceClassifier(config).eval()
    ids = [[GOOD, 3, 4, 5, 6, 7], [3], [4, 5, GOOD], [], [8, 9]]
    probs = predict_proba(model, ids, batch_size=2)
    assert probs.shape == (5, 2) and probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    for i, seq in enumerate(ids):
        alone = predict_proba(model, [seq])[0]
        assert np.allclose(probs[i], alone, atol=1e-6)
    assert predict_proba(model, []).shape == (0, 2)
