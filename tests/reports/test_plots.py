"""Plots are written as real, non-empty PNG files (headless, no pyplot)."""

from __future__ import annotations

import pytest

from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_png(tmp_path):
    path = plot_confusion_matrix([[50, 3], [7, 40]], ["negative", "positive"], tmp_path / "sub" / "cm.png", "SST-2")
    assert path == tmp_path / "sub" / "cm.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000


def test_confusion_matrix_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"], "unused.png")


def test_learning_curve_png(tmp_path):
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "dev_loss": 0.5 + abs(e - 3) / 10,
            "dev_accuracy": 0.7 + e / 100,
            "dev_macro_f1": 0.68 + e / 100,
        }
        for e in range(1, 6)
    ]
    path = plot_learning_curve(history, tmp_path / "curve.png", title="BiLSTM")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000
    with pytest.raises(ValueError, match="empty"):
        plot_learning_curve([], tmp_path / "none.png")
