"""Intrinsic evaluation of word vectors on gensim's bundled benchmark files.

WordSim-353 and SimLex-999: Spearman correlation between cosine similarity and human scores
(pairs with an out-of-vocabulary word are skipped; the OOV ratio is reported). Google analogies:
3CosAdd accuracy over the 30k most frequent words, as in the original word2vec evaluation.
"""

from __future__ import annotations

import logging
import math

ANALOGY_RESTRICT_VOCAB = 30_000


def _datapath(name: str) -> str:
    from gensim.test.utils import datapath

    return datapath(name)


def _nan_to_none(value: float | None) -> float | None:
    if value is None or math.isnan(float(value)):
        return None
    return round(float(value), 4)


def intrinsic_scores(kv, analogies: bool = True, restrict_vocab: int = ANALOGY_RESTRICT_VOCAB) -> dict:
    """Return ``{"wordsim353": {...}, "simlex999": {...}, "google_analogy": {...}}``."""
    logging.getLogger("gensim").setLevel(logging.WARNING)
    scores: dict = {}
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        try:
            (pearson, _), (spearman, _), oov = kv.evaluate_word_pairs(_datapath(file), case_insensitive=True)
        except ValueError:  # gensim: "No valid similarity judgements found" (every pair out of vocabulary)
            scores[name] = {"spearman": None, "pearson": None, "oov_percent": 100.0,
                            "unavailable": f"no {name} pair has both words in the {len(kv):,}-word vocabulary"}
            continue
        scores[name] = {
            "spearman": _nan_to_none(spearman),
            "pearson": _nan_to_none(pearson),
            "oov_percent": round(float(oov), 2),
        }
    if analogies:
        try:
            accuracy, sections = kv.evaluate_word_analogies(
                _datapath("questions-words.txt"), restrict_vocab=restrict_vocab, case_insensitive=True
            )
        except (ValueError, ZeroDivisionError):
            accuracy, sections = None, []
        total = next((s for s in sections if s["section"] == "Total accuracy"), None)
        n_seen = len(total["correct"]) + len(total["incorrect"]) if total else 0
        scores["google_analogy"] = {
            "accuracy": _nan_to_none(accuracy) if n_seen else None,
            "questions_answered": n_seen,
            "restrict_vocab": restrict_vocab,
        }
        if not n_seen:
            scores["google_analogy"]["unavailable"] = (f"no analogy question has all four words among the "
                                                       f"{min(len(kv), restrict_vocab):,} most frequent words")
    return scores
