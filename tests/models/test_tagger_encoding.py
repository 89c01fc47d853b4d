"""TaggerEncoder (word and character ids, tag errors) and the padded tagger batches."""

import numpy as np
import pytest

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.tagger import IGNORE_INDEX
from nlp_pipeline.models.tagger_encoding import MAX_WORD_CHARS, TaggerEncoder, pad_tagged_batch
from nlp_pipeline.text.vocab import Vocab


def encoder_for(sentences, tags, lowercase=True):
    vocab = Vocab.build([[w.lower() if lowercase else w for w in s] for s in sentences])
    chars = Vocab.build(list(w) for s in sentences for w in s)
    return TaggerEncoder(vocab, chars, sorted({t for s in tags for t in s}), lowercase)


def test_encoder_lowercases_words_but_not_characters():
    enc = encoder_for([["The", "Cat", "cat"]], [["DET", "NOUN", "NOUN"]])
    data = enc.encode([["THE", "cat"]], [["DET", "NOUN"]])
    assert data.words == [[enc.vocab.stoi["the"], enc.vocab.stoi["cat"]]]
    assert data.chars[0][1, 0] == enc.char_vocab.stoi["c"] != enc.char_vocab.stoi["C"]
    assert data.chars[0][0, 1] == Vocab.UNK_INDEX  # "T" known, "H" never seen in training


def test_long_words_keep_their_prefix_and_suffix():
    enc = encoder_for([["x"]], [["X"]])
    word = "a" * 10 + "b" * 30 + "tion"
    kept = enc.char_ids(word)
    assert len(kept) == MAX_WORD_CHARS


def test_unknown_tag_names_the_sentence():
    enc = encoder_for([["a"]], [["DET"]])
    with pytest.raises(DataError, match="dev.conllu:7: tag 'NOUN' is not in the model's tag set"):
        enc.encode([["a"]], [["NOUN"]], where=["dev.conllu:7"])


def test_padded_batch_marks_padding_as_ignored():
    enc = encoder_for([["a", "bb", "c"], ["d"]], [["X", "Y", "X"], ["Y"]])
    data = enc.encode([["a", "bb", "c"], ["d"]], [["X", "Y", "X"], ["Y"]])
    words, chars, lengths, tags = pad_tagged_batch(data, [0, 1])
    assert words.shape == (2, 3) and chars.shape == (2, 3, 2)
    assert lengths.tolist() == [3, 1]
    assert words[1, 1:].tolist() == [0, 0] and chars[1, 1:].sum() == 0
    assert tags[1].tolist() == [1, IGNORE_INDEX, IGNORE_INDEX]


def test_lengths_match_inputs_for_empty_and_long_batches():
    enc = encoder_for([["a"]], [["X"]])
    data = enc.encode([["a"] * 50, ["a"]])
    assert np.array_equal(data.lengths, [50, 1])
