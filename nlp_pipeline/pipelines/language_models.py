"""Starting a task's encoder from language models (``model.init: lm``): their inputs and the fine-tune step.

The sentiment and tagging pipelines wire them the same way: the ``model.lm`` folders as inputs
identified by content, and, with ``model.lm_finetune_tokens`` > 0, ULMFiT's fine-tuning on the task's
own text before the training stage starts from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp_pipeline.engine import DataRef, Step


def uses_language_models(cfg: Any) -> bool:
    """Whether the encoder starts from language models (``model.init: lm``)."""
    model = getattr(cfg, "model", None)
    return model is not None and model.init == "lm"


def lm_ref(index: int) -> Callable[[Any], DataRef | None]:
    """The ``index``-th folder of ``model.lm`` (resolved by the runner: forward, then backward) as an
    input identified by its files' content; None when the config has no such model."""

    def ref(cfg: Any) -> DataRef | None:
        if not uses_language_models(cfg) or index >= len(cfg.model.lm):
            return None
        from nlp_pipeline.models.language_model_io import FILES

        folder = Path(cfg.model.lm[index]).expanduser()
        return DataRef(f"train_lm:{folder.name}", str(folder), tuple(folder / f for f in FILES))

    return ref


def finetune_step(task_step: str) -> Step:
    """ULMFiT's second step, when ``model.lm_finetune_tokens`` > 0: the language models read the
    task's own training text (``task_step``'s artifact) before the encoder starts from them."""
    from nlp_pipeline.stages import finetune_lm
    from nlp_pipeline.stages.finetune_lm import FinetuneLMParams

    return Step(
        finetune_lm.STAGE,
        lambda c: FinetuneLMParams.of(c.model, c.tokenize, c.train),
        when=lambda c: uses_language_models(c) and c.model.lm_finetune_tokens > 0,
        inputs={"task": task_step, "lm_forward": lm_ref(0), "lm_backward": lm_ref(1)},
    )


def lm_inputs() -> dict:
    """The training stages' language-model inputs (each absent unless ``model.init: lm``)."""
    return {"lm_forward": lm_ref(0), "lm_backward": lm_ref(1), "finetuned_lm": "finetune_lm"}
