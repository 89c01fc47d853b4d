"""Vocab: deterministic order, pruning, encoding of unknowns, JSON round trip and load errors."""

from __future__ import annotations

import json

import pytest

from nlp_pipeline.errors import DataError
from nlp_pipeline.text.vocab import Vocab

DOCS = [["the", "good", "film"], ["the", "bad", "film"], ["the", "film", "is", "good"]]


def test_build_orders_by_frequency_then_alphabet_after_specials():
    vocab = Vocab.build(DOCS)
    # counts: the 3, film 3, good 2, bad 1, is 1 → ties broken alphabetically
    assert vocab.itos == ["<pad>", "<unk>", "film", "the", "good", "bad", "is"]
    assert vocab.stoi["film"] == 2
    assert len(vocab) == 7
    assert "good" in vocab and "great" not in vocab


def test_build_min_count_and_max_size():
    assert Vocab.build(DOCS, min_count=2).itos == ["<pad>", "<unk>", "film", "the", "good"]
    assert Vocab.build(DOCS, max_size=2).itos == ["<pad>", "<unk>", "film", "the"]


def test_build_does_not_duplicate_special_tokens_found_in_text():
    vocab = Vocab.build([["<unk>", "<pad>", "a"]])
    assert vocab.itos == ["<pad>", "<unk>", "a"]


def test_encode_maps_unknown_to_one():
    vocab = Vocab.build(DOCS)
    assert vocab.encode(["the", "great", "film"]) == [3, Vocab.UNK_INDEX, 2]
    assert vocab.encode([]) == []


def test_save_load_roundtrip(tmp_path):
    vocab = Vocab.build(DOCS)
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded.itos == vocab.itos
    assert loaded.stoi == vocab.stoi
    assert json.loads(path.read_text())["itos"][:2] == ["<pad>", "<unk>"]


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"itos": "abc"}), json.dumps({"itos": ["a", "b"]}), json.dumps([1, 2])],
)
def test_load_rejects_malformed_files_naming_them(tmp_path, content):
    path = tmp_path / "broken_vocab.json"
    path.write_text(content)
    with pytest.raises(DataError, match="broken_vocab.json"):
        Vocab.load(path)


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="nowhere.json"):
        Vocab.load(tmp_path / "nowhere.json")
