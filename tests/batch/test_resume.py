"""Kill a real `nlp-pipeline process` run with SIGKILL after its first shard, restart it, compare with a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from batch_helpers import WORDS, write_text
from click.testing import CliRunner

from nlp_pipeline.batch import process
from nlp_pipeline.batch.shards import STATE_DIR
from nlp_pipeline.cli import main

pytestmark = pytest.mark.e2e  # the CLI in a fresh process, killed and started again

N_FILES = 8
DOCS_PER_FILE = 6000  # a few tenths of a second of tokenization per shard


def _inputs(folder) -> list[str]:
    rng = np.random.default_rng(0)
    words = np.array(WORDS + ["good", "bad", "don't", "isn't"])
    for i in range(N_FILES):
        ids = rng.integers(0, len(words), size=(DOCS_PER_FILE, 12))
        write_text(folder / f"shard{i}.txt", [" ".join(words[row]) + "." for row in ids])
    write_text(folder / "shard3.txt", ["\xe9"] + ["", "ok"] * (DOCS_PER_FILE // 2))  # also a shard with errors
    return sorted(str(p) for p in folder.glob("*.txt"))


def _outputs(out) -> dict[str, bytes]:
    """Files under their final names (hidden temporary files and the timing summary left out)."""
    return {p.name: p.read_bytes() for p in out.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name != "summary.json"}


def test_killed_run_leaves_no_partial_shard_and_resumes_to_identical_output(tmp_path):
    inputs_dir = tmp_path / "in"
    inputs_dir.mkdir()
    inputs = _inputs(inputs_dir)
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    process(inputs, "tokenize", clean, workers=1, progress=False)
    expected = _outputs(clean)
    assert len(expected) == N_FILES + 1  # the shards and errors.jsonl

    cmd = [sys.executable, "-m", "nlp_pipeline.cli", "process", "tokenize", *inputs, "-o", str(crashed),
           "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((crashed / STATE_DIR).glob("*.json")):
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline, "no shard finished in 120 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, like a machine going down
        proc.wait()
    finished = {p.stem for p in (crashed / STATE_DIR).glob("*.json")}
    assert 1 <= len(finished) < N_FILES, "kill came too late to test anything"
    for name, data in _outputs(crashed).items():  # anything under a final name is a complete shard
        assert data == expected[name], f"{name} is incomplete under its final name"

    result = CliRunner().invoke(main, ["process", "tokenize", *inputs, "-o", str(crashed),
                                       "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "skipped as finished" in result.stdout
    skipped = int(result.stdout.split(" skipped as finished")[0].rsplit(", ", 1)[1])
    assert skipped >= len(finished)
    assert _outputs(crashed) == expected  # byte-identical to the uninterrupted run, errors.jsonl included
    assert not [p for p in crashed.rglob("*") if ".tmp-" in p.name]  # stale temporary files were cleaned up
