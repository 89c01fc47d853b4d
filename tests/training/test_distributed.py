"""Training on several processes (DDP over gloo, 2 CPU processes): the same optimisation as one process with
the same global batch, for the classifier, the language model and the tagger; every process holds the same weights;
checkpoints written by rank 0 resume every process to the same bytes; the launcher's environment and exit codes.

The runs are launched as the CLI launches them (`launch`: fresh processes with torchrun's variables);
``ddp_worker.py`` is what they run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ddp_worker
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.training.distributed import Replicas, launch, launched

WORKER = Path(__file__).with_name("ddp_worker.py")
STEPS = 20  # the loss curves compared: the first 20 optimizer steps
TOLERANCE = 1e-4  # relative; measured: about 2e-7 (the order the gradient sums are taken in)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one")
    ddp_worker.curves(out, rank=0, world=1)
    return out


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two")
    assert launch([sys.executable, str(WORKER), "curves", str(out)], 2) == 0
    return out


def _steps(folder: Path, kind: str, rank: int) -> list[list[float]]:
    return json.loads((folder / f"{kind}-rank{rank}.json").read_text())["steps"]


@pytest.mark.e2e  # whole training runs in two fresh processes
@pytest.mark.parametrize("kind", ["classifier", "lm", "tagger"])
def test_two_processes_follow_one_process_loss_curve_with_the_same_global_batch(kind, one_process, two_processes):
    single = _steps(one_process, kind, 0)
    slices = list(zip(_steps(two_processes, kind, 0), _steps(two_processes, kind, 1), strict=True))
    assert len(single) == len(slices) >= STEPS
    # Each step, the two slices make up the one process's batch (documents, tokens): the same data order ...
    assert [units for _, units in single] == [a[1] + b[1] for a, b in slices]
    assert all(a[1] > 0 and b[1] > 0 for a, b in slices)
    # ... and the same loss: the global batch's mean is the slices' means weighted by their units.
    together = [(a[0] * a[1] + b[0] * b[1]) / (a[1] + b[1]) for a, b in slices]
    relative = [abs(t - s[0]) / abs(s[0]) for t, s in zip(together[:STEPS], single[:STEPS], strict=True)]
    assert max(relative) < TOLERANCE, relative
    assert max(relative) > 0 or kind == "lm"  # not the same process twice: the sums are taken in another order


@pytest.mark.e2e  # whole training runs in two fresh processes
@pytest.mark.parametrize("kind", ["classifier", "lm", "tagger"])
def test_every_process_ends_with_the_same_weights_close_to_one_process(kind, one_process, two_processes):
    rank0 = load_file(two_processes / f"{kind}-rank0.safetensors")
    rank1 = load_file(two_processes / f"{kind}-rank1.safetensors")
    alone = load_file(one_process / f"{kind}-rank0.safetensors")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    assert max(float((rank0[k] - alone[k]).abs().max()) for k in alone) < 1e-4
    history = [json.loads((f / f"{kind}-rank0.json").read_text())["result"]["history"]
               for f in (one_process, two_processes)]
    score = "heldout_ppl" if kind == "lm" else "dev_accuracy"
    assert [row[score] for row in history[0]] == [row[score] for row in history[1]]
    loss = "train_ppl" if kind == "lm" else "train_loss"
    np.testing.assert_allclose([row[loss] for row in history[1]], [row[loss] for row in history[0]], rtol=TOLERANCE)


@pytest.mark.e2e  # whole training runs in two fresh processes
def test_a_run_stopped_mid_epoch_resumes_every_process_to_the_bytes_of_one_never_stopped(tmp_path):
    """With dropout (and the tagger's word dropout) on: each process's own generators (and the language model's
    streams) come back from rank 0's checkpoint, or the masks would differ from those of the run never stopped."""
    assert launch([sys.executable, str(WORKER), "resume", str(tmp_path)], 2) == 0
    for kind in ("classifier", "lm", "tagger"):
        through = load_file(tmp_path / f"{kind}-through-rank0.safetensors")
        for rank in (0, 1):
            resumed = load_file(tmp_path / f"{kind}-resumed-rank{rank}.safetensors")
            assert all(torch.equal(through[k], resumed[k]) for k in through), (kind, rank)
        stopped = tmp_path / f"{kind}-stopped-checkpoint"
        record = json.loads((stopped / "checkpoint.json").read_text())
        assert record["processes"] == 2 and 0 < record["position"]["batch"] < record["position"]["batches"]
        assert set(record["state"]["process_rng"]) == {"1"}
        assert sorted(p.name for p in stopped.iterdir()) == ["checkpoint.json", record["tensors"]["file"]]
        with safe_open(stopped / record["tensors"]["file"], "pt") as fh:
            names = set(fh.keys())
        assert {"rng.torch", "process.1.rng.torch"} <= names
        if kind == "lm":  # the hidden state each process carries into its next segment
            assert any(n.startswith("process.1.hidden.") for n in names) and any(n.startswith("hidden.") for n in names)


def test_alone_the_replicas_are_the_plain_step():
    model = torch.nn.Linear(2, 1)
    replicas = Replicas(model, lambda batch: (torch.tensor(float(len(batch))), len(batch)), torch.device("cpu"))
    assert replicas.world == 1 and replicas.batch([3, 1, 2]) == (torch.tensor(3.0), 3)
    data = torch.arange(12).reshape(4, 3)
    assert replicas.rows(data) is data and replicas.mean(2.5) == 2.5
    assert replicas.from_main(lambda: {"dev_accuracy": 0.5}) == {"dev_accuracy": 0.5}


def test_the_launchers_environment_is_read_and_checked(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert launched() is None
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    found = launched()
    assert (found.rank, found.world_size, found.local_rank, found.local_world_size) == (3, 4, 1, 2)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ConfigError, match="is not a place in the run"):
        launched()
    monkeypatch.delenv("WORLD_SIZE")
    with pytest.raises(ConfigError, match="RANK and WORLD_SIZE must both be set"):
        launched()


def test_the_launcher_gives_each_process_its_rank_and_reports_the_failure():
    script = ("import os, sys; r = int(os.environ['RANK']); "
              "assert os.environ['WORLD_SIZE'] == '3' and os.environ['LOCAL_RANK'] == str(r); "
              "assert os.environ['MASTER_ADDR'] == '127.0.0.1' and int(os.environ['MASTER_PORT']) > 0; "
              "sys.exit(int(sys.argv[1]) if r == 1 else 0)")
    assert launch([sys.executable, "-c", script, "0"], 3) == 0
    assert launch([sys.executable, "-c", script, "7"], 3) == 7  # rank 1's code; the others exited 0 or were stopped
