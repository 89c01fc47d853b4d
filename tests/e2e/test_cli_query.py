"""`nlp-pipeline similar / similarity / analogy / evaluate vectors` through the real CLI.

Vectors come from a small hand-written word2vec file (see tests/embeddings/test_query.py for the
cosines) or from an embed artifact made in a private cache; a user error is one line on stderr and
exit code 2, never a traceback.
"""

import json
import math

import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

from nlp_pipeline.cli import main
from nlp_pipeline.embeddings import save_vectors
from nlp_pipeline.engine import ArtifactCache

# (royal, male, fruit); cos(king, prince) = 3/sqrt(10), cos(king, queen) = 3/5, cos(king, man) = 1/sqrt(5)
ROYAL = """7 3
king 2 1 0
queen 2 -1 0
man 0 1 0
woman 0 -1 0
prince 1 1 0
apple 0 0 1
cherry 1 0 3
"""


@pytest.fixture
def vec(tmp_path):
    path = tmp_path / "royal.txt"
    path.write_text(ROYAL, encoding="utf-8")
    return str(path)


def invoke(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def assert_user_error(result, *expected):
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in result.output
    for text in expected:
        assert text in err, err


def test_similar_prints_neighbours_with_cosines(vec):
    result = invoke("similar", "king", "--topn", "3", "--vectors", vec)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["word", "cosine"]
    assert [line.split() for line in lines[2:]] == [["prince", "0.9487"], ["queen", "0.6000"], ["man", "0.4472"]]


def test_similar_json_and_several_words(vec):
    result = invoke("similar", "king", "apple", "-n", "1", "-v", vec, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records == [{"query": "king", "results": [{"word": "prince", "score": round(3 / math.sqrt(10), 6)}]},
                       {"query": "apple", "results": [{"word": "cherry", "score": round(3 / math.sqrt(10), 6)}]}]


def test_similarity_and_analogy(vec):
    result = invoke("similarity", "king", "queen", "-v", vec)
    assert result.exit_code == 0 and result.stdout.strip() == "0.6000"
    result = invoke("analogy", "man", "king", "woman", "-n", "2", "-v", vec)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "man : king :: woman : ?" and lines[1].split() == ["word", "3cosadd"]
    assert lines[3].split()[0] == "queen"
    result = invoke("analogy", "man", "king", "woman", "--method", "3cosmul", "-v", vec, "--json")
    record = json.loads(result.stdout)
    assert record["method"] == "3cosmul" and record["results"][0]["word"] == "queen"


def test_unknown_word_is_one_line_with_suggestions_and_exit_2(vec):
    assert_user_error(invoke("similar", "kinng", "-v", vec), "'kinng' is not in the vocabulary", "did you mean: king")
    assert_user_error(invoke("similarity", "king", "Queen", "-v", vec), "'Queen'", "did you mean: queen")
    assert_user_error(invoke("analogy", "man", "king", "wmoan", "-v", vec), "'wmoan'")
    # every word is checked before anything is printed
    result = invoke("similar", "king", "kinng", "-v", vec)
    assert result.exit_code == 2 and result.stdout == ""


def test_batch_from_stdin_gives_json_lines_and_error_records(vec):
    result = invoke("similar", "--file", "-", "-n", "1", "-v", vec, input="king\nkinng\n\napple\nking queen\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4, 5]
    assert records[0]["results"][0]["word"] == "prince" and records[2]["results"][0]["word"] == "cherry"
    assert records[1]["suggestions"][0] == "king" and "not in the vocabulary" in records[1]["error"]
    assert records[3]["error"] == "similar takes 1 word, got 2"
    assert "2 of 4 queries failed" in result.stderr


def test_batch_from_a_file(tmp_path, vec):
    queries = tmp_path / "q.txt"
    queries.write_text("man king woman\nman king\n", encoding="utf-8")
    result = invoke("analogy", "-f", str(queries), "-n", "1", "-v", vec)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["results"][0]["word"] == "queen" and records[1]["line"] == 2 and "error" in records[1]
    result = invoke("similarity", "-f", "-", "-v", vec, input="king queen\nman woman\n")
    assert [json.loads(line)["similarity"] for line in result.stdout.splitlines()] == [0.6, -1.0]


def test_batch_input_errors(tmp_path, vec):
    assert_user_error(invoke("similar", "-f", str(tmp_path / "missing.txt"), "-v", vec), "missing.txt")
    # A line that is not UTF-8 is one error record; the batch goes on (as for an unknown word).
    result = invoke("similar", "-f", "-", "-n", "1", "-v", vec, input=b"king\n\xff\xfe\nqueen\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[1] == {"line": 2, "error": "not valid UTF-8"} and "results" in records[2]
    assert "1 of 3 queries failed" in result.stderr


def test_missing_and_malformed_vector_files(tmp_path):
    assert_user_error(invoke("similar", "king", "-v", str(tmp_path / "nope.bin")), "nope.bin", "not found")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nking 1 2\nqueen 1 2 3\n", encoding="utf-8")
    assert_user_error(invoke("similar", "king", "-v", str(bad)), "bad.txt:2", "expected 3 values, got 2")
    assert_user_error(invoke("similar", "king", "-v", "nokey", "--cache-dir", str(tmp_path / "c")), "'nokey'")


def test_wrong_number_of_words_is_a_usage_error(vec):
    result = invoke("similarity", "king", "-v", vec)
    assert result.exit_code == 2 and "takes 2 words" in result.output
    result = invoke("similar", "king", "-f", "-", "-v", vec, input="queen\n")
    assert result.exit_code == 2 and "not both" in result.output


def test_default_vectors_are_the_latest_embed_artifact(tmp_path, vec):
    cache = tmp_path / "cache"
    assert_user_error(invoke("similar", "king", "--cache-dir", str(cache)), "no embed artifact")
    store = ArtifactCache(cache)
    tmp = store.temp_folder("embed", "abc123")
    save_vectors(KeyedVectors.load_word2vec_format(vec), tmp)
    store.commit(tmp, "embed", "abc123", {"created": 1.0, "params": {}, "inputs": {}, "metadata": {}})
    for ref in ([], ["-v", "latest"], ["-v", "abc"], ["-v", "sentiment"]):
        result = invoke("similar", "king", "-n", "1", "--cache-dir", str(cache), *ref)
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[2].split()[0] == "prince"


def test_evaluate_vectors_with_user_files(tmp_path, vec):
    pairs = tmp_path / "mine.csv"
    pairs.write_text("word1,word2,score\nking,queen,8\nking,prince,9\nman,apple,1\nfoo,bar,2\n", encoding="utf-8")
    analogies = tmp_path / "gender.txt"
    analogies.write_text(": gender\nman king woman queen\n", encoding="utf-8")
    result = invoke("evaluate", "vectors", "-v", vec, "--pairs", str(pairs), "--analogies", str(analogies))
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[4:]}
    assert list(rows) == ["wordsim353", "simlex999", "google_analogy", "mine.csv", "gender.txt"]
    assert rows["mine.csv"][1:4] == ["spearman", "1.0000", "3/4"]
    assert rows["gender.txt"][1:5] == ["accuracy", "%", "100.00", "1/1"]  # percent, as in every table
    assert rows["wordsim353"][3] == "2/353"  # (king, queen) and (man, woman) are the WordSim pairs we know
    result = invoke("evaluate", "vectors", "-v", vec, "--pairs", str(pairs), "--no-standard", "--json")
    data = json.loads(result.stdout)
    assert list(data["results"]) == ["mine.csv"] and data["vocab_size"] == 7
    assert data["results"]["mine.csv"]["spearman"] == 1.0


def test_evaluate_vectors_bad_input(tmp_path, vec):
    bad = tmp_path / "bad.tsv"
    bad.write_text("king\tqueen\t8\nking\tprince\n", encoding="utf-8")
    assert_user_error(invoke("evaluate", "vectors", "-v", vec, "--pairs", str(bad)), f"{bad}:2:", "word1 word2 score")
    assert_user_error(invoke("evaluate", "vectors", "-v", vec, "--pairs", str(tmp_path / "none.tsv")), "none.tsv")
    bad_q = tmp_path / "q.txt"
    bad_q.write_text(": s\nman king woman\n", encoding="utf-8")
    assert_user_error(invoke("evaluate", "vectors", "-v", vec, "--analogies", str(bad_q)), f"{bad_q}:2:")
    result = invoke("evaluate", "vectors", "-v", vec, "--no-standard")
    assert result.exit_code == 2 and "nothing to evaluate" in result.output
