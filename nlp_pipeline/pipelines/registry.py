"""The pipelines ``nlp-pipeline run`` knows, by the ``pipeline:`` type their YAML declares."""

from __future__ import annotations

from nlp_pipeline.engine import Stage
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.pipelines import embeddings, lm, sentiment, tagging
from nlp_pipeline.pipelines.declared import Declared

PIPELINES: dict[str, Declared] = {d.name: d for d in (sentiment.DECLARED, tagging.DECLARED, embeddings.DECLARED,
                                                        lm.DECLARED)}


def declared(kind: str) -> Declared:
    try:
        return PIPELINES[kind]
    except KeyError:
        raise ConfigError(f"unknown pipeline type {kind!r}; valid: {', '.join(PIPELINES)}") from None


def stages() -> dict[str, Stage]:
    """Every stage some pipeline uses, by name (what `cache ls` describes); one stage per name."""
    found: dict[str, Stage] = {}
    for d in PIPELINES.values():
        for step in d.pipeline.steps:
            if found.setdefault(step.name, step.stage) is not step.stage:
                raise TypeError(f"two different stages are named {step.name!r}")
    return found
