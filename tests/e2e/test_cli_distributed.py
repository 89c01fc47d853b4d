"""`nlp-pipeline run … --nproc N` where a user meets it: fresh processes (the CLI starts its own, gloo on the
CPU), a fresh cache, gensim's bundled samples; one model is built and committed, every process ends with it,
and rank 0 alone writes its TensorBoard run as it trains; a number of processes the batch does not split into
is one line and exit code 2, before anything starts."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

SMALL = ["--corpus", "pang_lee_polarity", "--set", "data.text=[lee_background,pang_lee_polarity:train]",
         "--set", "model.embedding_mode=random", "--set", "runtime.threads=1", "--set", "model.hidden_size=8",
         "--set", "train.epochs=2", "--set", "train.batch_size=16"]


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def _folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


# With its package there, the run also writes TensorBoard events as it trains (rank 0's alone: checked below).
TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("nproc")
    args = ["run", "sentiment", *SMALL, *(["--set", "report.tensorboard=true"] if TENSORBOARD else []), "--nproc",
            "2", "--cache-dir", root / "cache", "--report-dir", root / "reports", "--json"]
    return {"args": args, "cache": root / "cache", "first": _cli(*args)}


def test_run_sentiment_with_two_processes_commits_one_model_that_both_end_with(two_processes):
    first, cache = two_processes["first"], two_processes["cache"]
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)  # rank 0's alone: the others print nothing on stdout
    runs = {r["stage"]: r for r in result["variants"][0]["stage_runs"]}
    assert list(runs) == ["tokenize", "train", "evaluate"] and not any(r["hit"] for r in runs.values())
    key = runs["train"]["key"]
    assert result["model"]["key"] == key
    assert re.findall(r"rank (\d) of 2: done, train \[(\w+)\]", first.stderr) == [("1", key[:12])]
    # One build of each stage, committed once; nothing left of the second process's build or of checkpoints.
    for stage in ("tokenize", "train", "evaluate"):
        assert _folders(cache / "artifacts" / stage) == [runs[stage]["key"]], stage
    assert not list((cache / "partial").glob("*/*"))
    manifest = json.loads((cache / "artifacts" / "train" / key / "manifest.json").read_text())
    assert manifest["runtime"]["processes"] == 2 and manifest["deterministic"] is False
    assert "trained by 2 processes" in manifest["nondeterministic_because"]
    assert "not bit-reproducible (train: trained by 2 processes" in first.stderr


@pytest.mark.skipif(not TENSORBOARD, reason="needs the tensorboard package")
def test_rank_0_alone_writes_the_tensorboard_run_as_it_trains(two_processes):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    first = two_processes["first"]
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    (variant,) = out["variants"]
    folder = Path(out["report_dir"]) / variant["name"] / "tensorboard"
    assert len([f for f in folder.iterdir() if "tfevents" in f.name]) == 1  # one writer, left as it wrote
    marker = json.loads((folder / ".live.json").read_text())
    assert marker == {"stage": "train", "key": Path(variant["artifacts"]["train"]).name, "complete": True}
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    trace = json.loads((folder.parent / "trace.json").read_text())
    assert [e.step for e in events.Scalars("train/loss")] == [row["step"] for row in trace["rows"]]
    assert len(events.Scalars("dev/accuracy")) == 2


@pytest.mark.slow  # the same command again (about 14 s on 2 cores)
def test_run_again_with_two_processes_takes_every_stage_from_the_cache(two_processes):
    first = json.loads(two_processes["first"].stdout)["variants"][0]["stage_runs"]
    key = next(r["key"] for r in first if r["stage"] == "train")
    again = _cli(*two_processes["args"])
    assert again.returncode == 0, again.stderr
    runs = {r["stage"]: r for r in json.loads(again.stdout)["variants"][0]["stage_runs"]}
    assert all(r["hit"] for r in runs.values()) and runs["train"]["key"] == key
    assert re.findall(r"rank (\d) of 2: done, train \[(\w+)\]", again.stderr) == [("1", key[:12])]


def test_the_process_count_is_checked_before_anything_starts(tmp_path):
    for nproc, message in (("0", "error: --nproc must be at least 1, got 0"),
                           ("3", "error: train.batch_size=16 does not split into 3 processes")):
        result = invoke("run", "sentiment", *SMALL, "--nproc", nproc, "--cache-dir", tmp_path, ok=False)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), lines
    assert not (tmp_path / "artifacts").exists()


def test_nproc_is_refused_where_a_launcher_already_started_the_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = invoke("run", "sentiment", *SMALL, "--nproc", "2", "--cache-dir", tmp_path, ok=False)
    assert result.exit_code == 2 and "under torchrun" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_dry_run_for_two_processes_plans_the_keys_they_would_build(tmp_path):
    one = json.loads(invoke("run", "sentiment", *SMALL, "--dry-run", "--json", "--cache-dir", tmp_path).stdout)
    two = json.loads(invoke("run", "sentiment", *SMALL, "--nproc", "2", "--dry-run", "--json",
                            "--cache-dir", tmp_path).stdout)
    keys = [{s["stage"]: s["key"] for s in plan["variants"][0]["stages"]} for plan in (one, two)]
    # Several processes are not bit-reproducible against one: the model's key says so, the text's does not.
    assert keys[0]["tokenize"] == keys[1]["tokenize"] and keys[0]["train"] != keys[1]["train"]


@pytest.mark.slow  # a language model through the CLI with two processes (about 25 s on 2 cores)
def test_run_lm_with_two_processes_commits_one_language_model(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n".join(f"the film number {i % 17} was {'good' if i % 3 else 'long'} ." for i in range(300)),
                    encoding="utf-8")
    proc = _cli("run", "lm", "--corpus", text, "--set", "embed.vector_size=8", "--set", "embed.min_count=1",
                "--set", "runtime.threads=1", "--set", "lm.hidden_size=16", "--set", "lm.min_count=1",
                "--set", "lm.batch_size=4", "--set", "lm.bptt=8", "--set", "lm.evaluations=2", "--nproc", "2",
                "--cache-dir", tmp_path / "cache", "--report-dir", tmp_path / "reports", "--json")
    assert proc.returncode == 0, proc.stderr
    key = {r["stage"]: r["key"] for r in json.loads(proc.stdout)["variants"][0]["stage_runs"]}["train_lm"]
    assert _folders(tmp_path / "cache" / "artifacts" / "train_lm") == [key]
    assert f"rank 1 of 2: done, train_lm [{key[:12]}]" in proc.stderr

