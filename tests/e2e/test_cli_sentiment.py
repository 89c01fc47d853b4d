"""End to end: `nlp-pipeline run sentiment` on gensim's bundled samples, through the real CLI.

pang_lee_polarity (200 fastText-labelled movie snippets) is the labelled corpus; word2vec trains on
lee_background plus the pang_lee training split. Small dimensions keep the whole module well
under a minute.
"""

import json
from pathlib import Path

import pytest
from cli_helpers import report_variant, stdout_json
from click.testing import CliRunner

from nlp_pipeline.cli import main

SMALL = [
    "--corpus", "pang_lee_polarity",
    "--set", "data.text=lee_background,pang_lee_polarity:train",
    "--set", "embed.min_count=1",
    "--set", "embed.vector_size=16",
    "--set", "embed.epochs=2",
    "--set", "runtime.threads=1",
    "--set", "model.hidden_size=8",
    "--set", "train.epochs=2",
    "--set", "train.batch_size=16",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    return {"cache": str(root / "cache"), "reports": str(root / "reports")}


def _run(workspace, *extra, json_out=True):
    args = ["run", "sentiment", *SMALL, "--cache-dir", workspace["cache"], "--report-dir", workspace["reports"]]
    args += list(extra)
    if json_out:
        args.append("--json")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def test_run_prints_table_and_writes_report(workspace):
    result = _run(workspace, json_out=False)
    out = result.stdout
    assert "bilstm" in out and "dev acc" in out and "report:" in out
    report = report_variant(out, "bilstm-fine-tuned", ("metrics.json", "confusion_matrix_dev.png",
                            "confusion_matrix_test.png", "learning_curve.png", "history.json", "embeddings.json"))
    variant = report / "bilstm-fine-tuned"
    metrics = json.loads((variant / "metrics.json").read_text())
    assert set(metrics) == {"dev", "test"}
    assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0
    emb = json.loads((variant / "embeddings.json").read_text())
    assert {"wordsim353", "simlex999", "google_analogy"} <= set(emb["intrinsic"])
    assert len(emb["epoch_loss"]) == 2
    assert (report / "results.md").read_text().count("|") > 10


def test_second_run_is_all_cache_hits_with_same_results(workspace):
    first = stdout_json(_run(workspace))
    again = stdout_json(_run(workspace))
    runs = again["variants"][0]["stage_runs"]
    assert [r["stage"] for r in runs] == ["tokenize", "pretrain_text", "embed", "train", "evaluate"]
    assert all(r["hit"] for r in runs)
    assert again["variants"][0]["metrics"] == first["variants"][0]["metrics"]


def test_changed_model_parameter_reruns_only_downstream_stages(workspace):
    _run(workspace)
    planned = stdout_json(_run(workspace, "--set", "model.pooling=mean", "--dry-run"))["variants"][0]  # builds nothing
    changed = stdout_json(_run(workspace, "--set", "model.pooling=mean"))
    hits = {r["stage"]: r["hit"] for r in changed["variants"][0]["stage_runs"]}
    assert hits == {"tokenize": True, "pretrain_text": True, "embed": True, "train": False, "evaluate": False}
    assert {s["stage"]: s["status"] == "cached" for s in planned["stages"]} == hits  # the dry run said so
    assert [s["key"] for s in planned["stages"]] == [r["key"] for r in changed["variants"][0]["stage_runs"]]


def test_changed_embed_parameter_keeps_tokenization(workspace):
    _run(workspace)
    changed = stdout_json(_run(workspace, "--set", "embed.window=3"))
    hits = {r["stage"]: r["hit"] for r in changed["variants"][0]["stage_runs"]}
    assert hits == {"tokenize": True, "pretrain_text": True, "embed": False, "train": False, "evaluate": False}


def test_torch_engine_trains_the_vectors_in_the_same_format(workspace):
    gensim = stdout_json(_run(workspace, "--set", "embed.engine=gensim"))["variants"][0]["stage_runs"]
    out = stdout_json(_run(workspace, "--set", "embed.engine=torch"))
    runs = {r["stage"]: r for r in out["variants"][0]["stage_runs"]}
    before = {r["stage"]: r["key"] for r in gensim}
    assert runs["pretrain_text"]["key"] == before["pretrain_text"]  # same text,
    assert runs["embed"]["key"] != before["embed"]  # other engine
    from gensim.models import KeyedVectors

    from nlp_pipeline.engine import ArtifactCache

    art = next(a for a in ArtifactCache(workspace["cache"]) if a.key == runs["embed"]["key"])
    assert art.metadata["engine"] == "torch" and len(art.metadata["epoch_loss"]) == 2
    kv = KeyedVectors.load_word2vec_format(str(art.path / "vectors.bin"), binary=True)
    assert kv.vector_size == 16 and len(kv) == art.metadata["vocab_size"]
    assert "wordsim353" in art.metadata["intrinsic"]
    assert not [p for p in art.path.rglob("*") if p.name.endswith(".int32")]  # encoded corpus removed


def test_grid_runs_variants_and_shares_stages(workspace):
    out = stdout_json(_run(workspace, "--grid", "model.encoder=rnn,lstm", "--grid", "model.embedding_mode=frozen"))
    assert [v["config"]["model"]["encoder"] for v in out["variants"]] == ["rnn", "lstm"]
    second = out["variants"][1]["stage_runs"]
    assert {r["stage"]: r["hit"] for r in second}["embed"] is True


def test_random_embeddings_skip_word2vec(workspace):
    out = stdout_json(_run(workspace, "--set", "model.embedding_mode=random"))
    assert [r["stage"] for r in out["variants"][0]["stage_runs"]] == ["tokenize", "train", "evaluate"]


def test_predict_and_cache_ls(workspace):
    _run(workspace)
    runner = CliRunner()
    result = runner.invoke(main, ["predict", "latest", "a wonderful , moving film", "dull and tedious",
                                  "--cache-dir", workspace["cache"], "--json"])
    assert result.exit_code == 0, result.output
    preds = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(preds) == 2
    for p in preds:
        assert p["label"] in ("negative", "positive")
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    texts = Path(workspace["reports"]).parent / "to_label.txt"
    texts.write_text("a wonderful film\n\nboring\n", encoding="utf-8")
    from_file = runner.invoke(main, ["predict", "latest", "--file", str(texts), "--cache-dir", workspace["cache"]])
    assert from_file.exit_code == 0, from_file.output
    assert [line.split("\t")[-1] for line in from_file.stdout.splitlines()] == ["a wonderful film", "boring"]
    missing = runner.invoke(main, ["predict", "latest", "--file", f"{texts}.nope", "--cache-dir", workspace["cache"]])
    assert missing.exit_code == 2 and "to_label.txt.nope" in missing.stderr
    listing = runner.invoke(main, ["cache", "ls", "--cache-dir", workspace["cache"]])
    assert listing.exit_code == 0
    for stage in ("tokenize", "pretrain_text", "embed", "train", "evaluate"):
        assert stage in listing.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "model.encodr=lstm"], "unknown key 'model.encodr'"),
        (["--set", "train.epochs=zero"], "train.epochs='zero' must be an integer"),
        (["--corpus", "no_such_corpus_or_file"], "no_such_corpus_or_file"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(workspace, args, message):
    result = CliRunner().invoke(main, ["run", "sentiment", *args, "--cache-dir", workspace["cache"]])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_device_is_an_error_before_any_stage_even_when_cached(workspace):
    random = ["--set", "model.embedding_mode=random"]
    _run(workspace, *random)  # every stage cached
    result = CliRunner().invoke(main, ["run", "sentiment", *SMALL, *random, "--device", "cuda", "--cache-dir",
                                       workspace["cache"], "--report-dir", workspace["reports"]])
    assert result.exit_code == 2 and "CUDA is not available" in result.stderr
    assert "▶" not in result.stderr  # refused before the first stage


def test_predict_reads_stdin_with_file_dash(workspace):
    _run(workspace)
    result = CliRunner().invoke(main, ["predict", "latest", "--file", "-", "--cache-dir", workspace["cache"]],
                                input="a wonderful film\n\nboring\n")
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[-1] for line in result.stdout.splitlines()] == ["a wonderful film", "boring"]


def test_no_progress_bar_frames_when_stderr_is_not_a_terminal(workspace):
    """A log file or a pipe gets the stage and epoch lines, not every redraw of a bar."""
    result = CliRunner().invoke(main, ["run", "sentiment", *SMALL, "--set", "model.embedding_mode=random", "--rebuild",
                                       "--cache-dir", workspace["cache"], "--report-dir", workspace["reports"]])
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "\r" not in err and "batch/s" not in err and "doc/s" not in err
    assert "epoch 1/2: train_loss" in err and "✓ train" in err
