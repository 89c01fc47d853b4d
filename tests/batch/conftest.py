"""Fixtures for the batch tests: generated documents, a fixture folder with every kind of bad input, a tiny model.

No dataset text: documents are made of a small made-up word list, with the sentiment words
"good"/"bad" deciding the label of the tiny classifier.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from batch_helpers import make_docs


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    """Good records plus one of each kind of bad one, and two inputs that cannot be read at all.

    Good records: 3 (a.txt) + 2 (b.jsonl) + 2 (c.csv.gz) = 7. Rejected: a.txt line 2 (invalid UTF-8),
    a.txt line 4 (empty), b.jsonl lines 2 (malformed JSON) and 3 (no text field), c.csv.gz line 3
    (wrong number of fields) = 5. Failed inputs: d.txt.gz (corrupt gzip), e.txt (binary).
    """
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"good film\nbad \xff bytes\nvery good\n\nbad plot\n")
    (folder / "b.jsonl").write_bytes(b'{"text": "a good story"}\n{"text": "broken"\n{"body": "x"}\n{"text": "bad"}\n')
    (folder / "c.csv.gz").write_bytes(gzip.compress(b'id,text\n1,"quoted, with comma"\n2,too,many\n3,ok\n', mtime=0))
    corrupt = gzip.compress("".join(d + "\n" for d in make_docs(300)).encode(), mtime=0)
    (folder / "d.txt.gz").write_bytes(corrupt[: len(corrupt) // 2])  # cut mid-stream
    (folder / "e.txt").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-class classifier trained in about a second on made-up text where "good"/"bad" decide the label."""
    import torch

    from nlp_pipeline.models import ClassifierConfig, SequenceClassifier, save_classifier
    from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training import TrainConfig, train_classifier

    texts = make_docs(200, seed=1, words=6)
    labels = [int("good" in t.lower().split()) for t in texts]
    tokenizer_config = TokenizerConfig()
    tokens = list(Tokenizer(tokenizer_config).pipe(texts))
    vocab = Vocab.build(tokens)
    config = ClassifierConfig(vocab_size=len(vocab), num_classes=2, embedding_dim=8, hidden_size=8,
                              embedding_mode="random", dropout=0.0)
    torch.manual_seed(0)  # the initial weights: not whatever state earlier tests left the global generator in
    model = SequenceClassifier(config)
    ids = [vocab.encode(t) for t in tokens]
    train = TrainConfig(epochs=6, lr=1e-2, batch_size=16, num_threads=1, device="cpu", patience=0)
    train_classifier(model, ids, labels, ids[:50], labels[:50], train, progress=False)
    directory = tmp_path_factory.mktemp("batch-model") / "model"
    save_classifier(directory, model, config, vocab, ["negative", "positive"],
                    {"tokenizer": tokenizer_config.to_dict(), "max_length": 20})
    return directory
