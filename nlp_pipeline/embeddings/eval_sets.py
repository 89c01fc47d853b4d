"""Scoring word vectors on word-similarity and analogy test sets: the standard ones and the user's.

Pair files (WordSim-353, SimLex-999 style) hold ``word1 word2 score`` per line, separated by tabs,
commas or spaces, with an optional header line and ``#`` comments; the score is the Spearman (and
Pearson) correlation between the human scores and the cosines. Analogy files are in the Google
``questions-words.txt`` format: ``: section`` lines, then ``a b c d`` ("a is to b as c is to d");
the score is the share of questions whose best 3CosAdd answer is d.

Both follow gensim's ``evaluate_word_pairs`` / ``evaluate_word_analogies`` rules, so the numbers
match theirs and the embed stage's `intrinsic_scores` (tests check it): words are matched
case-insensitively (the most frequent casing wins), questions and pairs with a word outside the
vocabulary are skipped and counted, analogies search the 30k most frequent words. Unlike gensim's
evaluators, a set with no pair in the vocabulary scores None instead of raising, and analogies run
batched through `VectorIndex` (the Google set's 19,544 questions take seconds, not a minute).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nlp_pipeline.embeddings.evaluate import ANALOGY_RESTRICT_VOCAB, _datapath
from nlp_pipeline.embeddings.query import VectorIndex
from nlp_pipeline.errors import DataError

PAIRS_RESTRICT_VOCAB = 300_000  # gensim evaluate_word_pairs' default
# gensim's bundled copies of the standard sets (the embed stage scores the same files).
STANDARD_SETS = (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt"),
                 ("google_analogy", "questions-words.txt"))
ANALOGY_CANDIDATES = 5  # gensim looks at the top 5 answers for the first that is not a casing of a, b or c


class WordPair(NamedTuple):
    word1: str
    word2: str
    score: float
    line: int


class Analogy(NamedTuple):
    section: str
    a: str
    b: str
    c: str
    expected: str
    line: int


def read_pairs(path: str | Path) -> list[WordPair]:
    """Read a ``word1 word2 score`` file (TSV, CSV or spaces; optional header; ``#`` comments).

    A line that does not split into two words and a number is a `DataError` naming the file and
    line (only the first data line may be a header).
    """
    from nlp_pipeline.data.readers import iter_lines

    pairs: list[WordPair] = []
    first = True
    for number, text in iter_lines(path):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if "\t" in text:
            fields = text.split("\t")
        elif "," in text:
            fields = next(csv.reader([text]))
        else:
            fields = text.split()
        fields = [f.strip() for f in fields]
        if len(fields) != 3 or not fields[0] or not fields[1]:
            raise DataError(f"expected 'word1 word2 score' (tab, comma or space separated), got {len(fields)} "
                            f"field(s): {text.strip()[:80]!r}", path=path, line=number)
        try:
            score = float(fields[2])
        except ValueError:
            if first:  # a header such as "word1,word2,score"
                first = False
                continue
            raise DataError(f"score {fields[2]!r} is not a number", path=path, line=number) from None
        if not math.isfinite(score):
            raise DataError(f"score {fields[2]!r} is not a finite number", path=path, line=number)
        first = False
        pairs.append(WordPair(fields[0], fields[1], score, number))
    if not pairs:
        raise DataError("no word pairs in the file (expected 'word1 word2 score' lines)", path=path)
    return pairs


def read_analogies(path: str | Path) -> list[Analogy]:
    """Read a Google-format analogy file (``: section`` lines, then ``a b c d``; ``#`` comments).

    Questions before the first section line belong to a section named after the file.
    """
    from nlp_pipeline.data.readers import iter_lines

    questions: list[Analogy] = []
    section = Path(path).stem
    for number, text in iter_lines(path):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith(":"):
            section = stripped[1:].strip() or section
            continue
        words = stripped.split()
        if len(words) != 4:
            raise DataError(f"expected 4 words 'a b c d' (a is to b as c is to d) or a ': section' line, "
                            f"got {len(words)} word(s)", path=path, line=number)
        questions.append(Analogy(section, *words, number))
    if not questions:
        raise DataError("no analogy questions in the file (expected 'a b c d' lines)", path=path)
    return questions


def _casefolded(index: VectorIndex, restrict_vocab: int) -> dict[str, int]:
    """UPPER-cased word → row among the first ``restrict_vocab`` words; the most frequent casing wins."""
    return {w.upper(): i for i, w in reversed(list(enumerate(index.words[:restrict_vocab])))}


def score_pairs(index: VectorIndex, pairs: Sequence[WordPair], *,
                restrict_vocab: int = PAIRS_RESTRICT_VOCAB) -> dict:
    """Spearman and Pearson correlation of cosines with the human scores, on the in-vocabulary pairs."""
    from scipy import stats

    vocab = _casefolded(index, restrict_vocab)
    known = [(vocab[p.word1.upper()], vocab[p.word2.upper()], p.score) for p in pairs
             if p.word1.upper() in vocab and p.word2.upper() in vocab]
    result = {"pairs": len(pairs), "pairs_in_vocab": len(known),
              "oov_percent": round(100 * (len(pairs) - len(known)) / len(pairs), 2),
              "spearman": None, "pearson": None}
    if len(known) >= 2:
        rows = np.array([(a, b) for a, b, _ in known], dtype=np.int64)
        cosines = np.einsum("ij,ij->i", index.matrix[rows[:, 0]], index.matrix[rows[:, 1]])
        gold = [s for _, _, s in known]
        result["spearman"] = _rounded(stats.spearmanr(gold, cosines)[0])
        result["pearson"] = _rounded(stats.pearsonr(gold, cosines)[0])
    return result


def score_analogies(index: VectorIndex, questions: Sequence[Analogy], *,
                    restrict_vocab: int = ANALOGY_RESTRICT_VOCAB) -> dict:
    """3CosAdd accuracy over the questions whose four words are among the ``restrict_vocab`` first words."""
    vocab = _casefolded(index, restrict_vocab)
    asked = [q for q in questions if all(w.upper() in vocab for w in (q.a, q.b, q.c, q.expected))]
    correct = np.zeros(len(asked), dtype=bool)
    if asked:
        rows = np.array([[vocab[w.upper()] for w in (q.a, q.b, q.c)] for q in asked], dtype=np.int64)
        idx, scores = index.analogy_rows(rows[:, 0], rows[:, 1], rows[:, 2], ANALOGY_CANDIDATES,
                                         restrict_vocab=restrict_vocab)
        for i, q in enumerate(asked):
            ignore = {q.a.upper(), q.b.upper(), q.c.upper()}
            predicted = None
            for j, s in zip(idx[i].tolist(), scores[i].tolist(), strict=True):
                if s == -np.inf:
                    break
                predicted = index.words[j].upper()
                if predicted not in ignore:
                    break
            correct[i] = predicted == q.expected.upper()
    sections: dict[str, list[int]] = {}
    for q, ok in zip(asked, correct.tolist(), strict=True):
        sections.setdefault(q.section, [0, 0])[0] += ok
        sections[q.section][1] += 1
    return {
        "accuracy": _rounded(correct.mean()) if len(asked) else None,
        "questions": len(questions),
        "questions_answered": len(asked),
        "oov_percent": round(100 * (len(questions) - len(asked)) / len(questions), 2),
        "restrict_vocab": restrict_vocab,
        "sections": {name: {"accuracy": _rounded(c / n), "questions_answered": n} for name, (c, n) in sections.items()},
    }


def evaluate_vectors(index: VectorIndex, pair_files: Iterable[str | Path] = (),
                     analogy_files: Iterable[str | Path] = (), *, standard: bool = True,
                     restrict_vocab: int = ANALOGY_RESTRICT_VOCAB) -> dict[str, dict]:
    """Scores on WordSim-353, SimLex-999 and the Google analogies (``standard``) plus each user file.

    Returns ``{name: {"kind": "pairs" | "analogies", "file": ..., <scores>}}`` in that order; a
    user file is named by its file name (with a suffix if two share one).
    """
    results: dict[str, dict] = {}
    # Read every user file first: a malformed one fails before any scoring.
    pair_sets = [(Path(f), read_pairs(f)) for f in pair_files]
    analogy_sets = [(Path(f), read_analogies(f)) for f in analogy_files]
    if standard:
        for name, file in STANDARD_SETS:
            path = _datapath(file)
            if name == "google_analogy":
                results[name] = {"kind": "analogies", "file": file, **score_analogies(
                    index, read_analogies(path), restrict_vocab=restrict_vocab)}
            else:
                results[name] = {"kind": "pairs", "file": file, **score_pairs(index, read_pairs(path))}
    for path, pairs in pair_sets:
        results[_unique(results, path.name)] = {"kind": "pairs", "file": str(path), **score_pairs(index, pairs)}
    for path, questions in analogy_sets:
        results[_unique(results, path.name)] = {"kind": "analogies", "file": str(path),
                                                **score_analogies(index, questions, restrict_vocab=restrict_vocab)}
    return results


def _unique(taken: dict, name: str) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def _rounded(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 4)
