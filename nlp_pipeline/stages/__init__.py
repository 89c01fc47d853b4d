"""The stages, one module each: its frozen parameter type, its build function, what `cache ls` says.

A stage module never imports the pipeline configuration: its build function receives its parameter
object, its inputs and a `BuildContext` (output folder, runtime settings, log), nothing else. How a
pipeline's settings become each stage's parameters is declared in `nlp_pipeline.pipelines`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nlp_pipeline.engine import Stage


def all_stages() -> dict[str, Stage]:
    """Every stage by name (imported on demand: the stage modules import each other's helpers)."""
    from nlp_pipeline.stages import (
        embed,
        evaluate,
        evaluate_tagger,
        pretrain_text,
        tokenize,
        train,
        train_tagger,
        treebank,
    )

    modules = (tokenize, pretrain_text, embed, train, evaluate, treebank, train_tagger, evaluate_tagger)
    return {m.STAGE.name: m.STAGE for m in modules}
