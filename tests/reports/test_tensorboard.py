"""``report.tensorboard``: a two-variant grid's report holds one TensorBoard run per variant, read back here with
TensorBoard's own reader, every series with as many points as training recorded."""

from __future__ import annotations

import json
import math
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
    assert (result.report_dir / "gradient_flow.png").stat().st_size > 0  # both variants in one figure
