"""``report.tensorboard``: a two-variant grid's report holds one TensorBoard run per variant, read back here with
TensorBoard's own reader, every series with as many points as training recorded; the points appear while
the command still trains (the CLI in a fresh process), each once; a model from the cache gets its run too."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from nlp_pipeline.pipelines import run_pipeline  # noqa: E402

EPOCHS, BATCH = 3, 16
TINY = ["data.corpus=pang_lee_polarity", "model.embedding_mode=random", "embed.vector_size=8", "model.hidden_size=8",
        f"train.epochs={EPOCHS}", f"train.batch_size={BATCH}", "train.patience=0", "train.clip_norm=0.05",
        "runtime.threads=1", "runtime.device=cpu", "report.tensorboard=true"]


def test_each_variant_is_a_tensorboard_run_with_every_series(tmp_path):
    result = run_pipeline("sentiment", TINY, grid=["model.encoder=rnn,gru"], cache_dir=tmp_path / "cache",
                          report_dir=tmp_path / "reports", progress=False, log=lambda line: None)
    assert [v.name for v in result.variants] == ["rnn-random", "gru-random"]
    for v in result.variants:
        folder = result.report_dir / v.name / "tensorboard"
        trace = json.loads((result.report_dir / v.name / "trace.json").read_text())
        tokens = json.loads((Path(v.artifacts["tokenize"]) / "manifest.json").read_text())["metadata"]
        train_docs = tokens["splits"]["train"]["documents"]
        assert trace["steps"] == EPOCHS * math.ceil(train_docs / BATCH)
        points = math.ceil(trace["steps"] / trace["every"])

        events = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # 0: keep every point
        events.Reload()
        tags = set(events.Tags()["scalars"])
        for tag in ("train/loss", "train/learning_rate", "train/tokens_per_second", "gradients/norm",
                    "gradients/clipped_fraction"):
            series = events.Scalars(tag)
            assert [e.step for e in series] == [row["step"] for row in trace["rows"]] and len(series) == points, tag
        clipped = [e.value for e in events.Scalars("gradients/clipped_fraction")]
        assert all(0 <= c <= 1 for c in clipped) and max(clipped) > 0  # clip_norm 0.05: steps were clipped
        layer_tags = {t for t in tags if t.startswith("gradients/layer/")}
        assert {"gradients/layer/embedding", "gradients/layer/encoder.forward_layers.0",
                "gradients/layer/output"} <= layer_tags
        for tag in ("dev/accuracy", "dev/loss", "dev/macro_f1"):
            assert len(events.Scalars(tag)) == EPOCHS, tag
        assert [e.value for e in events.Scalars("dev/accuracy")] == pytest.approx(
            [row["dev_accuracy"] for row in json.loads((result.report_dir / v.name / "history.json").read_text())])
        flow = events.Scalars("gradient_flow/relative_norm")
        assert len(flow) == v.train["gradient_flow"]["steps"] and flow[0].value == pytest.approx(1.0)
        assert json.loads((folder / ".live.json").read_text())["complete"]  # written as it trained
    assert (result.report_dir / "gradient_flow.png").stat().st_size > 0  # both variants in one figure

    # The same grid again: every model from the cache, nothing trains; the report writes each run from its trace.
    again = run_pipeline("sentiment", TINY, grid=["model.encoder=rnn,gru"], cache_dir=tmp_path / "cache",
                         report_dir=tmp_path / "reports", progress=False, log=lambda line: None)
    assert again.report_dir != result.report_dir and all(r["hit"] for v in again.variants for r in v.stage_runs)
    for v in again.variants:
        folder = again.report_dir / v.name / "tensorboard"
        assert not (folder / ".live.json").exists()
        assert _points(folder) == _points(result.report_dir / v.name / "tensorboard")


def _points(folder: Path) -> dict[str, list[int]]:
    """Each tag's steps in the run ``folder`` holds, in order, as TensorBoard reads them."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def _each_once(points: dict[str, list[int]]) -> None:
    for tag, steps in points.items():
        assert len(steps) == len(set(steps)), f"{tag}: a step written twice: {steps}"


LIVE_EPOCHS = 5  # of about a second each here: the first points come within the first tenth of one
LIVE = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--set", "model.embedding_mode=random",
        "--set", "model.hidden_size=8", "--set", f"train.epochs={LIVE_EPOCHS}", "--set", "train.batch_size=2",
        "--set", "train.patience=0", "--set", "runtime.threads=1", "--set", "runtime.device=cpu",
        "--set", "report.tensorboard=true"]


@pytest.mark.e2e  # the CLI in a fresh process
def test_the_events_are_written_while_the_command_trains_each_point_once(tmp_path):
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "nlp_pipeline.cli", *LIVE, "--cache-dir", str(tmp_path / "cache"),
           "--report-dir", str(reports)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        live: dict[str, list[int]] = {}
        deadline = time.monotonic() + 120
        while not live.get("train/loss"):
            assert proc.poll() is None, "the run ended before any point was seen: " + proc.communicate()[1]
            assert time.monotonic() < deadline, "no point within 120 s"
            found = list(reports.glob("sentiment/*/*/tensorboard"))
            if found and any("tfevents" in f.name for f in found[0].iterdir()):
                live = _points(found[0])
            time.sleep(0.05)
        assert proc.poll() is None  # read while it still trains: written live, not by the report
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (folder,) = found
    report = Path(out.strip().splitlines()[-1].split("report: ", 1)[1])
    assert folder.parent.parent == report and f"tensorboard --logdir {report}" in err  # the report's own folder
    trace = json.loads((folder.parent / "trace.json").read_text())
    points = _points(folder)
    _each_once(points)
    steps = [row["step"] for row in trace["rows"]]
    assert points["train/loss"] == steps and len(live["train/loss"]) < len(steps)
    assert len(points["dev/accuracy"]) == LIVE_EPOCHS and points["gradient_flow/relative_norm"]  # the flow: at the end
    assert len([f for f in folder.iterdir() if "tfevents" in f.name]) == 1  # the report left the live run as it was
    (variant,) = json.loads((report / "results.json").read_text())["variants"]
    marker = json.loads((folder / ".live.json").read_text())
    assert marker == {"stage": "train", "key": Path(variant["artifacts"]["train"]).name, "complete": True}


def test_a_resumed_build_rewrites_its_run_from_the_first_step_each_point_once(tmp_path):
    """What a build resumed from a checkpoint does to a run written in the same folder: the restored trace is
    written first, in a new file whose first event drops the old file's points, for a TensorBoard reading the
    folder afresh and for one that had read the old file already."""
    import torch
    from torch import nn

    from nlp_pipeline.reports.tensorboard import LiveEvents, live_complete
    from nlp_pipeline.training.monitor import Monitor

    model, folder = nn.Linear(2, 1), tmp_path / "run"

    def train(monitor: Monitor, steps: int) -> None:
        for i in range(steps):
            model.zero_grad()
            loss = model(torch.full((1, 2), float(i))).pow(2).mean() + 1.0
            loss.backward()
            monitor.clip(list(model.parameters()))
            monitor.step(loss, units=1, tokens=4, lr=0.1, epoch=1)

    first = Monitor(model, clip_norm=1.0, every=2, perplexity=True, live=LiveEvents(folder, "train_lm", "k"))
    train(first, 5)
    first.evaluated({"heldout_ppl": 9.0})  # at step 5
    checkpoint = json.loads(json.dumps(first.state()))  # as a checkpoint keeps it
    train(first, 2)  # recorded at step 6 and written, then killed
    watching = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # a TensorBoard reading meanwhile
    watching.Reload()
    assert [e.step for e in watching.Scalars("train/loss")] == [2, 4, 6]
    assert not live_complete(folder, "train_lm", "k")

    again = Monitor(model, clip_norm=1.0, every=2, perplexity=True, live=LiveEvents(folder, "train_lm", "k"))
    again.restore(checkpoint)
    train(again, 3)
    trace = again.trace(lr=0.1, epoch=1)
    again.live.finish(trace, {"norms": [2.0, 1.0]})
    assert live_complete(folder, "train_lm", "k") and not live_complete(folder, "train_lm", "other")
    assert len([f for f in folder.iterdir() if "tfevents" in f.name]) == 2  # the old one stays: see _open_writer
    watching.Reload()
    for points in (_points(folder), {t: [e.step for e in watching.Scalars(t)] for t in watching.Tags()["scalars"]}):
        _each_once(points)
        assert points["train/loss"] == points["train/perplexity"] == [r["step"] for r in trace["rows"]] == [2, 4, 6, 8]
        assert points["heldout/perplexity"] == [5] and points["gradient_flow/relative_norm"] == [0, 1]


def test_a_run_cut_short_is_written_again_from_the_trace_each_point_once(tmp_path):
    from nlp_pipeline.reports.tensorboard import LiveEvents, live_complete, write_events

    trace = {"perplexity": False, "rows": [{"step": s, "loss": 1.0 / s, "lr": 0.1, "grad_norm": 1.0, "clipped": 0.0}
                                           for s in (1, 2, 3)], "evaluations": [{"step": 3, "dev_accuracy": 0.5}]}
    cut = LiveEvents(tmp_path / "run", "train", "k")
    cut.publish(trace["rows"][:2], [])
    cut.close()  # a build that failed: incomplete
    assert not live_complete(tmp_path / "run", "train", "k")
    write_events(tmp_path / "run", trace)  # the report's: the artifact's trace instead
    points = _points(tmp_path / "run")
    _each_once(points)
    assert points["train/loss"] == [1, 2, 3] and points["dev/accuracy"] == [3]


def test_a_language_model_and_its_fine_tuning_are_runs_written_as_they_train(tmp_path):
    """train_lm's run with its perplexities and gradient flow; then a classifier started from it, whose
    fine-tuning of the language model on the task's text is a run of its own below the classifier's."""
    cache, reports = tmp_path / "cache", tmp_path / "reports"
    lm = run_pipeline("lm", ["data.text=[lee_background]", "lm.embedding_init=random", "lm.embedding_dim=16",
                             "lm.hidden_size=16", "lm.min_count=1", "lm.bptt=16", "lm.evaluations=2",
                             "lm.max_tokens=8000", "data.heldout_fraction=0.05", "runtime.threads=1",
                             "runtime.device=cpu", "generate.max_tokens=3", "report.tensorboard=true"],
                      cache_dir=cache, report_dir=reports, progress=False, log=lambda line: None)
    (variant,) = lm.variants
    folder, key = lm.report_dir / variant.name / "tensorboard", Path(variant.artifacts["train_lm"]).name
    points = _points(folder)
    _each_once(points)
    trace = json.loads((folder.parent / "trace.json").read_text())
    assert points["train/loss"] == points["train/perplexity"] == [row["step"] for row in trace["rows"]]
    assert len(points["heldout/perplexity"]) == 2 and points["gradient_flow/relative_norm"]
    assert json.loads((folder / ".live.json").read_text()) == {"stage": "train_lm", "key": key, "complete": True}

    classifier = run_pipeline(
        "sentiment", ["data.corpus=pang_lee_polarity", "model.encoder=lstm", "model.init=lm", f"model.lm=[{key}]",
                      "model.lm_finetune_tokens=2000", "train.epochs=2", "runtime.threads=1", "runtime.device=cpu",
                      "report.tensorboard=true"],
        cache_dir=cache, report_dir=reports, progress=False, log=lambda line: None)
    (variant,) = classifier.variants
    keys = {r["stage"]: r["key"] for r in variant.stage_runs}
    folder = classifier.report_dir / variant.name / "tensorboard"
    for run, stage in ((folder, "train"), (folder / "finetune_lm-forward", "finetune_lm")):
        _each_once(_points(run))
        assert json.loads((run / ".live.json").read_text()) == {"stage": stage, "key": keys[stage], "complete": True}
        assert len([f for f in run.iterdir() if "tfevents" in f.name]) == 1  # left as written
    assert "train/perplexity" in _points(folder / "finetune_lm-forward")
    assert not (folder / "finetune_lm-backward").exists()  # an lstm: the forward model only
