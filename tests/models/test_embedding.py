"""build_embedding_matrix (known vectors copied, the rest scaled to match, coverage) and extend_vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.embedding import build_embedding_matrix, extend_vocabulary
from nlp_pipeline.text.vocab import Vocab


def test_build_embedding_matrix_copies_known_vectors_and_reports_coverage():
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "zzz"])
    kv = KeyedVectors(vector_size=4)
    known = {"good": [1, 2, 3, 4], "bad": [-1, -2, -3, -4], "film": [0.5, 0.5, 0.5, 0.5], "other": [9, 9, 9, 9]}
    kv.add_vectors(list(known), np.asarray(list(known.values()), dtype=np.float32))

    matrix, coverage = build_embedding_matrix(vocab, kv, dim=4, seed=0)
    assert matrix.dtype == np.float32 and matrix.shape == (6, 4)
    assert coverage == pytest.approx(3 / 4)
    for word in ("good", "bad", "film"):
        assert np.array_equal(matrix[vocab.stoi[word]], np.asarray(known[word], dtype=np.float32))
    assert not matrix[0].any()  # <pad>
    assert matrix[1].any() and matrix[5].any()  # <unk> and the unknown word: random, not zero
    again, _ = build_embedding_matrix(vocab, kv, dim=4, seed=0)
    assert np.array_equal(matrix, again)  # seeded


def test_build_embedding_matrix_without_vectors_and_dim_mismatch():
    vocab = Vocab(["<pad>", "<unk>", "a"])
    matrix, coverage = build_embedding_matrix(vocab, None, dim=5, seed=1)
    assert coverage == 0.0 and matrix.shape == (3, 5) and not matrix[0].any()
    kv = KeyedVectors(vector_size=3)
    with pytest.raises(ConfigError, match="embedding_dim"):
        build_embedding_matrix(vocab, kv, dim=5, seed=1)


def test_extend_vocabulary_appends_pretrained_rows_and_keeps_outputs():
    vocab = Vocab.build([["good", "film"], ["bad", "film"]])
    kv = KeyedVectors(vector_size=4)
    words = ["film", "great", "awful", "good"]
    kv.add_vectors(words, np.arange(16, dtype=np.float32).reshape(4, 4))
    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=len(vocab), num_classes=2, embedding_dim=4, hidden_size=3, encoder="lstm")
    model = SequenceClassifier(cfg).eval()
    ids = torch.tensor([vocab.encode(["good", "film"])])
    before = model(ids, torch.tensor([2]))
    model, new_vocab, added = extend_vocabulary(model, vocab, kv, max_words=10)
    assert added == 2 and new_vocab.itos[-2:] == ["great", "awful"]
    assert model.config.vocab_size == len(new_vocab) == model.embedding.num_embeddings
    assert torch.equal(model.embedding.weight[new_vocab.stoi["great"]], torch.tensor(kv["great"]))
    assert torch.allclose(model(ids, torch.tensor([2])), before)  # known words unchanged
    assert new_vocab.encode(["great"]) != [Vocab.UNK_INDEX]
