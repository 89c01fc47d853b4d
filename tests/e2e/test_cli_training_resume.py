"""Resumable training where a user meets it: the CLI in fresh processes, killed with SIGKILL mid-epoch.

A training stage saves a checkpoint in its key's partial-build folder; the same command run again resumes
from it, says so in one line, and (one thread, CPU) ends with a model.safetensors byte-identical to a
run never interrupted, in another fresh cache. For the classifier (gensim's pang_lee_polarity, random
embeddings: no word2vec) and the language model (lee_background). The checkpoint interval is tiny here,
so a checkpoint exists a fraction of a second into training; the process group is stopped as soon as one
stands inside an epoch, then killed. With ``report.tensorboard`` (the events written as training goes), the
resumed run's TensorBoard run holds every point once, the steps before the checkpoint included, and the
weights are still those of a run without it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import invoke

from nlp_pipeline.engine import ArtifactCache

SENTIMENT = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--set", "model.embedding_mode=random",
             "--set", "model.hidden_size=8", "--set", "train.epochs=4", "--set", "train.batch_size=2",
             "--set", "train.patience=0", "--set", "runtime.threads=1", "--set", "runtime.device=cpu",
             "--set", "runtime.checkpoint_minutes=0.001"]
LM = ["run", "lm", "--corpus", "lee_background", "--set", "lm.embedding_init=random", "--set", "lm.embedding_dim=16",
      "--set", "lm.hidden_size=16", "--set", "lm.batch_size=4", "--set", "lm.bptt=16", "--set", "lm.max_tokens=40000",
      "--set", "lm.evaluations=3", "--set", "generate.max_tokens=5", "--set", "runtime.threads=1",
      "--set", "runtime.device=cpu", "--set", "runtime.checkpoint_minutes=0.001"]


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left():
    """A failed assertion must not leave a run behind: each one this module started is killed at the end."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)


def _start(args: list[str], root: Path) -> subprocess.Popen:
    """The command in a fresh interpreter and its own process group (what a kill -9 of a run hits)."""
    cmd = [sys.executable, "-m", "nlp_pipeline.cli", *args, "--cache-dir", str(root / "cache"),
           "--report-dir", str(root / "reports")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    STARTED.append(proc)
    return proc


def _finish(proc: subprocess.Popen) -> str:
    """The command's log lines (stderr), once it exited 0."""
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return err


def _checkpoint(cache: Path, stage: str) -> dict | None:
    found = list((cache / "partial" / stage).glob("*/checkpoint.json"))
    try:
        return json.loads(found[0].read_text()) if found else None
    except (OSError, ValueError):
        return None


def _kill_mid_epoch(proc: subprocess.Popen, cache: Path, stage: str, past: str, at_least: int) -> dict:
    """SIGKILL ``proc``'s group once its last checkpoint stands inside an epoch (batch > 0) with its position's
    ``past`` at ``at_least`` or more (an epoch, a step: so that best weights and a history are in it too);
    returns that checkpoint. The group is stopped (SIGSTOP) before the checkpoint is read again, so what
    is read is the last one."""
    def inside(found: dict | None) -> bool:
        return found is not None and found["position"]["batch"] > 0 and found["position"][past] >= at_least

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run finished before a checkpoint inside an epoch was seen"
        if inside(_checkpoint(cache, stage)):
            os.killpg(proc.pid, signal.SIGSTOP)
            last = _checkpoint(cache, stage)
            if inside(last):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate(timeout=60)
                assert proc.returncode == -signal.SIGKILL
                return last
            os.killpg(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("no checkpoint inside an epoch within 120 s")


def _model_bytes(cache: Path, stage: str) -> bytes:
    (model,) = (cache / "artifacts" / stage).glob("*/model.safetensors")
    return model.read_bytes()


def _resume_line(log: str, stage: str) -> re.Match:
    lines = [line for line in log.splitlines() if "resuming" in line]
    assert len(lines) == 1, log
    match = re.fullmatch(rf"  resuming {stage} \[([0-9a-f]{{12}})\] from epoch (\d+), batch (\d+) of (\d+) "
                         r"\(checkpoint \d+ s old\)", lines[0])
    assert match, lines[0]
    return match


def test_a_classifier_killed_mid_epoch_resumes_to_the_same_bytes(tmp_path):
    straight = _start(SENTIMENT, tmp_path / "straight")  # never interrupted, in another cache, meanwhile
    killed = _start(SENTIMENT, tmp_path / "resumed")
    cache = tmp_path / "resumed" / "cache"
    last = _kill_mid_epoch(killed, cache, "train", "epoch", 2)  # past epoch 1: its best weights are saved too
    assert [a.stage for a in ArtifactCache(cache)] == ["tokenize"]  # no train artifact: the partial is none
    listing = invoke("cache", "ls", "--cache-dir", cache).stdout
    where = f"epoch {last['position']['epoch']}, batch {last['position']['batch']} of {last['position']['batches']}"
    assert "partial builds" in listing and where in listing, listing

    # Run again, twice at once: one resumes; the other waits on the key's lock (or comes after) and uses
    # its artifact: one builder, one writer of the checkpoints.
    again, twin = _start(SENTIMENT, tmp_path / "resumed"), _start(SENTIMENT, tmp_path / "resumed")
    logs = [_finish(again), _finish(twin)]
    built = [log for log in logs if re.search(r"✓ train \[\w+\] done in", log)]
    assert len(built) == 1 and sum(bool(re.search(r"✓ train \[\w+\] cached", log)) for log in logs) == 1, logs
    match = _resume_line(built[0], "train")
    assert (match[1], *map(int, match.groups()[1:])) == (last["key"][:12], *last["position"].values())
    assert all("resuming" not in log for log in logs if log is not built[0])
    _finish(straight)
    assert _model_bytes(cache, "train") == _model_bytes(tmp_path / "straight" / "cache", "train")
    assert not (cache / "partial" / "train" / last["key"]).exists()  # committed: nothing left to resume


def test_a_language_model_killed_mid_epoch_resumes_to_the_same_bytes(tmp_path):
    straight = _start(LM, tmp_path / "straight")
    killed = _start(LM, tmp_path / "resumed")
    cache = tmp_path / "resumed" / "cache"
    last = _kill_mid_epoch(killed, cache, "train_lm", "step", 250)  # past the first held-out evaluation (209)
    match = _resume_line(_finish(_start(LM, tmp_path / "resumed")), "train_lm")
    assert (match[1], int(match[2]), int(match[3])) == (last["key"][:12], last["position"]["epoch"],
                                                         last["position"]["batch"])
    _finish(straight)
    assert _model_bytes(cache, "train_lm") == _model_bytes(tmp_path / "straight" / "cache", "train_lm")
    assert not (cache / "partial" / "train_lm").exists() or not list((cache / "partial" / "train_lm").iterdir())


def test_a_resumed_run_writes_each_tensorboard_point_once_and_the_same_bytes(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def points(folder: Path) -> dict[str, list[int]]:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        events.Reload()
        return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}

    shorter = [*SENTIMENT, "--set", "train.epochs=3"]  # killed inside epoch 2 (its dev scores from epoch 1 saved)
    watched = [*shorter, "--set", "report.tensorboard=true"]
    straight = _start(shorter, tmp_path / "straight")  # without TensorBoard, in another cache, meanwhile
    killed = _start(watched, tmp_path / "resumed")
    cache, reports = tmp_path / "resumed" / "cache", tmp_path / "resumed" / "reports" / "sentiment"
    last = _kill_mid_epoch(killed, cache, "train", "epoch", 2)
    (cut,) = reports.glob("*/*/tensorboard")  # the killed run's: its points up to the kill, marked incomplete
    killed_steps = points(cut)["train/loss"]
    assert json.loads((cut / ".live.json").read_text())["complete"] is False

    _resume_line(_finish(_start(watched, tmp_path / "resumed")), "train")
    report = (reports / "latest").resolve()  # the resumed run's own folder
    assert report != cut.parent.parent
    folder = next(report.glob("*/tensorboard"))
    resumed = points(folder)
    for tag, steps in resumed.items():
        assert len(steps) == len(set(steps)), f"{tag}: a step written twice: {steps}"
    trace = json.loads((folder.parent / "trace.json").read_text())
    assert resumed["train/loss"] == [row["step"] for row in trace["rows"]]  # from the first step, not the resume's
    position = last["position"]
    checkpoint_step = (position["epoch"] - 1) * position["batches"] + position["batch"]
    assert killed_steps == resumed["train/loss"][:len(killed_steps)]  # the same points, written again once
    assert killed_steps[-1] > checkpoint_step - trace["every"]  # it had written every record the checkpoint holds
    assert resumed["dev/accuracy"] == [row["step"] for row in trace["evaluations"]]
    assert json.loads((folder / ".live.json").read_text()) == {"stage": "train", "key": last["key"], "complete": True}
    _finish(straight)
    assert _model_bytes(cache, "train") == _model_bytes(tmp_path / "straight" / "cache", "train")
