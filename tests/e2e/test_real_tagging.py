"""The tagger on the real UD English EWT treebank (slow; needs ../shared/corpora).

A small BiLSTM with character CNN, random word embeddings, two epochs on all 12,544 training
sentences: far from the tuned pipeline's number, but enough to show that the reader, the encoding
and the loop work on real data (a broken mask or tag mapping lands near the majority-tag 17%).
"""

from __future__ import annotations

import pytest

from nlp_pipeline.data import load_tagged
from nlp_pipeline.data.resolve import shared_roots

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shared_roots(), reason="../shared/corpora is not available")]


def test_small_tagger_on_ewt_reaches_90_percent_upos():
    from nlp_pipeline.inference.tagger import predict_tags
    from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
    from nlp_pipeline.models.tagger_encoding import TaggerEncoder
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.loop import TrainConfig
    from nlp_pipeline.training.metrics import tagging_metrics
    from nlp_pipeline.training.tagger import train_tagger

    splits = load_tagged("ud_en_ewt")
    assert (len(splits["train"]), len(splits["dev"])) == (12544, 2001)
    words = {s: [x.words for x in v] for s, v in splits.items()}
    tags = {s: [x.upos for x in v] for s, v in splits.items()}
    assert sum(map(len, words["train"])) == 204577 and sum(map(len, words["dev"])) == 25147
    tag_list = sorted({t for s in tags.values() for sent in s for t in sent})
    assert len(tag_list) == 17
    enc = TaggerEncoder(Vocab.build([[w.lower() for w in s] for s in words["train"]]),
                        Vocab.build(list(w) for s in words["train"] for w in s), tag_list, lowercase=True)
    config = TaggerConfig(vocab_size=len(enc.vocab), num_tags=17, char_vocab_size=len(enc.char_vocab),
                          embedding_dim=64, hidden_size=64, char_hidden=32, embedding_mode="random",
                          embedding_dropout=0.0)
    model = SequenceTagger(config)
    train_tagger(model, enc.encode(words["train"], tags["train"]), enc.encode(words["dev"], tags["dev"]),
                 # random embeddings learn at the full rate (the declared default, 0.1, is for pretrained vectors)
                 TrainConfig(epochs=2, batch_size=32, lr=0.003, embedding_lr_scale=1.0, device="cpu", num_threads=1),
                 progress=False)
    predicted = [[tag_list[i] for i in row] for row in predict_tags(model, enc.encode(words["dev"]))]
    train_forms = {w for s in words["train"] for w in s}
    metrics = tagging_metrics(tags["dev"], predicted, words["dev"], train_forms, tag_list)
    assert metrics["accuracy"] > 0.90
    assert metrics["unseen_tokens"] > 1000 and metrics["unseen_accuracy"] > 0.6
