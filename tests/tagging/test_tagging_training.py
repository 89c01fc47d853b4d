"""Encoding, padded batches, word dropout, the training loop and the tagging metrics."""

import numpy as np
import pytest
import torch

from nlp_pipeline.data import load_tagged, tagged_split_files
from nlp_pipeline.errors import DataError
from nlp_pipeline.models.tagger import IGNORE_INDEX, SequenceTagger, TaggerConfig
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.tagging import (
    MAX_WORD_CHARS,
    TaggerEncoder,
    budget_batches,
    pad_tagged_batch,
    predict_tags,
    tagging_metrics,
    train_tagger,
    word_dropout_rates,
)
from nlp_pipeline.training.trainer import TrainConfig


def encoder_for(sentences, tags, lowercase=True):
    vocab = Vocab.build([[w.lower() if lowercase else w for w in s] for s in sentences])
    chars = Vocab.build(list(w) for s in sentences for w in s)
    return TaggerEncoder(vocab, chars, sorted({t for s in tags for t in s}), lowercase)


def test_encoder_lowercases_words_but_not_characters():
    enc = encoder_for([["The", "Cat", "cat"]], [["DET", "NOUN", "NOUN"]])
    data = enc.encode([["THE", "cat"]], [["DET", "NOUN"]])
    assert data.words == [[enc.vocab.stoi["the"], enc.vocab.stoi["cat"]]]
    assert data.chars[0][1, 0] == enc.char_vocab.stoi["c"] != enc.char_vocab.stoi["C"]
    assert data.chars[0][0, 1] == Vocab.UNK_INDEX  # "T" known, "H" never seen in training


def test_long_words_keep_their_prefix_and_suffix():
    enc = encoder_for([["x"]], [["X"]])
    word = "a" * 10 + "b" * 30 + "tion"
    kept = enc.char_ids(word)
    assert len(kept) == MAX_WORD_CHARS


def test_unknown_tag_names_the_sentence():
    enc = encoder_for([["a"]], [["DET"]])
    with pytest.raises(DataError, match="dev.conllu:7: tag 'NOUN' is not in the model's tag set"):
        enc.encode([["a"]], [["NOUN"]], where=["dev.conllu:7"])


def test_padded_batch_marks_padding_as_ignored():
    enc = encoder_for([["a", "bb", "c"], ["d"]], [["X", "Y", "X"], ["Y"]])
    data = enc.encode([["a", "bb", "c"], ["d"]], [["X", "Y", "X"], ["Y"]])
    words, chars, lengths, tags = pad_tagged_batch(data, [0, 1])
    assert words.shape == (2, 3) and chars.shape == (2, 3, 2)
    assert lengths.tolist() == [3, 1]
    assert words[1, 1:].tolist() == [0, 0] and chars[1, 1:].sum() == 0
    assert tags[1].tolist() == [1, IGNORE_INDEX, IGNORE_INDEX]


def test_word_dropout_hits_rare_words_most():
    enc = encoder_for([["a", "a", "a", "b"]], [["X"] * 4])
    data = enc.encode([["a", "a", "a", "b"]], [["X"] * 4])
    rates = word_dropout_rates(data, len(enc.vocab), alpha=0.25)
    a, b = enc.vocab.stoi["a"], enc.vocab.stoi["b"]
    assert rates[a].item() == pytest.approx(0.25 / 3.25)
    assert rates[b].item() == pytest.approx(0.25 / 1.25)
    assert rates[Vocab.PAD_INDEX] == 0 and rates[Vocab.UNK_INDEX] == 0


def test_metrics_count_unseen_words_and_never_padding():
    words = [["the", "emotion", "runs"], ["a", "cat"]]
    gold = [["DET", "NOUN", "VERB"], ["DET", "NOUN"]]
    pred = [["DET", "VERB", "VERB"], ["DET", "NOUN"]]
    m = tagging_metrics(gold, pred, words, train_words={"the", "runs", "a"}, tags=["DET", "NOUN", "VERB"])
    assert m["tokens"] == 5 and m["accuracy"] == pytest.approx(4 / 5)
    assert m["unseen_tokens"] == 2 and m["unseen_accuracy"] == pytest.approx(1 / 2)
    assert m["confusion_matrix"][1] == [0, 1, 1]
    assert set(m["report"]) >= {"DET", "NOUN", "VERB", "macro avg"}


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


# -- treebank files ---------------------------------------------------------------------------------


def test_ud_style_file_names_give_their_split(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "ud", names=("en_x-ud-train.conllu", "en_x-ud-dev.conllu"))
    assert set(tagged_split_files(folder)) == {"train", "dev"}
    splits = load_tagged(folder)
    assert (len(splits["train"]), len(splits["dev"])) == (120, 40)


def test_a_single_file_is_carved_into_train_and_dev(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "one", n_train=50, n_dev=5)
    splits = load_tagged(folder / "train.conllu", dev_fraction=0.2, seed=3)
    assert (len(splits["train"]), len(splits["dev"])) == (40, 10)
    again = load_tagged(folder / "train.conllu", dev_fraction=0.2, seed=3)
    assert [s.line for s in again["dev"]] == [s.line for s in splits["dev"]]
    assert not {s.line for s in splits["dev"]} & {s.line for s in splits["train"]}


def test_a_folder_file_without_a_split_name_is_an_error(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "x")
    (folder / "extra.conllu").write_text("1\ta\ta\tX\tX\t_\t0\tdep\t_\t_\n")
    with pytest.raises(DataError, match="cannot tell the split of extra.conllu"):
        tagged_split_files(folder)


def test_budget_batches_cap_sequences_and_padded_tokens():
    lengths = np.array([5, 1, 300, 2, 40, 3, 3, 1000])
    batches = budget_batches(lengths, max_sequences=3, max_tokens=100)
    assert sorted(i for b in batches for i in b) == list(range(8))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[b]) <= 100
    assert [7] in batches and [2] in batches  # longer than the budget: alone


def test_lengths_match_inputs_for_empty_and_long_batches():
    enc = encoder_for([["a"]], [["X"]])
    data = enc.encode([["a"] * 50, ["a"]])
    assert np.array_equal(data.lengths, [50, 1])
