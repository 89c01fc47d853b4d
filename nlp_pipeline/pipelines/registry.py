"""The pipelines ``nlp-pipeline run`` knows, by the ``pipeline:`` type their YAML declares."""

from __future__ import annotations

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.pipelines import sentiment, tagging
from nlp_pipeline.pipelines.declared import Declared

PIPELINES: dict[str, Declared] = {d.name: d for d in (sentiment.DECLARED, tagging.DECLARED)}


def declared(kind: str) -> Declared:
    try:
        return PIPELINES[kind]
    except KeyError:
        raise ConfigError(f"unknown pipeline type {kind!r}; valid: {', '.join(PIPELINES)}") from None
