"""`make bench-serve`'s script runs end to end: its ``--quick`` mode against a tiny classifier and tiny vectors
prints every row with no errors, and its JSON holds the numbers. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_serve.py"
TINY = ["--corpus", "pang_lee_polarity", "--set", "data.text=lee_background,pang_lee_polarity:train",
        "--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=1",
        "--set", "model.hidden_size=8", "--set", "train.epochs=1", "--set", "train.batch_size=16",
        "--set", "runtime.threads=1", "--set", "runtime.device=cpu"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny classifier and its vectors, trained through the CLI (a few seconds), and texts to classify."""
    root = tmp_path_factory.mktemp("bench_serve")
    cache = root / "cache"
    proc = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "run", "sentiment", *TINY, "--cache-dir",
                           str(cache), "--report-dir", str(root / "reports"), "--json", "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = json.loads(proc.stdout[proc.stdout.index("{"):])["variants"][0]["stage_runs"]
    keys = {r["stage"]: r["key"] for r in runs}
    texts = root / "dev.tsv"
    texts.write_text("sentence\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(
        ["a charming and often affecting journey .", "unflinchingly bleak and desperate",
         "the acting is good but the story is thin", "one of the best films of the year"])), encoding="utf-8")
    return cache, keys["train"][:12], keys["embed"][:12], texts


def test_quick_mode_prints_every_row_with_no_errors(tiny, tmp_path):
    cache, model, vectors, texts = tiny
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--rounds", "2", "--model", model,
                           "--vectors", vectors, "--cache-dir", str(cache), "--texts", str(texts), "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout
    for line in ("/v1/classify:", "/v1/similar:", "`nlp-pipeline predict` process per request",
                 "`nlp-pipeline similar` process per request", "stub server (fixed answer)", "this server's /health",
                 "before any request", "after 200 requests", "after 2,000 requests", "what else ran:",
                 "8 clients, each round: batched "):
        assert line in printed, f"{line!r} missing from:\n{printed}"

    results = json.loads(out.read_text(encoding="utf-8"))
    for endpoint in ("classify", "similar"):
        rows = results["tables"][endpoint]
        assert [(r["what"], r["clients"]) for r in rows[:-1]] == [
            ("batched", 1), ("batched", 8), ("unbatched", 1), ("unbatched", 8)]
        assert "process per request" in rows[-1]["what"]
        for r in rows:
            assert r["errors"] == 0, r
            assert r["requests"] > 0 and r["rps"] > 0, r
            assert r["p50"] <= r["p95"] <= r["p99"], r
        assert all(r["vs_unbatched"] > 0 for r in rows if r["what"] == "batched")
        # batched and unbatched took turns, twice: the row is a round's, the ratio the rounds' median
        for r in rows[:-1]:
            assert len(r["rounds_rps"]) == 2 and r["rps"] in r["rounds_rps"], r
        for r in (r for r in rows if r["what"] == "batched"):
            assert len(r["round_ratios"]) == 2 and min(r["round_ratios"]) <= r["vs_unbatched"] <= max(r["round_ratios"])
        assert all(r["vs_process"] > 0 for r in rows[:-1])
    memory = results["memory"]
    assert memory["errors"] == 0 and memory["soak_requests"] >= 2_000
    assert memory["before"] > 0 and memory["after_first"] > 0 and memory["after_soak"] > 0
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in results["ceiling"])
