"""The task registry: the tagging entry's wiring to the tagger, whichever state the tagger code is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_pipeline.batch.tasks import TASKS, ModelSupportError, TaggingTask, TaskSpec, get_task_class
from nlp_pipeline.errors import ConfigError


def test_registry_holds_the_three_tasks():
    assert {"tokenize", "sentiment", "tagging"} <= set(TASKS)
    with pytest.raises(ConfigError, match="unknown task 'ner'; valid: .*sentiment, tagging, tokenize"):
        get_task_class("ner")


def test_tagging_resolves_through_resolve_model_with_the_tagger_stage(monkeypatch, tmp_path):
    from nlp_pipeline.pipelines import artifacts

    calls = []

    def with_stage(ref, cache_dir=None, stage="train"):
        calls.append((ref, stage))
        return tmp_path

    monkeypatch.setattr(artifacts, "resolve_model", with_stage)
    assert TaggingTask.resolve_model("latest", None) == tmp_path
    assert calls == [("latest", "train_tagger")]

    monkeypatch.setattr(artifacts, "resolve_model", lambda ref, cache_dir=None: Path(ref))
    with pytest.raises(ModelSupportError, match="tagging model support not available"):
        TaggingTask.resolve_model("latest", None)


def test_tagging_output_is_tokens_and_tags():
    class StubTagger:
        def tag(self, texts):
            return [{"text": t, "tokens": t.split(), "tags": ["X"] * len(t.split())} for t in texts]

    task = TaggingTask(TaskSpec("tagging"))
    task.tagger = StubTagger()
    assert task.process(["a b", "c"]) == [{"tokens": ["a", "b"], "tags": ["X", "X"]}, {"tokens": ["c"], "tags": ["X"]}]


def test_tagging_end_to_end_with_a_saved_tagger(tmp_path):
    import torch
    from batch_helpers import read_jsonl, write_text

    from nlp_pipeline.batch import process
    from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
    from nlp_pipeline.models.tagger_io import save_tagger
    from nlp_pipeline.text.tokenize import TokenizerConfig
    from nlp_pipeline.text.vocab import Vocab

    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", "the", "film", "good"])
    chars = Vocab(["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz"])
    tags = ["ADJ", "DET", "NOUN"]
    config = TaggerConfig(vocab_size=len(vocab), num_tags=len(tags), char_vocab_size=len(chars), embedding_dim=8,
                          hidden_size=6, char_dim=4, char_hidden=5, dropout=0.0)
    save_tagger(tmp_path / "tagger", SequenceTagger(config).eval(), vocab, chars, tags, lowercase_words=True,
                meta={"tokenizer": TokenizerConfig(lowercase=False).to_dict()})  # an untrained tagger: wiring only
    write_text(tmp_path / "a.txt", ["The film was good.", "Good film!"])
    summary = process([tmp_path / "a.txt"], "tagging", tmp_path / "out", model=str(tmp_path / "tagger"), workers=1,
                      progress=False)
    rows = read_jsonl(tmp_path / "out" / "a.jsonl")
    assert [r["tokens"] for r in rows] == [["The", "film", "was", "good", "."], ["Good", "film", "!"]]
    assert all(len(r["tags"]) == len(r["tokens"]) and set(r["tags"]) <= set(tags) for r in rows)
    assert (summary.written, summary.tokens) == (2, 8)


def test_model_formats_checked_before_workers_are_the_model_files_formats():
    from nlp_pipeline.batch.tasks import TASKS
    from nlp_pipeline.models import classifier_io, tagger_io

    assert TASKS["sentiment"].model_format == classifier_io.FORMAT
    assert TASKS["tagging"].model_format == tagger_io.FORMAT
