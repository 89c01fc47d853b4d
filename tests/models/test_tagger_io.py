"""save_tagger / load_tagger: identical scores after a round trip, a clear error for a classifier folder."""

import pytest
import torch
from tagger_helpers import random_batch, small_config

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.tagger import SequenceTagger
from nlp_pipeline.models.tagger_io import load_tagger, save_tagger
from nlp_pipeline.text.vocab import Vocab


def test_save_load_round_trip_gives_identical_scores(tmp_path):
    torch.manual_seed(0)
    model = SequenceTagger(small_config(crf=True)).eval()
    vocab = Vocab(["<pad>", "<unk>", *[f"w{i}" for i in range(18)]])
    chars = Vocab(["<pad>", "<unk>", *list("abcdefghij")])
    tags = ["DET", "NOUN", "PUNCT", "VERB"]
    save_tagger(tmp_path / "m", model, vocab, chars, tags, lowercase_words=True, meta={"tokenizer": {}})
    loaded, meta, vocab2, chars2 = load_tagger(tmp_path / "m")
    assert (meta["tags"], meta["lowercase_words"], vocab2, chars2) == (tags, True, vocab, chars)
    words, char_ids, lengths = random_batch()
    torch.testing.assert_close(loaded(words, char_ids, lengths), model(words, char_ids, lengths))


def test_loading_a_classifier_folder_as_a_tagger_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text('{"format": "nlp-pipeline-classifier", "model": {}}')
    with pytest.raises(DataError, match="not a tagger.*use `predict`"):
        load_tagger(tmp_path)
