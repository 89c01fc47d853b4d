"""Where the pipelines' data comes from: corpora and text sources as stage inputs (`DataRef`).

A `DataRef` is identified by its files' content (a registered corpus by its name, a user's path by
its hashes), so moving a data folder keeps every key. Also which corpora a pretraining source could
leak evaluation text from, so that text is held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlp_pipeline.engine import DataRef


def _spec_path(name: str) -> Path | None:
    from nlp_pipeline.data import list_corpora, load_spec

    corpus = name.partition(":")[0]
    return load_spec(corpus).path if corpus in list_corpora() else None


def _data_id(name: str, spec: Path | None) -> str:
    # A user path is identified by its content (the files' hashes), not by where it lives.
    return name if spec is not None else "user:" + Path(name).name


def corpus_ref(name: str, data_dir: str | None) -> DataRef:
    """A labelled or tagged corpus as a stage input: its resolved files, identified by content."""
    from nlp_pipeline.data import corpus_files

    spec = _spec_path(name)
    return DataRef(_data_id(name, spec), name, tuple(corpus_files(name, data_dir=data_dir)), data_dir, spec)


def source_ref(source: str, data_dir: str | None, text_field: str = "text", text_column: str | None = None) -> DataRef:
    """A pretraining text source (``imdb_unsup``, ``imdb:train``, a path or glob) as a stage input.

    A user's JSON-lines or CSV files are read with ``text_field`` / ``text_column``; those settings
    are part of the input (its key) only where such a file is among the source's files.
    """
    from nlp_pipeline.data import source_files
    from nlp_pipeline.data.datasets import text_options

    spec = _spec_path(source)
    files = tuple(source_files(source, data_dir=data_dir))
    options = text_options(list(files), text_field, text_column) if spec is None else ()
    return DataRef(_data_id(source, spec), source, files, data_dir, spec, options)


def corpus_of(source: str) -> str | None:
    """The labelled (or tagged) corpus whose evaluation splits a pretraining source could leak into.

    A user's labelled or CoNLL-U file given as a source is such a corpus itself: its dev and test
    examples (carved as this run carves) are held out of the pretraining text.
    """
    from nlp_pipeline.data import is_labelled_file, is_tagged_corpus, list_corpora

    if source == "imdb_unsup":
        return "imdb"
    if source.partition(":")[0] in list_corpora():
        return source.partition(":")[0] if ":" in source else None
    if is_labelled_file(source) or is_tagged_corpus(source):
        return source
    return None


def dedup_corpora(cfg: Any) -> list[str]:
    """``data.dedup_against``, or by default the run's corpus plus every corpus the text comes from."""
    if cfg.data.dedup_against is not None:
        return sorted(set(cfg.data.dedup_against))
    names = {c for s in cfg.data.text if (c := corpus_of(s))}
    names.add(cfg.data.corpus)
    return sorted(names)


def text_sources(cfg: Any) -> tuple[DataRef, ...]:
    """``data.text`` as stage inputs (a user's JSON-lines or CSV files read with ``data.text_field`` /
    ``data.text_column``)."""
    d = cfg.data
    return tuple(source_ref(s, d.data_dir, d.text_field, d.text_column) for s in d.text)


def vectors_origin(cfg: Any) -> str | None:
    """One line for the run log: where a classifier's or tagger's word vectors come from, and how to change it
    (a user's corpus trains its own unless told otherwise; see `nlp_pipeline.config.resolve_auto_text`)."""
    from nlp_pipeline.data import list_corpora

    data = cfg.data
    if not hasattr(data, "corpus") or not cfg.uses_vectors():
        return None
    if cfg.embed.vectors is not None:
        return f"word vectors: yours, from {cfg.embed.vectors} (embed.vectors)"
    change = "other text: --set 'data.text=[FILE, ...]'; ready-made vectors: --set embed.vectors=FILE"
    if data.text == (data.corpus,) and data.corpus not in list_corpora():
        return (f"word vectors: trained on your corpus's own text ({data.corpus}; its dev and test documents "
                f"held out); {change}")
    return f"word vectors: trained on {', '.join(data.text)} (data.text); {change}"
