"""Data layer: corpus definitions (``corpora/*.yaml``), file resolution with checksums, format readers.

Everything downstream gets its data through these functions, so corpus quirks (SST-2's trailing
space before the last tab, MR's cp1252 bytes, IMDB's tar members, CoNLL-U multiword ranges) are
handled once, here, and every user-causable problem is a `DataError`/`ConfigError`/
`CorpusNotFoundError` naming the file and line.

Quick start (runs anywhere gensim is installed: the corpus ships with it)::

    >>> from nlp_pipeline.data import load_labelled, iter_texts
    >>> ds = load_labelled("pang_lee_polarity")
    >>> len(ds.splits["train"]), ds.labels
    (160, ['negative', 'positive'])
    >>> sum(1 for _ in iter_texts("lee_background"))
    300
"""

from nlp_pipeline.data.datasets import (
    carve,
    check_tags,
    corpus_files,
    is_labelled_file,
    is_tagged_corpus,
    iter_texts,
    load_labelled,
    load_tagged,
    source_files,
    tagged_split_files,
)
from nlp_pipeline.data.readers import Sentence, read_conllu
from nlp_pipeline.data.registry import CorpusSpec, DownloadSpec, FileSpec, list_corpora, load_spec
from nlp_pipeline.data.resolve import resolve_file
from nlp_pipeline.data.types import Example, LabelledDataset

__all__ = ["CorpusSpec", "DownloadSpec", "Example", "FileSpec", "LabelledDataset", "Sentence", "carve", "check_tags",
           "corpus_files", "iter_texts", "list_corpora", "load_labelled", "load_spec", "is_labelled_file",
           "is_tagged_corpus", "load_tagged", "tagged_split_files", "read_conllu", "resolve_file", "source_files"]
