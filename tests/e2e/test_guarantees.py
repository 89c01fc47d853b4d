"""The cache's promises where a user meets them: through the CLI, in fresh processes and fresh caches.

- Same configuration and seed, deterministic settings (one word2vec thread, CPU): byte-identical
  vectors and weights, identical metrics, for sentiment (both word2vec engines) and tagging.
- Two identical runs started together on one cache: both succeed, each stage is built once, and
  every manifest names the upstream artifacts that are in the cache.
- A damaged artifact (truncated, same-size corruption, deleted file, garbage manifest) is named in
  one line and rebuilt; `predict` refuses a damaged model; `cache verify` names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke, stage_runs, stdout_json, tagger_on_vectors
from click.testing import CliRunner

from nlp_pipeline.cli import main

SENTIMENT = [
    "run", "sentiment", "--corpus", "pang_lee_polarity",
    "--set", "data.text=lee_background,pang_lee_polarity:train",
    "--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=2",
    "--set", "runtime.threads=1", "--set", "model.hidden_size=8",
    "--set", "train.epochs=2", "--set", "train.batch_size=16", "--set", "runtime.threads=1",
]
# Files whose bytes must not depend on the run (timings live in history.json and the manifests).
REPRODUCIBLE = {
    "tokenize": ("train.tokens.txt", "dev.tokens.txt", "test.tokens.txt", "train.labels.txt"),
    "treebank": ("train.jsonl", "dev.jsonl"),
    "pretrain_text": ("corpus.txt",),
    "embed": ("vectors.bin", "vectors.npy", "words.txt"),
    "train": ("model.safetensors", "config.json", "vocab.json"),
    "train_tagger": ("model.safetensors", "config.json", "vocab.json", "chars.json"),
    "evaluate": ("metrics.json",),
}


def _start(args: list[str], cache: Path, reports: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nlp_pipeline.cli", *args, "--cache-dir", str(cache), "--report-dir", str(reports),
           "--json", "-q"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out[out.index("{"):])


def _assert_same_build(a: dict, b: dict) -> None:
    """Two results of the same command in separate caches: same keys, same bytes, same metrics."""
    assert len(a["variants"]) == len(b["variants"])
    for va, vb, ra, rb in zip(a["variants"], b["variants"], stage_runs(a), stage_runs(b), strict=True):
        assert {s: r["key"] for s, r in ra.items()} == {s: r["key"] for s, r in rb.items()}
        for stage, files in REPRODUCIBLE.items():
            if stage not in ra:
                continue
            for name in files:
                fa, fb = Path(ra[stage]["path"]) / name, Path(rb[stage]["path"]) / name
                if fa.exists() or fb.exists():
                    assert fa.read_bytes() == fb.read_bytes(), f"{stage}/{name} differs between fresh runs"
        assert all(r["deterministic"] for r in ra.values())
        strip = ("tokens_per_second",)  # a speed, not a result
        assert ({s: {k: v for k, v in m.items() if k not in strip} for s, m in va["metrics"].items()}
                == {s: {k: v for k, v in m.items() if k not in strip} for s, m in vb["metrics"].items()})
        assert va["train"]["best_dev_accuracy"] == vb["train"]["best_dev_accuracy"]


@pytest.mark.parametrize("engine", ["gensim", pytest.param("torch", marks=pytest.mark.slow)])
def test_sentiment_same_seed_gives_identical_vectors_weights_and_metrics(tmp_path, engine):
    # The torch engine's one-worker reproducibility is also a unit test (tests/embeddings/test_torch_engine.py).
    args = [*SENTIMENT, "--set", f"embed.engine={engine}"]
    procs = [_start(args, tmp_path / c / "cache", tmp_path / c / "reports") for c in ("a", "b")]
    a, b = (_finish(p) for p in procs)
    assert a["variants"][0]["config"]["embed"]["engine"] == engine
    _assert_same_build(a, b)


def test_tagging_same_seed_gives_identical_weights_and_metrics(tmp_path, make_treebank):
    treebank = make_treebank(tmp_path / "tb", n_train=40, n_dev=15)
    # Random embeddings: the vector stages are the sentiment test's; what is tagging's own is the tagger.
    args = ["run", "tagging", "--corpus", str(treebank), "--set", "model.embedding_mode=random",
            "--set", "embed.vector_size=16", "--set", "model.hidden_size=8", "--set", "model.char_hidden=8",
            "--set", "train.epochs=2", "--set", "runtime.threads=1"]
    procs = [_start(args, tmp_path / c / "cache", tmp_path / c / "reports") for c in ("a", "b")]
    a, b = (_finish(p) for p in procs)
    _assert_same_build(a, b)


def _check_parallel_pair(tmp_path: Path, *extra: str) -> None:
    cache = tmp_path / "cache"
    procs = [_start([*SENTIMENT, *extra], cache, tmp_path / f"reports{i}") for i in range(2)]
    results = [_finish(p) for p in procs]
    (ra,), (rb,) = (stage_runs(r) for r in results)
    assert list(ra) == ["tokenize", "train", "evaluate"] if extra else list(ra) == [
        "tokenize", "pretrain_text", "embed", "train", "evaluate"]
    for stage in ra:
        assert ra[stage]["key"] == rb[stage]["key"]
        assert [ra[stage]["hit"], rb[stage]["hit"]].count(False) == 1, f"{stage} built twice or never"
    verify = CliRunner().invoke(main, ["cache", "verify", "--cache-dir", str(cache)])
    assert verify.exit_code == 0, verify.output
    manifests = {s: json.loads((Path(r["path"]) / "manifest.json").read_text()) for s, r in ra.items()}
    assert manifests["evaluate"]["inputs"]["model"] == {
        "stage": "train", "key": ra["train"]["key"], "digest": manifests["train"]["digest"]}
    assert manifests["train"]["inputs"]["tokens"]["digest"] == manifests["tokenize"]["digest"]
    if "embed" in manifests:
        assert manifests["train"]["inputs"]["vectors"]["digest"] == manifests["embed"]["digest"]
    assert not [p for p in (cache / "artifacts").rglob(".tmp-*")]


def test_two_identical_runs_on_one_cache_build_each_stage_once(tmp_path):
    _check_parallel_pair(tmp_path, "--set", "model.embedding_mode=random")  # the slow trials below train vectors


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(10))
def test_two_identical_runs_on_one_cache_ten_trials(tmp_path, trial):
    _check_parallel_pair(tmp_path)


# -- damage ------------------------------------------------------------------------------------------


def _run_json(cache: Path, reports: Path):
    result = invoke(*SENTIMENT, "--cache-dir", cache, "--report-dir", reports, "--json", "-q")
    return stage_runs(stdout_json(result))[0], result


def _damage_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "damaged" in line]


def _built(root: Path) -> dict:
    cache, reports = root / "cache", root / "reports"
    runs, _ = _run_json(cache, reports)
    return {"cache": cache, "reports": reports, "runs": runs}


def _rerun_after(built, stage: str, damage, expect: str) -> dict:
    art = Path(built["runs"][stage]["path"])
    damage(art)
    result = CliRunner().invoke(main, [*SENTIMENT, "--cache-dir", str(built["cache"]), "--report-dir",
                                       str(built["reports"]), "--json"])
    assert result.exit_code == 0, result.output
    lines = _damage_lines(result)
    assert len(lines) == 1 and stage in lines[0] and expect in lines[0] and "rebuilding" in lines[0], lines
    runs = stage_runs(stdout_json(result))[0]
    assert not runs[stage]["hit"] and runs[stage]["key"] == built["runs"][stage]["key"]
    order = list(runs)
    before = order[: order.index(stage)]
    assert all(runs[s]["hit"] for s in before)  # nothing upstream of the damage is redone
    # Downstream stages are redone only when the rebuilt files differ (train's history.json holds
    # timings; vectors, tokens and metrics come back byte-identical, so their dependants still hit).
    rebuilt = [line for line in result.stderr.splitlines() if "out of date" in line]
    assert sum(not r["hit"] for r in runs.values()) == 1 + len(rebuilt)
    invoke("cache", "verify", "--cache-dir", built["cache"])
    return runs


def _truncated_vectors_are_rebuilt(built):
    def truncate(art):
        f = art / "vectors.bin"
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])

    _rerun_after(built, "embed", truncate, "vectors.bin is")


def _same_size_corruption_of_weights_is_refused_by_predict_and_rebuilt(built):
    art = Path(built["runs"]["train"]["path"])
    texts = ["a wonderful , moving film", "dull and tedious"]
    before = invoke("predict", "latest", *texts, "--cache-dir", built["cache"], "--json")
    weights = art / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(64)  # the last weights' bytes, zeroed: same size, loads fine, predicts differently
    weights.write_bytes(bytes(data))
    refused = invoke("predict", "latest", *texts, "--cache-dir", built["cache"], ok=False)
    assert refused.exit_code == 2 and "damaged" in refused.stderr and "model.safetensors" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.output
    verify = invoke("cache", "verify", "--cache-dir", built["cache"], ok=False)
    assert verify.exit_code == 1 and "damaged: train" in verify.stdout and "model.safetensors" in verify.stdout
    runs = _rerun_after(built, "train", lambda a: None, "model.safetensors")
    assert not runs["evaluate"]["hit"]  # built from the old train artifact, whose history.json differed
    after = invoke("predict", "latest", *texts, "--cache-dir", built["cache"], "--json")
    assert after.stdout == before.stdout  # the rebuilt model is the same model


def _a_deleted_token_file_is_rebuilt(built):
    _rerun_after(built, "tokenize", lambda art: (art / "train.tokens.txt").unlink(), "train.tokens.txt is missing")


def _a_garbage_manifest_is_no_artifact(built):
    def garbage(art):
        (art / "manifest.json").write_text("[]")

    art = Path(built["runs"]["evaluate"]["path"])
    garbage(art)
    listing = invoke("cache", "ls", "--cache-dir", built["cache"])
    assert "1 folder(s) without a valid manifest" in listing.stdout
    _rerun_after(built, "evaluate", lambda a: None, "manifest is a JSON list")


def test_damage_is_named_in_one_line_and_rebuilt(tmp_path):
    """One cache, damaged four ways in turn (one test: the steps share the built artifacts)."""
    built = _built(tmp_path)
    _truncated_vectors_are_rebuilt(built)
    _same_size_corruption_of_weights_is_refused_by_predict_and_rebuilt(built)
    _a_deleted_token_file_is_rebuilt(built)
    _a_garbage_manifest_is_no_artifact(built)


# -- your own vectors ------------------------------------------------------------------------------------

GLOVE = "".join(f"{w} {i % 3} {i % 5} {(i * 7) % 11}\n" for i, w in enumerate(
    ["The", "the", "a", "film", "movie", "good", "bad", "great", ",", ".", "of", "and", "Good"]))


def test_your_own_glove_file_replaces_the_vector_stages_and_its_content_is_the_key(tmp_path):
    vectors = tmp_path / "mine.glove.txt"
    vectors.write_text(GLOVE, encoding="utf-8")
    args = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--set", f"embed.vectors={vectors}",
            "--set", "model.hidden_size=8", "--set", "train.epochs=1", "--set", "runtime.threads=1",
            "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "vectors:mine.glove.txt 3d" in result.stdout  # the table names the file
    assert "tokens with a vector: train" in result.stderr and "folded into their lower-case form" in result.stderr
    out = CliRunner().invoke(main, [*args, "--json", "-q"])
    runs = stage_runs(stdout_json(out))[0]
    assert list(runs) == ["tokenize", "import_vectors", "train", "evaluate"] and all(r["hit"] for r in runs.values())
    train_meta = json.loads((Path(runs["train"]["path"]) / "manifest.json").read_text())["metadata"]
    assert 0 < train_meta["token_coverage"]["train_tokens"] < 1 and train_meta["token_coverage"]["dev_tokens"]
    assert "of" not in train_meta["token_coverage"]["most_frequent_without_vector"]
    moved = tmp_path / "elsewhere" / vectors.name
    moved.parent.mkdir()
    vectors.rename(moved)  # the same bytes elsewhere: the same key, nothing rebuilt
    again = CliRunner().invoke(main, [*[a.replace(str(vectors), str(moved)) for a in args], "--json", "-q"])
    assert all(r["hit"] for r in stage_runs(stdout_json(again))[0].values())


def test_a_tagger_on_an_embed_artifact_of_another_run(tmp_path, make_treebank):
    built = _built(tmp_path / "sentiment")
    embed_key = built["runs"]["embed"]["key"]
    treebank = make_treebank(tmp_path / "tb", n_train=30, n_dev=10)
    _, runs = tagger_on_vectors(embed_key[:8], treebank, built["cache"], tmp_path / "reports")
    imported = json.loads((Path(runs["import_vectors"]["path"]) / "manifest.json").read_text())["metadata"]
    assert imported["source"] == f"embed:{embed_key}"
    assert (Path(runs["import_vectors"]["path"]) / "vectors.bin").read_bytes() == (
        Path(built["runs"]["embed"]["path"]) / "vectors.bin").read_bytes()  # lower-case already: the same vectors
