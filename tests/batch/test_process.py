"""`nlp_pipeline.batch.process` through the Python API: output, order, accounting, resume, redo on change."""

from __future__ import annotations

import json
import os

import pytest
from batch_helpers import make_docs, read_jsonl, write_jsonl, write_text

from nlp_pipeline.batch import RejectedRecordsError, process
from nlp_pipeline.batch.shards import STATE_DIR
from nlp_pipeline.errors import ConfigError


def _shards(out):
    return sorted(p.name for p in out.glob("*.jsonl") if p.name != "errors.jsonl")


def test_tokenize_writes_one_shard_per_input_in_input_order(tmp_path):
    docs = make_docs(700, seed=2)
    write_text(tmp_path / "a.txt", docs[:400])
    write_jsonl(tmp_path / "b.jsonl.gz", docs[400:])
    out = tmp_path / "out"
    summary = process([tmp_path / "a.txt", tmp_path / "b.jsonl.gz"], "tokenize", out, workers=1, batch_size=64,
                      progress=False)
    assert _shards(out) == ["a.jsonl", "b.jsonl"]
    a, b = read_jsonl(out / "a.jsonl"), read_jsonl(out / "b.jsonl")
    assert [r["id"] for r in a] == [f"a.txt:{i}" for i in range(1, 401)]
    assert a[0]["tokens"] == docs[0].lower().replace(".", " .").split()
    assert [r["id"] for r in b] == [f"b.jsonl.gz:{i}" for i in range(1, 301)]
    assert (summary.read, summary.written, summary.rejected, summary.shards_done) == (700, 700, 0, 2)
    assert summary.tokens == sum(len(r["tokens"]) for r in a + b) and summary.docs_per_second > 0
    assert (out / "errors.jsonl").read_text() == ""
    assert json.loads((out / "summary.json").read_text())["written"] == 700


def test_id_field_and_lowercase_option(tmp_path):
    write_jsonl(tmp_path / "r.jsonl", ["Good FILM"], id_prefix="review")
    out = tmp_path / "out"
    process([tmp_path / "r.jsonl"], "tokenize", out, workers=1, id_field="id", lowercase=False, progress=False)
    assert read_jsonl(out / "r.jsonl") == [{"id": "review-0", "tokens": ["Good", "FILM"]}]


def test_bad_records_and_unreadable_inputs_are_reported_and_counted(messy_folder, tmp_path):
    out = tmp_path / "out"
    summary = process([messy_folder], "tokenize", out, workers=1, progress=False)
    assert (summary.read, summary.written, summary.rejected) == (12, 7, 5)
    assert summary.read == summary.written + summary.rejected
    assert (summary.shards, summary.shards_done, summary.shards_failed) == (5, 3, 2)
    assert _shards(out) == ["a.jsonl", "b.jsonl", "c.jsonl"]  # no output for the unreadable inputs
    errors = read_jsonl(out / "errors.jsonl")
    where = [(os.path.basename(e["file"]), e["line"], e["error"].split(" (")[0].split(":")[0]) for e in errors]
    assert where[:5] == [("a.txt", 2, "not valid UTF-8 text"), ("a.txt", 4, "empty text"),
                         ("b.jsonl", 2, "not valid JSON"), ("b.jsonl", 3, "no 'text' field"),
                         ("c.csv.gz", 3, "expected 2 comma-separated columns, found 3")]
    assert [(w[0], errors[i]["scope"]) for i, w in enumerate(where) if i >= 5] == [("d.txt.gz", "input"),
                                                                                   ("e.txt", "input")]
    assert "cannot read" in errors[5]["error"] and "looks binary" in errors[6]["error"]
    assert [r["id"] for r in read_jsonl(out / "c.jsonl")] == ["c.csv.gz:2", "c.csv.gz:4"]
    assert [r["id"] for r in read_jsonl(out / "a.jsonl")] == ["a.txt:1", "a.txt:3", "a.txt:5"]
    with pytest.raises(RejectedRecordsError, match=r"5 record\(s\) rejected and 2 input shard\(s\) unreadable"):
        process([messy_folder], "tokenize", out, workers=1, strict=True, progress=False)


def test_rerun_skips_finished_shards_and_redoes_changed_ones(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(3):
        write_text(inputs / f"part{i}.txt", make_docs(50, seed=i))
    out = tmp_path / "out"
    first = process([inputs], "tokenize", out, workers=1, progress=False)
    before = {n: (out / n).read_bytes() for n in _shards(out)}
    again = process([inputs], "tokenize", out, workers=1, progress=False)
    assert (again.shards_done, again.shards_skipped, again.read, again.skipped_written) == (0, 3, 0, first.written)
    write_text(inputs / "part1.txt", make_docs(60, seed=9))  # a changed input is redone, the others are not
    changed = process([inputs], "tokenize", out, workers=1, progress=False)
    assert (changed.shards_done, changed.shards_skipped, changed.written) == (1, 2, 60)
    assert (out / "part0.jsonl").read_bytes() == before["part0.jsonl"]
    assert len(read_jsonl(out / "part1.jsonl")) == 60
    other_options = process([inputs], "tokenize", out, workers=1, lowercase=False, progress=False)
    assert other_options.shards_done == 3  # other task options: nothing is reused
    forced = process([inputs], "tokenize", out, workers=1, lowercase=False, force=True, progress=False)
    assert forced.shards_done == 3


def test_a_shard_without_a_matching_manifest_or_complete_output_is_redone(tmp_path):
    write_text(tmp_path / "a.txt", make_docs(30))
    out = tmp_path / "out"
    process([tmp_path / "a.txt"], "tokenize", out, workers=1, progress=False)
    good = (out / "a.jsonl").read_bytes()
    (out / "a.jsonl").write_bytes(good[: len(good) // 2])  # e.g. truncated by a copy
    assert process([tmp_path / "a.txt"], "tokenize", out, workers=1, progress=False).shards_done == 1
    assert (out / "a.jsonl").read_bytes() == good
    (out / STATE_DIR / "a.json").unlink()
    assert process([tmp_path / "a.txt"], "tokenize", out, workers=1, progress=False).shards_done == 1
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_split_input_gives_the_same_records_as_one_shard(tmp_path):
    docs = make_docs(3000, seed=5)
    write_text(tmp_path / "big.txt", docs)
    whole, split = tmp_path / "whole", tmp_path / "split"
    process([tmp_path / "big.txt"], "tokenize", whole, workers=1, split_mb=0, progress=False)
    summary = process([tmp_path / "big.txt"], "tokenize", split, workers=1, split_mb=0.02, progress=False)
    assert summary.shards > 3 and summary.written == 3000
    parts = sorted(split.glob("big-*-of-*.jsonl"))
    assert b"".join(p.read_bytes() for p in parts) == (whole / "big.jsonl").read_bytes()


def test_bad_options_are_config_errors(tmp_path):
    write_text(tmp_path / "a.txt", ["x"])
    cases = [
        (dict(task="summarize"), "unknown task 'summarize'"),
        (dict(task="sentiment"), "needs a model"),
        (dict(task="tokenize", model="latest"), "takes no model"),
        (dict(task="tokenize", engine="spark"), "unknown engine"),
        (dict(task="tokenize", scheduler="tcp://x:1"), "needs --engine dask"),
        (dict(task="tokenize", workers=0), "at least 1"),
        (dict(task="sentiment", model=str(tmp_path / "nope")), "neither a model folder"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            process([tmp_path / "a.txt"], out_dir=tmp_path / "out", progress=False, **kwargs)
    with pytest.raises(ConfigError, match="no option lowercase"):
        process([tmp_path / "a.txt"], "sentiment", tmp_path / "out", model=str(tmp_path), lowercase=True)


def test_sentiment_task_labels_with_the_saved_model(tmp_path, tiny_model):
    write_jsonl(tmp_path / "r.jsonl", ["what a good film", "a bad plot really", "good acting and music"])
    out = tmp_path / "out"
    import torch

    threads = torch.get_num_threads()
    summary = process([tmp_path / "r.jsonl"], "sentiment", out, model=str(tiny_model), workers=1, progress=False)
    assert torch.get_num_threads() == threads  # one torch thread while it ran in this process, then put back
    rows = read_jsonl(out / "r.jsonl")
    assert [r["label"] for r in rows] == ["positive", "negative", "positive"]
    for row in rows:
        assert set(row) == {"id", "text", "label", "probability", "probabilities", "n_tokens"}
        assert row["probability"] == max(row["probabilities"].values()) > 0.5
    assert summary.tokens == 4 + 4 + 4


def test_a_task_that_raises_fails_its_shard_only_and_the_run_reports_it(tmp_path):
    from nlp_pipeline.batch import TASKS, Task, WorkerError, register_task

    @register_task
    class Fragile(Task):
        name = "fragile-test"

        def load(self, model_dir, device):
            pass

        def process(self, texts):
            if any("boom" in t for t in texts):
                raise ValueError("cannot handle boom")
            return [{"n_tokens": len(t.split())} for t in texts]

    write_text(tmp_path / "a.txt", ["fine text", "boom"])
    write_text(tmp_path / "b.txt", ["also fine"])
    out = tmp_path / "out"
    try:
        with pytest.raises(WorkerError, match="1 shard.*a.jsonl.*ValueError: cannot handle boom"):
            process([tmp_path / "a.txt", tmp_path / "b.txt"], "fragile-test", out, workers=1, progress=False)
    finally:
        del TASKS["fragile-test"]
    assert _shards(out) == ["b.jsonl"]
    [error] = read_jsonl(out / "errors.jsonl")
    assert error["scope"] == "worker" and error["shard"] == "a.jsonl"


def test_one_run_at_a_time_per_output_folder(tmp_path):
    from nlp_pipeline.batch.shards import output_lock

    write_text(tmp_path / "a.txt", ["x"])
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out), pytest.raises(ConfigError, match="another run is writing to this output folder"):
        process([tmp_path / "a.txt"], "tokenize", out, workers=1, progress=False)
