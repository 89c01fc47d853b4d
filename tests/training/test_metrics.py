"""classification_metrics and tagging_metrics against values computed by hand."""

from __future__ import annotations

import json

import pytest

from nlp_pipeline.training.metrics import classification_metrics, tagging_metrics


def test_metrics_match_hand_computed_values():
    y_true = [0, 0, 1, 1, 1]
    y_pred = [0, 1, 1, 1, 0]
    m = classification_metrics(y_true, y_pred, ["neg", "pos"])
    # neg: tp=1 fp=1 fn=1 → P=R=F1=1/2; pos: tp=2 fp=1 fn=1 → P=R=F1=2/3
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["report"]["neg"]["precision"] == pytest.approx(0.5)
    assert m["report"]["pos"]["recall"] == pytest.approx(2 / 3)
    assert m["report"]["pos"]["support"] == 3
    assert m["labels"] == ["neg", "pos"]
    json.dumps(m)  # JSON-ready: no numpy scalars


def test_class_never_seen_is_reported_with_zeros():
    m = classification_metrics([0, 0], [0, 0], ["a", "b", "c"])
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 0, 0], [0, 0, 0]]
    assert m["report"]["c"]["f1-score"] == 0.0
    assert m["macro_f1"] == pytest.approx(1 / 3)


def test_rejects_out_of_range_and_mismatched_inputs():
    with pytest.raises(ValueError, match="outside"):
        classification_metrics([0, 2], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="items"):
        classification_metrics([0, 1], [0], ["a", "b"])


def test_metrics_count_unseen_words_and_never_padding():
    words = [["the", "emotion", "runs"], ["a", "cat"]]
    gold = [["DET", "NOUN", "VERB"], ["DET", "NOUN"]]
    pred = [["DET", "VERB", "VERB"], ["DET", "NOUN"]]
    m = tagging_metrics(gold, pred, words, train_words={"the", "runs", "a"}, tags=["DET", "NOUN", "VERB"])
    assert m["tokens"] == 5 and m["accuracy"] == pytest.approx(4 / 5)
    assert m["unseen_tokens"] == 2 and m["unseen_accuracy"] == pytest.approx(1 / 2)
    assert m["confusion_matrix"][1] == [0, 1, 1]
    assert set(m["report"]) >= {"DET", "NOUN", "VERB", "macro avg"}
