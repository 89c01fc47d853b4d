"""A declared pipeline: the engine's list of steps plus how its variants are named and tabulated.

Adding a pipeline is one module that builds a `Declared` (steps, wiring, table columns) and its
schema in `nlp_pipeline.config`; the YAML in ``pipelines/`` is rendered from the schema, and the
runner, the report and the CLI are generic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nlp_pipeline.engine import Pipeline
from nlp_pipeline.reports.results import Column, VariantResult

__all__ = ["TRAINING_COLUMNS", "Column", "Declared", "model_setting", "vectors_label"]


@dataclass(frozen=True)
class Declared:
    pipeline: Pipeline
    columns: tuple[Column, ...]
    # (config key, template or function of the value): their values start a variant's name; other
    # overrides follow it
    name_keys: tuple[tuple[str, str | Callable[[Any], str]], ...]
    rank: Callable[[VariantResult], Any] | None = None  # the results table's order, best first (default: dev accuracy)

    @property
    def name(self) -> str:
        return self.pipeline.name


def vectors_label(v: VariantResult) -> str:
    """``skip-gram 300d (gensim)``, ``vectors:glove.6B.100d.txt 100d`` for imported ones, ``random`` without,
    ``language models (fwd + bwd)`` for an encoder started from them."""
    emb = v.config["embed"]
    if v.config.get("model", {}).get("init") == "lm":
        n = len(v.config["model"]["lm"])
        finetuned = " + task text" if v.config["model"].get("lm_finetune_tokens") else ""
        return f"language model{'s' if n > 1 else ''} ({'fwd + bwd' if n > 1 else 'fwd'}{finetuned})"
    if v.embeddings is None:
        return "random"
    if v.embeddings.get("engine") == "import":  # your vectors: the file (or artifact) they came from
        return f"{v.embeddings['source']} {v.embeddings['dim']}d"
    return f"{'skip-gram' if emb['sg'] else 'CBOW'} {emb['vector_size']}d ({emb['engine']})"


def model_setting(title: str, key: str) -> Column:
    """A column showing the variant's ``model.<key>`` setting (the classifier's and tagger's tables)."""
    return Column(title, lambda v: v.config["model"][key])


# The classifier's and the tagger's last columns: when training stopped at its best, and how long it took.
TRAINING_COLUMNS = (Column("best ep", lambda v: v.train.get("best_epoch")),
                    Column("train time", lambda v: f"{v.train.get('train_seconds', 0):.0f}s"))
