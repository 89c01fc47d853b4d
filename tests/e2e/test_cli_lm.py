"""`nlp-pipeline run lm`, `generate` and `perplexity` where a user meets them: the CLI, fresh processes,
fresh caches, on a small text with real structure (a toy grammar's documents)."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke, stdout_json

SMALL = ["--set", "embed.vector_size=16", "--set", "runtime.threads=1", "--set", "embed.min_count=2",
         "--set", "embed.epochs=2", "--set", "runtime.threads=1", "--set", "lm.hidden_size=32",
         "--set", "runtime.threads=1", "--set", "lm.epochs=4", "--set", "lm.min_count=1", "--set", "lm.bptt=16",
         "--set", "lm.batch_size=8", "--set", "lm.lr=0.01", "--set", "lm.evaluations=3",
         "--set", "data.heldout_fraction=0.1", "--set", "runtime.device=cpu", "--set", "generate.max_tokens=12"]


def _cli(*args) -> str:
    """The command in a fresh interpreter, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _here(*args) -> str:
    """The command in this process: for what does not depend on a fresh interpreter (saves its start-up)."""
    return invoke(*map(str, args)).stdout


def toy_documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    nouns, adjs, verbs = ["cat", "dog", "film", "actor", "plot"], ["good", "bad", "long", "funny"], ["saw", "liked"]
    docs = []
    for _ in range(n):
        sentences = [f"the {rng.choice(adjs)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} ."
                     for _ in range(rng.randint(1, 4))]
        docs.append(" ".join(sentences).capitalize())
    return docs


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lm")
    text = root / "stories.txt"
    text.write_text("\n".join(toy_documents(400)) + "\n", encoding="utf-8")
    args = ["run", "lm", "--corpus", text, *SMALL, "--grid", "lm.direction=forward,backward",
            "--cache-dir", root / "cache", "--report-dir", root / "reports"]
    shown = invoke(*args)
    again = stdout_json(invoke(*args, "--json", "-q"))
    return {"root": root, "text": text, "args": args, "shown": shown, "result": again, "cache": root / "cache"}


def test_run_lm_trains_both_directions_beats_the_unigram_model_and_reports(lm_run):
    result = lm_run["result"]
    variants = {v["config"]["lm"]["direction"]: v for v in result["variants"]}
    assert set(variants) == {"forward", "backward"}
    for direction, v in variants.items():
        runs = {r["stage"]: r for r in v["stage_runs"]}
        assert list(runs) == ["pretrain_text", "lm_data", "embed", "train_lm", "evaluate_lm"]
        assert all(r["hit"] for r in runs.values())  # the second run is all cache
        m = v["metrics"]
        assert m["direction"] == direction
        assert m["heldout_ppl"] < 0.5 * m["unigram_heldout_ppl"], m  # the grammar is learnt
        report = Path(result["report_dir"]) / v["name"]
        assert (report / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        samples = json.loads((report / "samples.json").read_text())
        assert [s["prompt"] for s in samples] == ["the movie was", "i have never seen", "the acting", ""]
        history = json.loads((report / "history.json").read_text())
        assert len(history) == 3 and history[-1]["heldout_ppl"] < history[0]["heldout_ppl"]
    fwd, bwd = ({r["stage"]: r["key"] for r in variants[d]["stage_runs"]} for d in ("forward", "backward"))
    assert fwd["lm_data"] == bwd["lm_data"] and fwd["embed"] == bwd["embed"] and fwd["train_lm"] != bwd["train_lm"]
    shown = lm_run["shown"].stdout
    assert "held-out ppl" in shown and "unigram ppl" in shown and "tokens/s" in shown
    results_md = (Path(result["report_dir"]) / "results.md").read_text()
    assert "Held-out perplexity **" in results_md and "learning_curve.png" in results_md


def test_the_embedding_starts_from_vectors_trained_on_the_training_documents_only(lm_run):
    variant = lm_run["result"]["variants"][0]
    runs = {r["stage"]: Path(r["path"]) for r in variant["stage_runs"]}
    train_docs = (runs["lm_data"] / "corpus.txt").read_text().splitlines()
    heldout_docs = (runs["lm_data"] / "heldout.txt").read_text().splitlines()
    n = len(train_docs) + len(heldout_docs)
    assert 300 < n <= 400 and len(heldout_docs) == math.ceil(0.1 * n)  # repeats are dropped first
    assert not set(train_docs) & set(heldout_docs)
    embed = json.loads((runs["embed"] / "manifest.json").read_text())
    assert embed["inputs"]["text"]["stage"] == "lm_data"
    assert variant["train"]["embedding_coverage"] > 0.9


def test_new_prompts_rerun_only_the_evaluation(lm_run):
    out = stdout_json(invoke(*lm_run["args"][:-4], "--set", "generate.prompts=[the dog]", "--cache-dir",
                             lm_run["cache"], "--report-dir", lm_run["root"] / "reports", "--json", "-q"))
    for v in out["variants"]:
        rebuilt = [r["stage"] for r in v["stage_runs"] if not r["hit"]]
        assert rebuilt == ["evaluate_lm"]
        assert [s["prompt"] for s in v["metrics"]["samples"]] == ["the dog"]


def test_generate_is_reproducible_with_a_seed_in_fresh_processes(lm_run):
    forward = next(v for v in lm_run["result"]["variants"] if v["config"]["lm"]["direction"] == "forward")
    model = forward["artifacts"]["train_lm"]
    args = ["generate", model, "--prompt", "The funny", "--max-tokens", "15", "--seed", "5", "--json"]
    a, b = _cli(*args), _cli(*args)
    assert a == b
    out = json.loads(a)
    assert out["text"].startswith("the funny") and out["tokens"] <= 15
    other = json.loads(_here(*args[:-3], "--seed", "6", "--samples", "3", "--json").splitlines()[0])
    assert other["prompt"] == "The funny"
    greedy = _here("generate", model, "--prompt", "the good cat saw the", "--temperature", "0", "--max-tokens", "1")
    assert greedy.split()[-1] in {"cat", "dog", "film", "actor", "plot"}  # the grammar's next word is a noun


def test_perplexity_scores_a_file_and_the_backward_model_reads_it_reversed(lm_run, tmp_path):
    variants = {v["config"]["lm"]["direction"]: v for v in lm_run["result"]["variants"]}
    fresh = tmp_path / "new.txt"
    fresh.write_text("\n".join(toy_documents(30, seed=99)) + "\n\n", encoding="utf-8")
    scores = {}
    for direction, v in variants.items():
        out = json.loads(_cli("perplexity", v["artifacts"]["train_lm"], "--file", fresh, "--json"))
        assert out["direction"] == direction and out["documents"] == 30 and out["unknown_rate"] == 0.0
        scores[direction] = out["perplexity"]
        assert out["perplexity"] < 0.5 * v["metrics"]["unigram_heldout_ppl"]
    scrambled = tmp_path / "scrambled.txt"  # the same words out of order: far less likely to either model
    rng = random.Random(0)
    lines = [" ".join(rng.sample(d.split(), len(d.split()))) for d in toy_documents(30, seed=99)]
    scrambled.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for v in variants.values():
        out = json.loads(_here("perplexity", v["artifacts"]["train_lm"], "--file", scrambled, "--json"))
        assert out["perplexity"] > 2 * scores[v["config"]["lm"]["direction"]]


def test_same_seed_same_language_model_in_a_fresh_cache(lm_run, tmp_path):
    """The promise where the user meets it: another process, another cache, the same bytes."""
    text = lm_run["text"]
    _cli("run", "lm", "--corpus", text, *SMALL, "--cache-dir", tmp_path / "cache", "--report-dir",
         tmp_path / "reports", "-q")
    ours = next(Path(p) for p in (tmp_path / "cache" / "artifacts" / "train_lm").iterdir() if p.is_dir())
    first = next(v for v in lm_run["result"]["variants"] if v["config"]["lm"]["direction"] == "forward")
    theirs = Path(first["artifacts"]["train_lm"])
    assert ours.name == theirs.name
    assert (ours / "model.safetensors").read_bytes() == (theirs / "model.safetensors").read_bytes()
