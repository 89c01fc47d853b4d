"""The training trace: a record every few steps, gradient norms as clipping sees them, the clipped share,
each layer's norm, and a state that continues exactly after a checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nlp_pipeline.training.monitor import TRACE_POINTS, Monitor, layer_of, record_every


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(5, 3)
        self.output = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.embedding(x).mean(dim=1))


def _steps(monitor: Monitor, model: Tiny, scales: list[float], start: int = 0) -> list[float]:
    """One step per scale: a loss multiplied by it (a larger gradient); returns the global norms before clipping."""
    norms = []
    params = list(model.parameters())
    for i, scale in enumerate(scales, start=start):
        model.zero_grad()
        loss = model(torch.tensor([[i % 5, (i + 1) % 5]])).logsumexp(dim=1).mean() * scale
        loss.backward()
        norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))
        monitor.clip(params)
        monitor.step(loss, units=1, tokens=2, lr=0.01, epoch=1)
    return norms


def test_a_record_every_few_steps_with_the_norm_clipping_saw_and_the_share_clipped():
    torch.manual_seed(0)
    model = Tiny()
    monitor = Monitor(model, clip_norm=1.0, every=3)
    scales = [0.1, 100.0, 0.1, 0.1, 100.0, 100.0, 0.1]
    norms = _steps(monitor, model, scales)
    monitor.evaluated({"epoch": 1, "dev_accuracy": 0.5, "dev_loss": 0.7, "seconds": 1.0})
    trace = monitor.trace(lr=0.01, epoch=1)
    assert [row["step"] for row in trace["rows"]] == [3, 6, 7]  # every 3, then the steps left at the end
    clipped = [n > 1.0 for n in norms]
    assert [row["clipped"] for row in trace["rows"]] == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert trace["clipped_fraction"] == pytest.approx(sum(clipped) / len(scales), abs=1e-6)
    assert trace["rows"][0]["grad_norm"] == pytest.approx(sum(norms[:3]) / 3, rel=1e-4)
    layers = trace["rows"][1]["layers"]  # of step 6 alone, before it was clipped
    assert set(layers) == {"embedding", "output"}
    assert math.hypot(*layers.values()) == pytest.approx(norms[5], rel=1e-4)
    assert "layers" not in trace["rows"][2]  # a step that was not a record step's
    assert trace["evaluations"] == [{"step": 7, "dev_loss": 0.7, "dev_accuracy": 0.5}]
    for p in model.parameters():  # the last step's gradient was clipped to the threshold
        assert p.grad is not None
    assert float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))) <= 1.0 + 1e-5


def test_its_state_continues_as_if_never_stopped():
    scales = [0.1, 100.0, 0.1, 0.1, 100.0, 100.0, 0.1, 5.0]
    torch.manual_seed(0)
    straight_model = Tiny()
    straight = Monitor(straight_model, clip_norm=1.0, every=3)
    _steps(straight, straight_model, scales)
    torch.manual_seed(0)
    model = Tiny()
    first = Monitor(model, clip_norm=1.0, every=3)
    _steps(first, model, scales[:4])  # mid-window
    again = Monitor(model, clip_norm=1.0, every=3)
    again.restore(first.state())
    _steps(again, model, scales[4:], start=4)

    def plain(trace: dict) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "tokens_per_second"} for row in trace["rows"]]

    assert plain(again.trace(0.01, 1)) == plain(straight.trace(0.01, 1))


def test_without_clipping_the_norm_is_still_recorded_and_nothing_is_clipped():
    torch.manual_seed(0)
    model = Tiny()
    monitor = Monitor(model, clip_norm=0.0, every=2)
    norms = _steps(monitor, model, [100.0, 100.0])
    trace = monitor.trace(0.01, 1)
    assert trace["rows"][0]["grad_norm"] == pytest.approx(sum(norms) / 2, rel=1e-4)
    assert trace["clipped_fraction"] == 0.0


def test_about_trace_points_records_whatever_the_run_length():
    assert record_every(1) == 1 and record_every(TRACE_POINTS) == 1
    assert record_every(10 * TRACE_POINTS + 1) == 11
    assert layer_of("encoder.forward_layers.0.weight_hh_l0") == "encoder.forward_layers.0"
    assert layer_of("bias") == "bias"
