"""TensorBoard event files of a report's training stages, one run per variant (``report.tensorboard``).

A training stage runs in the cache and never learns which report, if any, will show it; what it does is
record its trace in its artifact (``trace.json``: `nlp_pipeline.training.monitor`) and the gradient flow of
the trained model in its metadata. The report turns those into event files under
``<report>/<variant>/tensorboard/`` (a fine-tuned language model's under ``.../tensorboard/finetune_lm-<direction>/``),
so ``tensorboard --logdir <report>`` lays the variants side by side, and a report whose models all came
from the cache has them too. The scalars, against the optimizer step:

- ``train/loss`` (mean since the previous point), ``train/learning_rate``, ``train/tokens_per_second``,
  and for a language model ``train/perplexity``;
- ``gradients/norm`` (the global norm before clipping, mean since the previous point),
  ``gradients/clipped_fraction`` (the share of those steps that were clipped), ``gradients/layer/<name>``;
- ``dev/loss``, ``dev/accuracy``, ``dev/macro_f1`` at each epoch's end (classifier, tagger), or
  ``heldout/perplexity`` at each evaluation (language model);
- ``gradient_flow/relative_norm``: the trained model's ``‖∂loss/∂h_t‖`` over its value at the last step,
  against the steps before the last (`nlp_pipeline.training.gradient_flow`).

Needs the ``tensorboard`` package (``pip install "nlp-pipeline[tensorboard]"``); the setting's declaration
refuses ``report.tensorboard: true`` without it, before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

TRACE_FILE = "trace.json"  # a training stage's trace, in its artifact (and a fine-tuned language model's folder)
EVENTS_FOLDER = "tensorboard"  # in a report's variant folder
EVALUATION_TAGS = {"dev_loss": "dev/loss", "dev_accuracy": "dev/accuracy", "dev_macro_f1": "dev/macro_f1",
                   "heldout_ppl": "heldout/perplexity"}


def scalars(trace: Mapping[str, Any], gradient_flow: Mapping[str, Any] | None = None
            ) -> Iterator[tuple[str, float, int]]:
    """``(tag, value, step)`` of every scalar a trace (and a gradient-flow curve) holds."""
    for row in trace.get("rows", ()):
        step = int(row["step"])
        yield "train/loss", row["loss"], step
        if trace.get("perplexity"):
            yield "train/perplexity", math.exp(min(row["loss"], 700.0)), step
        yield "train/learning_rate", row["lr"], step
        if row.get("tokens_per_second") is not None:
            yield "train/tokens_per_second", row["tokens_per_second"], step
        yield "gradients/norm", row["grad_norm"], step
        yield "gradients/clipped_fraction", row["clipped"], step
        for layer, norm in (row.get("layers") or {}).items():
            yield f"gradients/layer/{layer}", norm, step
    for row in trace.get("evaluations", ()):
        for key, tag in EVALUATION_TAGS.items():
            if row.get(key) is not None:
                yield tag, row[key], int(row["step"])
    norms = (gradient_flow or {}).get("norms") or []
    if norms and norms[0] > 0:
        for distance, norm in enumerate(norms):
            yield "gradient_flow/relative_norm", norm / norms[0], distance


def write_events(folder: str | Path, trace: Mapping[str, Any], gradient_flow: Mapping[str, Any] | None = None) -> Path:
    """Write the event file of one run (a trace and its gradient flow) into ``folder``; returns ``folder``."""
    from torch.utils.tensorboard import SummaryWriter

    folder = Path(folder)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for tag, value, step in scalars(trace, gradient_flow):
            writer.add_scalar(tag, float(value), step)
    finally:
        writer.close()
    return folder
