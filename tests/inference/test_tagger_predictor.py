"""TaggerPredictor on a saved (untrained) tagger: one tag per token, in input order, raw or pre-tokenized text."""

from __future__ import annotations

import pytest
import torch

from nlp_pipeline.inference import TaggerPredictor, predict_tags
from nlp_pipeline.models import SequenceTagger, TaggerConfig, save_tagger
from nlp_pipeline.text.tokenize import TokenizerConfig
from nlp_pipeline.text.vocab import Vocab

TAGS = ["ADJ", "DET", "NOUN"]


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory):
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", "the", "film", "good"])
    chars = Vocab(["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz"])
    config = TaggerConfig(vocab_size=len(vocab), num_tags=len(TAGS), char_vocab_size=len(chars), embedding_dim=8,
                          hidden_size=6, char_dim=4, char_hidden=5, dropout=0.0)
    directory = tmp_path_factory.mktemp("tagger") / "model"
    save_tagger(directory, SequenceTagger(config).eval(), vocab, chars, TAGS, lowercase_words=True,
                meta={"tokenizer": TokenizerConfig(lowercase=False).to_dict()})
    return directory


def test_tag_tokens_gives_one_known_tag_per_token_and_none_for_an_empty_sentence(tagger_dir):
    tagger = TaggerPredictor.load(tagger_dir, device="cpu")
    sentences = [["The", "film", "was", "good", "."], [], ["Good"]]
    out = tagger.tag_tokens(sentences)
    assert [len(row) for row in out] == [5, 0, 1]
    assert {t for row in out for t in row} <= set(TAGS)
    one_by_one = predict_tags(tagger.model, tagger.encoder.encode(sentences), batch_size=1)
    assert [[TAGS[i] for i in row] for row in one_by_one] == out  # batching and order change nothing


def test_tag_tokenizes_raw_text_keeping_case(tagger_dir):
    rows = TaggerPredictor.load(tagger_dir, device="cpu").tag(["The film was good.", "Good film!"])
    assert [r["tokens"] for r in rows] == [["The", "film", "was", "good", "."], ["Good", "film", "!"]]
    assert [r["text"] for r in rows] == ["The film was good.", "Good film!"]
    assert all(len(r["tags"]) == len(r["tokens"]) for r in rows)
