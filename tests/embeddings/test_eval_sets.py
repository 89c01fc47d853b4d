"""Word-similarity and analogy sets: reading user files, and scores equal to gensim's evaluators."""

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from nlp_pipeline.embeddings import (
    VectorIndex,
    Word2VecParams,
    evaluate_vectors,
    intrinsic_scores,
    read_analogies,
    read_pairs,
    train_gensim,
)
from nlp_pipeline.embeddings.eval_sets import score_analogies, score_pairs
from nlp_pipeline.errors import DataError


@pytest.fixture(scope="module")
def lee_kv():
    """Small real vectors: enough vocabulary for some WordSim pairs and Google questions."""
    kv, _ = train_gensim(datapath("lee_background.cor"), Word2VecParams(vector_size=16, epochs=3, min_count=2,
                                                                        workers=1, seed=7), progress=False)
    return kv


def toy_index():
    words = ["king", "queen", "man", "woman", "Paris", "France", "Rome", "Italy", "paris"]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(words), 8)).astype(np.float32)
    w = {word: i for i, word in enumerate(words)}
    vectors[w["queen"]] = vectors[w["king"]] - vectors[w["man"]] + vectors[w["woman"]]
    vectors[w["Italy"]] = vectors[w["France"]] - vectors[w["Paris"]] + vectors[w["Rome"]]
    return VectorIndex(words, vectors)


@pytest.mark.parametrize("text", [
    "# my pairs\nking\tqueen\t8.5\nman\twoman\t7\n",
    "word1,word2,score\nking,queen,8.5\n\"man\",woman,7\n",
    "Word 1;Word 2;Human\nking queen 8.5\n# comment\n\nman  woman 7\n",
])
def test_read_pairs_tsv_csv_spaces_header_and_comments(tmp_path, text):
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    pairs = read_pairs(path)
    assert [(p.word1, p.word2, p.score) for p in pairs] == [("king", "queen", 8.5), ("man", "woman", 7.0)]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("king\tqueen\t8.5\nman\twoman\n", 2, "got 2 field"),
    ("king\tqueen\t8.5\nman\twoman\tseven\n", 2, "'seven' is not a number"),
    ("king,queen,8.5,extra\n", 1, "got 4 field"),
    ("a\tb\tnan\n", 1, "not a finite number"),
])
def test_malformed_pair_line_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_pairs(path)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_empty_or_missing_pair_file(tmp_path):
    (tmp_path / "header_only.csv").write_text("word1,word2,score\n")
    with pytest.raises(DataError, match="no word pairs"):
        read_pairs(tmp_path / "header_only.csv")
    with pytest.raises(DataError, match="nope.tsv"):
        read_pairs(tmp_path / "nope.tsv")


def test_read_analogies_and_a_malformed_line(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("man king woman queen\n: capitals\nParis France Rome Italy\n", encoding="utf-8")
    questions = read_analogies(path)
    assert [(q.section, q.a, q.expected, q.line) for q in questions] == [("mine", "man", "queen", 1),
                                                                         ("capitals", "Paris", "Italy", 3)]
    path.write_text(": s\nParis France Rome\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected 4 words") as info:
        read_analogies(path)
    assert f"{path}:2:" in str(info.value)


def test_scores_on_user_sets(tmp_path):
    index = toy_index()
    questions = [q for q in read_analogies(_write(tmp_path / "a.txt", ": x\nman king woman queen\n"
                                                  "paris france rome italy\nman king woman unicorn\n"))]
    result = score_analogies(index, questions)
    # lower case matches the most frequent casing ("Paris" is before "paris"); the unicorn is skipped
    assert result["accuracy"] == 1.0 and result["questions_answered"] == 2 and result["questions"] == 3
    assert result["sections"] == {"x": {"accuracy": 1.0, "questions_answered": 2}}
    pairs = read_pairs(_write(tmp_path / "p.tsv", "king\tqueen\t9\nman\twoman\t5\nking\tparis\t1\nfoo\tbar\t3\n"))
    scored = score_pairs(index, pairs)
    assert scored["pairs_in_vocab"] == 3 and scored["oov_percent"] == 25.0
    assert -1 <= scored["spearman"] <= 1
    all_oov = score_pairs(index, read_pairs(_write(tmp_path / "o.tsv", "foo\tbar\t3\n")))
    assert all_oov["spearman"] is None and all_oov["oov_percent"] == 100.0


def test_standard_scores_equal_gensims_intrinsic_scores(lee_kv):
    expected = intrinsic_scores(lee_kv, restrict_vocab=30_000)
    got = evaluate_vectors(VectorIndex.from_keyed_vectors(lee_kv))
    for name in ("wordsim353", "simlex999"):
        assert got[name]["spearman"] == pytest.approx(expected[name]["spearman"], abs=1e-4)
        assert got[name]["pearson"] == pytest.approx(expected[name]["pearson"], abs=1e-4)
        assert got[name]["oov_percent"] == expected[name]["oov_percent"]
    assert got["google_analogy"]["questions_answered"] == expected["google_analogy"]["questions_answered"] > 0
    assert got["google_analogy"]["accuracy"] == expected["google_analogy"]["accuracy"]


def test_user_analogy_file_equals_gensims_evaluate_word_analogies(tmp_path, lee_kv):
    """Same rules as gensim (case-folding, restricted vocabulary, top-5 walk) on a small vocabulary."""
    index = VectorIndex.from_keyed_vectors(lee_kv)
    questions = read_analogies(datapath("questions-words.txt"))
    for restrict in (300, 2000):
        ours = score_analogies(index, questions, restrict_vocab=restrict)
        accuracy, sections = lee_kv.evaluate_word_analogies(datapath("questions-words.txt"),
                                                            restrict_vocab=restrict, case_insensitive=True)
        total = sections[-1]
        assert ours["questions_answered"] == len(total["correct"]) + len(total["incorrect"])
        assert ours["accuracy"] == pytest.approx(accuracy, abs=1e-4)


def test_evaluate_vectors_reads_user_files_before_scoring(tmp_path):
    index = toy_index()
    good = _write(tmp_path / "good.tsv", "king\tqueen\t9\nman\twoman\t5\nking\tParis\t1\n")
    bad = _write(tmp_path / "bad.tsv", "king\tqueen\n")
    with pytest.raises(DataError, match="bad.tsv:1"):
        evaluate_vectors(index, [good, bad])
    results = evaluate_vectors(index, [good, good], [_write(tmp_path / "a.txt", "man king woman queen\n")],
                               standard=False)
    assert list(results) == ["good.tsv", "good.tsv (2)", "a.txt"]
    assert results["a.txt"]["kind"] == "analogies" and results["a.txt"]["accuracy"] == 1.0


def test_vectors_from_kv_are_not_modified(lee_kv):
    before = lee_kv.vectors.copy()
    VectorIndex.from_keyed_vectors(lee_kv)
    assert np.array_equal(before, lee_kv.vectors)
    assert isinstance(lee_kv, KeyedVectors)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path
