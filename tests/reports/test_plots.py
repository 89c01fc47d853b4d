"""Plots are written as real, non-empty PNG files (headless, no pyplot)."""

from __future__ import annotations

import pytest

from nlp_pipeline.reports.plots import (
    plot_confusion_matrix,
    plot_grad_norms,
    plot_gradient_flow,
    plot_learning_curve,
)

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


def test_gradient_norms_png_from_a_trace(tmp_path):
    rows = [{"step": s, "grad_norm": 10.0 / s, "clipped": 0.5, "loss": 1.0, "lr": 0.01,
             **({"layers": {"embedding": 0.01, "encoder.forward_layers.0": 1.0 / s, "output": 0.0}} if s % 2 else {})}
            for s in range(1, 11)]
    trace = {"every": 1, "steps": 10, "clip_norm": 5.0, "clipped_fraction": 0.5, "rows": rows, "evaluations": []}
    data = plot_grad_norms(trace, tmp_path / "grad_norms.png", title="lstm classifier").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000  # a zero norm (nothing reached the layer) is a gap
    with pytest.raises(ValueError, match="no rows"):
        plot_grad_norms({"rows": []}, tmp_path / "none.png")


def test_gradient_flow_png_of_several_models(tmp_path):
    curves = {"rnn": {"norms": [0.5, 0.05, 0.0005, 0.0], "steps": 4, "sequences": 2, "of": "the loss"},
              "lstm": {"norms": [0.5, 0.4, 0.35, 0.3], "steps": 4, "sequences": 2, "of": "the loss"},
              "none": None}  # a model without a curve (nothing trainable in its encoder) is left out
    data = plot_gradient_flow(curves, tmp_path / "gradient_flow.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 2000
    with pytest.raises(ValueError, match="no gradient-flow curve"):
        plot_gradient_flow({"none": None}, tmp_path / "none.png")
