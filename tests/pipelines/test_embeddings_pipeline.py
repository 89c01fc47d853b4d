"""The embeddings pipeline's declaration: which corpora are held out, how variants are named and ranked."""

from __future__ import annotations

import json

import pytest

from nlp_pipeline.config import load_config
from nlp_pipeline.pipelines.embeddings import DECLARED, held_out, rank
from nlp_pipeline.pipelines.runner import variant_name
from nlp_pipeline.reports.results import VariantResult


def _cfg(*corpus: str, extra: tuple[str, ...] = ()):
    return load_config("embeddings", [f"data.text={json.dumps(list(corpus))}", *extra])


@pytest.mark.parametrize(("corpus", "expected"), [
    (("imdb:train", "imdb_unsup"), ["imdb"]),  # the default: IMDB's dev and test reviews never reach the vectors
    (("ud_en_ewt",), ["ud_en_ewt"]),  # a tagged corpus named alone: all its text but its dev and test
    (("sst2:train",), ["sst2"]),
    (("lee_background",), []),  # unlabelled: nothing to hold out
])
def test_the_evaluation_text_of_the_sources_corpora_is_held_out(corpus, expected):
    assert held_out(_cfg(*corpus)) == expected


def test_dedup_against_overrides_the_default():
    assert held_out(_cfg("imdb_unsup", extra=("data.dedup_against=[sst2, mr]",))) == ["mr", "sst2"]
    assert held_out(_cfg("imdb_unsup", extra=("data.dedup_against=[]",))) == []


def test_variants_are_named_by_engine_and_architecture():
    cfg = _cfg("lee_background", extra=("embed.sg=0", "embed.engine=torch"))
    assert variant_name(DECLARED, cfg, ["embed.sg=0", "embed.engine=torch", "embed.window=3"]) == (
        "torch-cbow-embed.window_3")  # file-name safe


def _variant(analogy, simlex):
    scores = {"google_analogy": {"kind": "analogies", "accuracy": analogy},
              "simlex999": {"kind": "pairs", "spearman": simlex}}
    return VariantResult("v", [], {}, {"scores": scores}, {}, None, {})


def test_the_leaderboard_ranks_by_analogies_then_simlex_and_unscored_last():
    ranked = sorted([_variant(None, 0.4), _variant(0.3, 0.2), _variant(0.3, 0.35)], key=rank, reverse=True)
    assert [(v.metrics["scores"]["google_analogy"]["accuracy"], v.metrics["scores"]["simlex999"]["spearman"])
            for v in ranked] == [(0.3, 0.35), (0.3, 0.2), (None, 0.4)]
