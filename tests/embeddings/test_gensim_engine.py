"""The gensim embed engine, word2vec-format I/O and intrinsic scores, on gensim's bundled corpus."""

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from nlp_pipeline.embeddings import Word2VecParams, intrinsic_scores, load_vectors, save_vectors, train_gensim
from nlp_pipeline.errors import DataError

CORPUS = datapath("lee_background.cor")
SMALL = Word2VecParams(vector_size=16, epochs=3, min_count=2, workers=1, seed=7)


@pytest.fixture(scope="module")
def trained():
    return train_gensim(CORPUS, SMALL, progress=False)


def test_per_epoch_loss_is_reported_and_falls(trained):
    _, info = trained
    losses = info["epoch_loss"]
    assert len(losses) == SMALL.epochs
    assert all(x > 0 for x in losses)
    assert losses[-1] < losses[0]  # per-epoch values, not gensim's cumulative tally
    assert info["loss_is_estimate"] is False and info["workers"] == 1
    assert info["words_per_second"] > 0 and info["vocab_size"] > 1000


def test_fixed_seed_with_one_worker_reproduces_vectors(trained):
    kv, _ = trained
    again, _ = train_gensim(CORPUS, SMALL, progress=False)
    assert again.index_to_key == kv.index_to_key
    assert np.array_equal(again.vectors, kv.vectors)


def test_several_workers_flag_the_loss_as_an_estimate():
    _, info = train_gensim(CORPUS, Word2VecParams(vector_size=8, epochs=1, min_count=5, workers=2), progress=False)
    assert info["loss_is_estimate"] is True and "last worker" in info["loss_note"]


def test_saved_vectors_load_in_gensim_and_as_npy(trained, tmp_path):
    kv, _ = trained
    files = save_vectors(kv, tmp_path)
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / files["vectors"]), binary=True)
    assert loaded.index_to_key == kv.index_to_key
    assert np.allclose(loaded.vectors, kv.vectors)
    matrix = np.load(tmp_path / files["matrix"])
    words = [line.split("\t")[0] for line in (tmp_path / files["words"]).read_text().splitlines()]
    assert matrix.shape == kv.vectors.shape and words == kv.index_to_key
    assert np.allclose(load_vectors(tmp_path).vectors, kv.vectors)  # an artifact folder works too


def test_load_vectors_reads_text_format_and_rejects_garbage(trained, tmp_path):
    kv, _ = trained
    text = tmp_path / "vectors.txt"
    kv.save_word2vec_format(str(text), binary=False)
    assert load_vectors(text).index_to_key == kv.index_to_key
    bad = tmp_path / "bad.txt"
    bad.write_text("this is not\na vector file\n")
    with pytest.raises(DataError, match="bad.txt"):
        load_vectors(bad)
    with pytest.raises(DataError, match="missing.bin"):
        load_vectors(tmp_path / "missing.bin")


def test_intrinsic_scores_report_every_benchmark(trained):
    kv, _ = trained
    scores = intrinsic_scores(kv)
    assert set(scores) == {"wordsim353", "simlex999", "google_analogy"}
    assert 0 <= scores["wordsim353"]["oov_percent"] <= 100
    assert scores["google_analogy"]["restrict_vocab"] == 30000
    assert scores["google_analogy"]["questions_answered"] > 0
