"""Classification and tagging metrics, computed by scikit-learn and returned as plain JSON-ready Python types.

Macro-F1 is reported next to accuracy because several corpora (e.g. carved dev splits, or any
three-way task) are not balanced, and accuracy alone hides a class the model never predicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class report and confusion matrix for label indices.

    ``labels[i]`` names class index ``i``; every class is reported (with zeros where it never occurs
    or is never predicted, instead of scikit-learn's warning), so reports from different runs always
    have the same keys.

    Returns ``{"accuracy", "macro_f1", "report", "confusion_matrix", "labels"}`` where ``report`` is
    `sklearn.metrics.classification_report`'s ``output_dict`` and ``confusion_matrix[i][j]`` counts
    examples of true class ``i`` predicted as ``j``.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero examples")
    # Imported here, not at module level: scikit-learn takes about a second to import, and importing
    # this package (e.g. for `TrainConfig`) does not need it; only computing metrics does.
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    indices = list(range(len(labels)))
    y_true_arr = np.asarray(y_true, dtype=np.int64)
    y_pred_arr = np.asarray(y_pred, dtype=np.int64)
    out_of_range = set(np.unique(np.concatenate([y_true_arr, y_pred_arr])).tolist()) - set(indices)
    if out_of_range:
        raise ValueError(f"label indices {sorted(out_of_range)} are outside 0..{len(labels) - 1}")
    report = classification_report(
        y_true_arr, y_pred_arr, labels=indices, target_names=labels, output_dict=True, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true_arr, y_pred_arr)),
        "macro_f1": float(f1_score(y_true_arr, y_pred_arr, labels=indices, average="macro", zero_division=0)),
        "report": _plain(report),
        "confusion_matrix": confusion_matrix(y_true_arr, y_pred_arr, labels=indices).tolist(),
        "labels": list(labels),
    }


def tagging_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                    words: Sequence[Sequence[str]], train_words: set[str], tags: list[str]) -> dict:
    """Token accuracy, accuracy on words unseen in training, macro-F1, per-tag report, confusion matrix.

    A word is *unseen* when its exact form never occurs in the training split (``train_words``), the
    usual definition in the POS literature. Returns `classification_metrics`' keys plus ``tokens``,
    ``unseen_tokens`` and ``unseen_accuracy`` (``None`` when the split has no unseen word).
    """
    index = {t: i for i, t in enumerate(tags)}
    y_true, y_pred, unseen_total, unseen_right = [], [], 0, 0
    for sent_words, sent_gold, sent_pred in zip(words, gold, predicted):
        if not (len(sent_words) == len(sent_gold) == len(sent_pred)):
            raise ValueError("words, gold and predicted tags must have the same lengths per sentence")
        for w, g, p in zip(sent_words, sent_gold, sent_pred):
            y_true.append(index[g])
            y_pred.append(index[p])
            if w not in train_words:
                unseen_total += 1
                unseen_right += g == p
    metrics = classification_metrics(y_true, y_pred, tags)
    metrics["tokens"] = len(y_true)
    metrics["unseen_tokens"] = unseen_total
    metrics["unseen_accuracy"] = unseen_right / unseen_total if unseen_total else None
    return metrics


def _plain(value: Any) -> Any:
    """Recursively turn numpy scalars into Python ones so `json.dumps` accepts the result."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
