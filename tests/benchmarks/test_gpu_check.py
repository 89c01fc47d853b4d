"""`make gpu-check` is ready for the day a GPU is lent: its no-CUDA path, and its benchmark code run on the CPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device on this machine" in proc.stdout


@pytest.mark.slow  # a real benchmark: four word2vec processes on all cores (15-50 s on 2 cores)
def test_its_benchmark_rows_are_real_measurements_on_the_cpu(tmp_path, monkeypatch):
    from nlp_pipeline.data import resolve

    monkeypatch.setattr(resolve, "shared_roots", lambda: [])  # Lee's text, not 30k tokens of IMDB to tokenize
    monkeypatch.setenv("NLP_PIPELINE_DATA_DIR", str(tmp_path / "no-mirror"))
    gpu_check = _module()
    corpus, what = gpu_check.benchmark_corpus(30_000, tmp_path)
    assert corpus.stat().st_size > 100_000 and "tokens" in what
    rows = gpu_check.word2vec_rows(corpus, device="cpu")
    assert [r[0] for r in rows] == ["word2vec sg", "word2vec cbow"]
    assert all(float(r[3].rstrip("x")) > 0 for r in rows)
    row = gpu_check.classifier_row(lambda device: gpu_check.classifier_tokens_per_second(device, n=300), device="cpu")
    assert row[0] == "classifier (bilstm) training" and float(row[3].rstrip("x")) > 0



def test_its_ddp_check_says_when_there_is_no_gpu(tmp_path):
    assert _module().ddp_row(0, tmp_path) == ["DDP training (NCCL)", "skipped: no GPU", "", "skipped"]


@pytest.mark.slow  # two processes train through the CLI (about 20 s on 2 cores)
def test_its_ddp_check_runs_on_the_cpu_with_gloo(tmp_path):
    row = _module().ddp_row(2, tmp_path, device="cpu")
    assert row[0] == "DDP training (gloo, 2 CPU processes)" and row[-1] == "ok", row
