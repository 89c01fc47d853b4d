"""Similarity queries: exact neighbours on a hand-written vector file, gensim's answers, OOV, batches."""

import json
import math
import time

import numpy as np
import pytest
from gensim.models import KeyedVectors

from nlp_pipeline.embeddings import VectorIndex, answer_queries, save_vectors
from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.errors import ConfigError, DataError, PipelineError, UnknownWordError
from nlp_pipeline.pipelines.artifacts import resolve_vectors

# (royal, male, fruit): every cosine below is a fraction a reader can check by hand.
VECTORS = {
    "king": (2, 1, 0),
    "queen": (2, -1, 0),
    "man": (0, 1, 0),
    "woman": (0, -1, 0),
    "prince": (1, 1, 0),
    "apple": (0, 0, 1),
    "cherry": (1, 0, 3),
}
KING_NEIGHBOURS = [  # cos(king, w), best first; king itself is never its own neighbour
    ("prince", 3 / math.sqrt(10)),
    ("queen", 3 / 5),
    ("man", 1 / math.sqrt(5)),
    ("cherry", 2 / math.sqrt(50)),
    ("apple", 0.0),
    ("woman", -1 / math.sqrt(5)),
]
# man : king :: woman : ?  → cos(queen, king/|king| - man + woman)
QUEEN_3COSADD = (3 / 5 + 2 / math.sqrt(5)) / math.sqrt(4 / 5 + (1 / math.sqrt(5) - 2) ** 2)
# (1 + cos(q, king))/2 * (1 + cos(q, woman))/2 / ((1 + cos(q, man))/2 + 1e-6)
QUEEN_3COSMUL = (1.6 / 2) * ((1 + 1 / math.sqrt(5)) / 2) / ((1 - 1 / math.sqrt(5)) / 2 + 1e-6)


def write_text_vectors(path, vectors=VECTORS):
    dim = len(next(iter(vectors.values())))
    lines = [f"{len(vectors)} {dim}"] + [f"{w} {' '.join(map(str, v))}" for w, v in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def vec_file(tmp_path):
    return write_text_vectors(tmp_path / "royal.txt")


@pytest.fixture
def index(vec_file):
    return VectorIndex.load(vec_file)


def random_kv(n=400, dim=24, seed=0):
    rng = np.random.default_rng(seed)
    kv = KeyedVectors(dim)
    kv.add_vectors([f"w{i}" for i in range(n)], rng.standard_normal((n, dim), dtype=np.float32))
    return kv


def assert_neighbours(got, expected):
    assert [w for w, _ in got] == [w for w, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-6)


# ----------------------------------------------------------------------------------------------
# known answers


def test_most_similar_gives_the_exact_neighbours_and_cosines(index):
    assert len(index) == 7 and index.dim == 3
    assert_neighbours(index.most_similar("king"), KING_NEIGHBOURS)
    assert_neighbours(index.most_similar("king", topn=2), KING_NEIGHBOURS[:2])
    assert_neighbours(index.most_similar("apple", topn=1), [("cherry", 3 / math.sqrt(10))])


def test_topn_beyond_the_vocabulary_returns_every_other_word(index):
    assert len(index.most_similar("king", topn=100)) == len(VECTORS) - 1


def test_a_list_is_a_batch_of_queries_with_the_same_answers(index):
    batch = index.most_similar(["king", "apple", "king"], topn=3)
    assert len(batch) == 3
    assert batch[0] == batch[2] == index.most_similar("king", topn=3)
    assert batch[1] == index.most_similar("apple", topn=3)


def test_exclude_and_restrict_vocab(index):
    assert_neighbours(index.most_similar("king", topn=2, exclude=["prince"]), KING_NEIGHBOURS[1:3])
    # only the first 4 words (king, queen, man, woman) are candidates
    assert [w for w, _ in index.most_similar("king", restrict_vocab=4)] == ["queen", "man", "woman"]


def test_similarity(index):
    assert index.similarity("king", "queen") == pytest.approx(0.6, abs=1e-6)
    assert index.similarity("man", "woman") == pytest.approx(-1.0, abs=1e-6)
    sims = index.similarities([("king", "queen"), ("apple", "cherry")])
    assert sims.tolist() == pytest.approx([0.6, 3 / math.sqrt(10)], abs=1e-6)


def test_analogy_3cosadd_and_3cosmul(index):
    add = index.analogy("man", "king", "woman", topn=2)
    assert add[0][0] == "queen" and add[0][1] == pytest.approx(QUEEN_3COSADD, abs=1e-6)
    mul = index.analogy("man", "king", "woman", topn=2, method="3cosmul")
    assert mul[0][0] == "queen" and mul[0][1] == pytest.approx(QUEEN_3COSMUL, rel=1e-5)
    for answers in (add, mul, index.analogy("man", "king", "woman", topn=10)):
        assert not {"man", "king", "woman"} & {w for w, _ in answers}  # a, b and c are never answers
    assert index.analogies([("man", "king", "woman"), ("man", "king", "woman")], topn=2) == [add, add]
    with pytest.raises(ValueError, match="method"):
        index.analogy("man", "king", "woman", method="3cosavg")


def test_word2vec_binary_file_and_artifact_folder_give_the_same_answers(tmp_path, vec_file, index):
    kv = KeyedVectors.load_word2vec_format(str(vec_file))
    kv.save_word2vec_format(str(tmp_path / "royal.bin"), binary=True)
    save_vectors(kv, tmp_path / "artifact")
    for other in (VectorIndex.load(tmp_path / "royal.bin"), VectorIndex.load(tmp_path / "artifact")):
        assert other.words == index.words
        assert other.most_similar("king") == index.most_similar("king")


def test_a_zero_vector_gives_zero_cosines_not_nan(tmp_path):
    index = VectorIndex.load(write_text_vectors(tmp_path / "z.txt", {"a": (1, 0), "b": (0, 0), "c": (1, 1)}))
    assert index.most_similar("a") == [("c", pytest.approx(1 / math.sqrt(2))), ("b", 0.0)]
    assert index.similarity("a", "b") == 0.0


# ----------------------------------------------------------------------------------------------
# gensim's semantics


def test_top10_and_scores_are_gensims():
    kv = random_kv()
    index = VectorIndex.from_keyed_vectors(kv)
    words = kv.index_to_key[:60]
    for word, ours in zip(words, index.most_similar(words), strict=True):
        assert_neighbours(ours, kv.most_similar(word, topn=10))
    rng = np.random.default_rng(1)
    questions = [tuple(kv.index_to_key[i] for i in rng.choice(len(kv), 3, replace=False)) for _ in range(40)]
    for method, peer in (("3cosadd", kv.most_similar), ("3cosmul", kv.most_similar_cosmul)):
        for (a, b, c), ours in zip(questions, index.analogies(questions, method=method), strict=True):
            theirs = peer(positive=[b, c], negative=[a], topn=10)
            assert [w for w, _ in ours] == [w for w, _ in theirs]
            assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-5)
    assert index.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-6)


def test_batches_larger_than_one_block_give_the_same_answers(monkeypatch):
    import nlp_pipeline.embeddings.query as query

    kv = random_kv(n=300)
    index = VectorIndex.from_keyed_vectors(kv)
    words = kv.index_to_key[:50]
    whole = index.most_similar(words)
    monkeypatch.setattr(query, "BLOCK_CELLS", 300 * 7)  # blocks of 7 queries
    # Same words; scores equal up to float32 rounding (BLAS sums in another order for another shape).
    for got, expected in zip(index.most_similar(words), whole, strict=True):
        assert_neighbours(got, expected)


# ----------------------------------------------------------------------------------------------
# out-of-vocabulary words


def test_unknown_word_names_it_and_suggests_close_spellings(index):
    with pytest.raises(UnknownWordError) as info:
        index.most_similar("kinng")
    err = info.value
    assert isinstance(err, DataError) and isinstance(err, PipelineError)
    assert err.word == "kinng" and err.suggestions[0] == "king"
    assert "'kinng' is not in the vocabulary of 7 words" in str(err) and "did you mean: king" in str(err)


def test_other_casing_is_suggested_first(index):
    assert index.suggest("Queen")[0] == "queen"
    with pytest.raises(UnknownWordError, match="did you mean: queen"):
        index.similarity("king", "QUEEN")


def test_no_close_spelling(index):
    with pytest.raises(UnknownWordError, match="no close spelling") as info:
        index.analogy("man", "king", "xylophone")
    assert info.value.suggestions == []


def test_an_unknown_word_in_a_batch_raises_for_the_batch(index):
    with pytest.raises(UnknownWordError, match="'nope'"):
        index.most_similar(["king", "nope"])


def test_suggestions_are_fast_on_a_large_vocabulary():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = list(dict.fromkeys("".join(rng.choice(letters, rng.integers(3, 12))) for _ in range(100_000)))
    index = VectorIndex(words, np.ones((len(words), 2), dtype=np.float32))
    target = next(w for w in words if len(w) == 8)
    start = time.perf_counter()
    assert target in index.suggest(target[:4] + target[5:])
    assert time.perf_counter() - start < 5  # generous: the CPU is shared; ~0.2 s alone


# ----------------------------------------------------------------------------------------------
# batches of query lines


def test_answer_queries_gives_one_record_per_line_and_error_records(index):
    lines = [(1, "king"), (2, ""), (3, "kinng"), (4, "king queen"), (5, "  apple  ")]
    records = list(answer_queries(index, "similar", lines, topn=2, batch_size=2))
    assert [r["line"] for r in records] == [1, 3, 4, 5]
    assert records[0] == {"line": 1, "query": "king",
                          "results": [{"word": "prince", "score": round(3 / math.sqrt(10), 6)},
                                      {"word": "queen", "score": 0.6}]}
    assert records[1]["error"].startswith("'kinng' is not in the vocabulary") and records[1]["suggestions"][0] == "king"
    assert records[2]["error"] == "similar takes 1 word, got 2"
    assert records[3]["query"] == "apple" and records[3]["results"][0]["word"] == "cherry"
    json.dumps(records)  # JSON-ready


def test_answer_queries_similarity_and_analogy(index):
    sim = list(answer_queries(index, "similarity", [(1, "king queen"), (2, "king")]))
    assert sim[0] == {"line": 1, "query": ["king", "queen"], "similarity": 0.6}
    assert sim[1]["error"] == "similarity takes 2 words, got 1"
    ana = list(answer_queries(index, "analogy", [(7, "man king woman")], topn=1, method="3cosmul"))
    assert ana == [{"line": 7, "query": ["man", "king", "woman"], "method": "3cosmul",
                    "results": [{"word": "queen", "score": pytest.approx(QUEEN_3COSMUL, rel=1e-5)}]}]


# ----------------------------------------------------------------------------------------------
# malformed or missing vector files


@pytest.mark.parametrize("content", [
    b"",
    b"this is not a vectors file\n",
    b"3 2\nking 1.0 2.0\nqueen 1.0\n",  # a row too short
    b"3 2\nking 1.0 2.0\nqueen 1.0 x\n",  # not a number
    b"5 2\nking 1.0 2.0\n",  # fewer rows than the header says
    b"\x00\x01\x02\xff\xfe garbage",
])
@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_malformed_vector_file_is_a_data_error(tmp_path, content, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        VectorIndex.load(path)
    assert str(path) in str(info.value)


def test_missing_vector_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        VectorIndex.load(tmp_path / "nope.bin")


# ----------------------------------------------------------------------------------------------
# resolving a vectors reference


def _embed_artifact(cache_dir, key, kv, created, manifest_extra=None):
    store = ArtifactCache(cache_dir)
    tmp = store.temp_folder("embed", key)
    save_vectors(kv, tmp)
    manifest = {"created": created, "params": {}, "inputs": {}, "metadata": {}, **(manifest_extra or {})}
    return store.commit(tmp, "embed", key, manifest)


def test_resolve_vectors(tmp_path, vec_file):
    cache = tmp_path / "cache"
    assert resolve_vectors(str(vec_file), cache) == vec_file
    with pytest.raises(ConfigError, match="no embed artifact"):
        resolve_vectors(None, cache)
    with pytest.raises(DataError, match="vectors file not found"):
        resolve_vectors(str(tmp_path / "typo.bin"), cache)
    with pytest.raises(DataError, match="no vectors.bin"):
        resolve_vectors(str(tmp_path), cache)

    kv = KeyedVectors.load_word2vec_format(str(vec_file))
    old = _embed_artifact(cache, "aaaa1111", kv, created=1.0, manifest_extra={"runtime": {"pipeline": "sentiment"}})
    new = _embed_artifact(cache, "aaaa2222", kv, created=2.0)
    assert resolve_vectors(None, cache) == resolve_vectors("latest", cache) == new.path
    assert resolve_vectors("aaaa1", cache) == old.path
    assert resolve_vectors(str(new.path), cache) == new.path
    assert resolve_vectors("sentiment", cache) == old.path  # the newest made by that pipeline
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_vectors("aaaa", cache)
    with pytest.raises(ConfigError, match="neither a vectors file"):
        resolve_vectors("bbbb", cache)


def test_pipeline_name_falls_back_to_the_newest_embed_artifact(tmp_path, vec_file):
    kv = KeyedVectors.load_word2vec_format(str(vec_file))
    _embed_artifact(tmp_path, "k1", kv, created=1.0)
    newest = _embed_artifact(tmp_path, "k2", kv, created=2.0)
    assert resolve_vectors("sentiment", tmp_path) == newest.path
