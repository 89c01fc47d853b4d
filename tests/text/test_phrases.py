"""Phrases: learned with gensim, saved as JSON (no pickle), applied exactly as gensim's FrozenPhrases would."""

from __future__ import annotations

import json
import random

import pytest
from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS, Phrases

from nlp_pipeline.errors import DataError
from nlp_pipeline.text.phrases import PHRASES_FILE, PhraseModel, PhraseSettings, load_phrases


def _documents(n: int = 400, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    filler = [f"w{i}" for i in range(300)]
    docs = []
    for _ in range(n):
        doc = [rng.choice(filler) for _ in range(10)]
        doc[rng.randrange(10):0] = rng.choice([["new", "york", "city"], ["bank", "of", "america"], ["new", "shoes"]])
        docs.append(doc)
    return docs


SETTINGS = PhraseSettings(passes=1, min_count=5, threshold=5.0)


def test_a_phrase_model_joins_collocations_and_keeps_connector_words_inside():
    model = PhraseModel.learn(lambda: iter(_documents()), SETTINGS)
    assert model(["in", "new", "york", "city", "the", "bank", "of", "america", "w1"])[:2] == ["in", "new_york"]
    assert "bank_of_america" in model(["the", "bank", "of", "america"])
    assert model(["w1", "w2"]) == ["w1", "w2"]


def test_the_saved_model_applies_exactly_as_gensims_own(tmp_path):
    docs = _documents()
    model = PhraseModel.learn(lambda: iter(docs), SETTINGS)
    model.save(tmp_path)
    loaded = load_phrases(tmp_path)
    gensim_frozen = Phrases(docs, min_count=5, threshold=5.0, connector_words=ENGLISH_CONNECTOR_WORDS).freeze()
    for doc in _documents(100, seed=1):
        assert loaded(doc) == model(doc) == gensim_frozen[doc]
    assert json.loads((tmp_path / PHRASES_FILE).read_text())["format"] == "nlp-pipeline phrases"


def test_a_second_pass_joins_a_phrase_with_the_next_word():
    settings = PhraseSettings(passes=1, min_count=5, threshold=2.0)
    one = PhraseModel.learn(lambda: iter(_documents()), settings)
    two = PhraseModel.learn(lambda: iter(_documents()), PhraseSettings(passes=2, min_count=5, threshold=2.0))
    text = ["new", "york", "city", "w3"]
    assert one(text) == ["new_york", "city", "w3"]
    assert two(text) == ["new_york_city", "w3"]
    assert len(two.layers) == 2 and two.layers[0] == one.layers[0]


def test_punctuation_is_never_part_of_a_phrase():
    docs = [doc + ["-", "year", ",", "including"] for doc in _documents()]
    model = PhraseModel.learn(lambda: iter(docs), SETTINGS)
    assert model(["-", "year", ",", "including"]) == ["-", "year", ",", "including"]
    assert "new_york" in model(["new", "york"])


def test_no_phrases_file_means_plain_tokens(tmp_path):
    assert load_phrases(tmp_path) is None
    assert load_phrases(None) is None


def test_a_damaged_phrases_file_is_an_error_naming_it(tmp_path):
    (tmp_path / PHRASES_FILE).write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="phrases.json.*cannot read the phrase model"):
        load_phrases(tmp_path)
    (tmp_path / PHRASES_FILE).write_text("{not json")
    with pytest.raises(DataError, match="phrases.json"):
        load_phrases(tmp_path)
