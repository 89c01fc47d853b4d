"""nlp-pipeline: raw text corpus → tokens → word2vec vectors → RNN/LSTM/BiLSTM models, one cached stage at a time.

The public API lives in the sub-packages; the CLI (`nlp_pipeline.cli`) is a thin layer over it:

- `nlp_pipeline.data`: corpus definitions (``corpora/*.yaml``), file resolution and readers.
- `nlp_pipeline.text`: spaCy tokenization and vocabularies.
- `nlp_pipeline.embeddings`: word2vec training, vector I/O and intrinsic evaluation.
- `nlp_pipeline.models` / `nlp_pipeline.inference` / `nlp_pipeline.training`: sequence classifiers and taggers,
  prediction with saved ones, and their training loops (inference and training each build on the
  models, never on each other; `nlp_pipeline.device` is below all three).
- `nlp_pipeline.engine`: stages, keys, the integrity-checked and lock-protected artifact cache, pipelines as
  declared lists of steps.
- `nlp_pipeline.stages`: one module per stage (its parameter type, its build function).
- `nlp_pipeline.pipelines`: the declared pipelines (``run sentiment`` …), the runner, artifact lookup.

Two entry points are also importable from the package itself, loaded on first use (importing
``nlp_pipeline`` stays light): ``evaluate_model(model, corpus, ...)`` scores a trained classifier or tagger
on a labelled corpus exactly as its run scored dev (`nlp_pipeline.pipelines.evaluation`), and
``export_model(model, output, format="native" | "onnx", ...)`` writes it as a folder to hand on
(`nlp_pipeline.pipelines.export`).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {"evaluate_model": "nlp_pipeline.pipelines.evaluation", "EvaluationResult": "nlp_pipeline.pipelines.evaluation",
         "export_model": "nlp_pipeline.pipelines.export", "ExportResult": "nlp_pipeline.pipelines.export"}
__all__ = ["EvaluationResult", "ExportResult", "evaluate_model", "export_model"]


def __getattr__(name: str) -> Any:
    """``nlp_pipeline.evaluate_model`` and the rest of `_LAZY`, imported when first asked for (PEP 562)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nlp_pipeline' has no attribute {name!r}")
