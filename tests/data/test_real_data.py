"""Counts on the real shared mirror (../shared/corpora). Skipped where the mirror is absent.

The quick ones (SST-2, MR, UD dev) run by default; those that read the IMDB archives or the whole UD
train file are marked slow (``pytest -m slow``).
"""

from __future__ import annotations

import pytest

from nlp_pipeline.data import corpus_files, iter_texts, load_labelled, load_tagged, read_conllu, source_files
from nlp_pipeline.data.resolve import shared_roots

pytestmark = pytest.mark.skipif(not shared_roots(), reason="../shared/corpora is not available")


def test_sst2_counts_and_quirks():
    ds = load_labelled("sst2")
    assert ds.info["sizes"] == {"train": 67349, "dev": 872}
    assert ds.info["counts"]["train"] == {"negative": 29780, "positive": 37569}
    assert ds.info["counts"]["dev"] == {"negative": 428, "positive": 444}
    first = ds.splits["train"][0]
    assert (first.text, first.label, first.line) == (
        "hide new secretions from the parental units",
        "negative",
        2,
    )
    assert not any(e.text != e.text.strip() or "\t" in e.text for e in ds.splits["train"])


def test_mr_counts_and_carving():
    ds = load_labelled("mr")
    counts = {lab: sum(ds.info["counts"][s][lab] for s in ds.splits) for lab in ds.labels}
    assert counts == {"negative": 5331, "positive": 5331}
    assert ds.info["sizes"] == {"train": 8530, "dev": 1066, "test": 1066}
    assert any("é" in e.text for e in ds.splits["train"])  # cp1252 decoded, not mojibake


def test_ud_dev_counts():
    sentences = list(read_conllu(corpus_files("ud_en_ewt")[1]))
    assert len(sentences) == 2001 and sum(len(s.words) for s in sentences) == 25147


@pytest.mark.slow
def test_ud_train_counts_and_tagset():
    train = load_tagged("ud_en_ewt")["train"]
    assert len(train) == 12544 and sum(len(s.words) for s in train) == 204577
    assert len({tag for s in train for tag in s.upos}) == 17


@pytest.mark.slow
def test_imdb_official_splits():
    ds = load_labelled("imdb")
    assert ds.info["sizes"] == {"train": 22500, "dev": 2500, "test": 25000}
    assert ds.info["counts"]["test"] == {"negative": 12500, "positive": 12500}
    assert sum("<br />" in e.text for s in ds.splits.values() for e in s) == 29200  # raw text kept


@pytest.mark.slow
def test_imdb_unsup_streams_50000_reviews():
    assert sum(1 for _ in iter_texts("imdb_unsup")) == 50000
    assert [p.name for p in source_files("imdb_unsup")] == ["aclImdb_v1_unsup.tar.gz"]
    assert sum(1 for _ in iter_texts("imdb:test")) == 25000
