"""Word dropout and the tagger training loop: overfitting a toy treebank, unseen words, lr decay, seeds."""

import pytest
import torch

from nlp_pipeline.data import load_tagged
from nlp_pipeline.inference.tagger import predict_tags
from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
from nlp_pipeline.models.tagger_encoding import TaggerEncoder
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.loop import TrainConfig
from nlp_pipeline.training.metrics import tagging_metrics
from nlp_pipeline.training.tagger import train_tagger, word_dropout_rates


def encoder_for(sentences, tags, lowercase=True):
    vocab = Vocab.build([[w.lower() if lowercase else w for w in s] for s in sentences])
    chars = Vocab.build(list(w) for s in sentences for w in s)
    return TaggerEncoder(vocab, chars, sorted({t for s in tags for t in s}), lowercase)


def test_word_dropout_hits_rare_words_most():
    enc = encoder_for([["a", "a", "a", "b"]], [["X"] * 4])
    data = enc.encode([["a", "a", "a", "b"]], [["X"] * 4])
    rates = word_dropout_rates(data, len(enc.vocab), alpha=0.25)
    a, b = enc.vocab.stoi["a"], enc.vocab.stoi["b"]
    assert rates[a].item() == pytest.approx(0.25 / 3.25)
    assert rates[b].item() == pytest.approx(0.25 / 1.25)
    assert rates[Vocab.PAD_INDEX] == 0 and rates[Vocab.UNK_INDEX] == 0


def _fit(folder, word_dropout=0.0, epochs=12, lr_decay=1.0, **model_overrides):
    splits = load_tagged(folder)
    words = {s: [x.words for x in v] for s, v in splits.items()}
    tags = {s: [x.upos for x in v] for s, v in splits.items()}
    enc = encoder_for(words["train"], tags["train"] + tags["dev"])
    train = enc.encode(words["train"], tags["train"])
    config = TaggerConfig(vocab_size=len(enc.vocab), num_tags=len(enc.tags), char_vocab_size=len(enc.char_vocab),
                          embedding_dim=16, hidden_size=16, char_dim=8, char_hidden=16, dropout=0.0,
                          embedding_mode="random", **model_overrides)
    torch.manual_seed(0)
    model = SequenceTagger(config)
    result = train_tagger(model, train, train, TrainConfig(epochs=epochs, batch_size=8, lr=0.01, patience=0,
                                                           device="cpu", num_threads=1),
                          word_dropout=word_dropout, lr_decay=lr_decay, progress=False)
    return model, enc, result, words, tags


@pytest.mark.parametrize("overrides", [{"char_encoder": "none"}, {"char_encoder": "cnn"},
                                       {"char_encoder": "bilstm", "encoder": "lstm"}, {"crf": True}])
def test_tagger_overfits_a_tiny_treebank(tmp_path, make_treebank, overrides):
    folder = make_treebank(tmp_path / "tb", n_train=40, n_dev=10)
    model, enc, result, words, tags = _fit(folder, **overrides)
    assert result.best_dev_accuracy == 1.0, result.history
    predicted = predict_tags(model, enc.encode(words["train"]))
    assert [[enc.tags[i] for i in row] for row in predicted] == tags["train"]
    assert [len(r) for r in predicted] == [len(w) for w in words["train"]]


def test_char_model_tags_unseen_words_by_their_spelling(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "tb", n_train=80, n_dev=40)
    # word dropout teaches the <unk> row (and the characters) to stand in for unseen words
    model, enc, _, words, tags = _fit(folder, word_dropout=1.0, epochs=15, char_encoder="cnn")
    predicted = [[enc.tags[i] for i in row] for row in predict_tags(model, enc.encode(words["dev"]))]
    train_forms = {w for s in words["train"] for w in s}
    m = tagging_metrics(tags["dev"], predicted, words["dev"], train_forms, enc.tags)
    assert m["unseen_tokens"] > 5
    assert m["unseen_accuracy"] >= 0.9


def test_learning_rate_decays_after_each_epoch_without_gain(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "tb", n_train=40, n_dev=10)
    history = _fit(folder, epochs=12, lr_decay=0.5)[2].history
    lrs = [row["lr"] for row in history]
    accuracies = [row["dev_accuracy"] for row in history]
    assert lrs[0] == 0.01
    for i in range(1, len(history)):
        improved = i == 1 or accuracies[i - 1] > max(accuracies[: i - 1])
        assert lrs[i] == pytest.approx(lrs[i - 1] * (1.0 if improved else 0.5)), (i, lrs, accuracies)
    assert lrs[-1] < 0.01  # the tiny treebank is learnt early, then every epoch stalls


def test_training_is_reproducible_with_a_seed(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "tb", n_train=30, n_dev=10)
    first = _fit(folder)[2].history
    second = _fit(folder)[2].history
    assert [r["train_loss"] for r in first] == [r["train_loss"] for r in second]
