"""`--set model.init=lm` where a user meets it: language models trained by `run lm` start a classifier
and a tagger; `--grid model.init=word2vec,lm` compares them in one leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import invoke, stdout_json
from click.testing import CliRunner
from safetensors.torch import load_file

from nlp_pipeline.cli import main

LM = ["--set", "embed.vector_size=16", "--set", "runtime.threads=1", "--set", "embed.min_count=2",
      "--set", "embed.epochs=1", "--set", "runtime.threads=1", "--set", "lm.hidden_size=16",
      "--set", "runtime.threads=1", "--set", "lm.epochs=1", "--set", "lm.min_count=1", "--set", "lm.bptt=16",
      "--set", "lm.evaluations=1", "--set", "data.heldout_fraction=0.05", "--set", "runtime.device=cpu",
      "--set", "generate.max_tokens=3", "--set", "generate.prompts=[the]", "--set", "lm.max_tokens=30000"]
SENTIMENT = ["--corpus", "pang_lee_polarity", "--set", "data.text=[lee_background]", "--set",
             "embed.vector_size=16", "--set", "embed.min_count=2", "--set", "embed.epochs=1", "--set",
             "runtime.threads=1", "--set", "train.epochs=2", "--set",
             "runtime.threads=1", "--set", "model.hidden_size=8", "--set", "runtime.device=cpu"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lminit")
    cache, reports = root / "cache", root / "reports"
    out = stdout_json(invoke("run", "lm", "--corpus", "lee_background", *LM, "--grid", "lm.direction=forward,backward",
                             "--cache-dir", cache, "--report-dir", reports, "--json", "-q"))
    lms = {v["config"]["lm"]["direction"]: Path(v["artifacts"]["train_lm"]) for v in out["variants"]}
    return {"cache": cache, "reports": reports, "lms": lms}


def test_grid_over_init_compares_word2vec_and_language_model_starts(ws):
    out = stdout_json(invoke("run", "sentiment", *SENTIMENT, "--grid", "model.init=word2vec,lm", "--cache-dir",
                             ws["cache"], "--report-dir", ws["reports"], "--json", "-q"))
    variants = {v["config"]["model"]["init"]: v for v in out["variants"]}
    assert set(variants) == {"word2vec", "lm"}
    lm_run = {r["stage"] for r in variants["lm"]["stage_runs"]}
    assert "embed" not in lm_run and "train" in lm_run  # no word2vec for the LM-started encoder
    assert variants["lm"]["train"]["layers_from_language_models"] == 1
    model_dir = Path(variants["lm"]["artifacts"]["train"])
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model"]["hidden_size"] == 16 and config["model"]["embedding_dim"] == 16  # the LMs' sizes
    assert config["language_models"] == [f"train_lm:{ws['lms']['forward'].name}",
                                         f"train_lm:{ws['lms']['backward'].name}"]
    assert variants["lm"]["config"]["model"]["lm"] == [str(ws["lms"]["forward"]), str(ws["lms"]["backward"])]
    results_md = (Path(out["report_dir"]) / "results.md").read_text()
    assert "language models (fwd + bwd)" in results_md


def test_the_classifier_starts_from_the_language_models_weights(ws):
    """Trained with the encoder frozen for the run (lr 0 is not allowed, so: gradual unfreezing over one
    epoch trains only the output layer), the encoder still holds the language models' weights."""
    out = stdout_json(invoke("run", "sentiment", *SENTIMENT, "--set", "model.init=lm", "--set", "train.epochs=1",
                             "--set", "train.unfreeze=gradual", "--cache-dir", ws["cache"], "--report-dir",
                             ws["reports"], "--json", "-q"))
    weights = load_file(str(Path(out["variants"][0]["artifacts"]["train"]) / "model.safetensors"))
    forward = load_file(str(ws["lms"]["forward"] / "model.safetensors"))
    backward = load_file(str(ws["lms"]["backward"] / "model.safetensors"))
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert (weights[f"encoder.forward_layers.0.{name}"] == forward[f"layers.0.{name}"]).all()
        assert (weights[f"encoder.backward_layers.0.{name}"] == backward[f"layers.0.{name}"]).all()


def test_lm_finetuning_on_the_task_text_runs_first_and_feeds_the_classifier(ws):
    out = stdout_json(invoke("run", "sentiment", *SENTIMENT, "--set", "model.init=lm", "--set",
                             "model.lm_finetune_tokens=3000", "--set", "train.lr_layer_decay=2.6", "--cache-dir",
                             ws["cache"], "--report-dir", ws["reports"], "--json", "-q"))
    runs = {r["stage"]: r for r in out["variants"][0]["stage_runs"]}
    assert list(runs)[:2] == ["tokenize", "finetune_lm"]
    finetuned = Path(runs["finetune_lm"]["path"])
    assert (finetuned / "forward" / "model.safetensors").is_file() and (finetuned / "backward").is_dir()
    meta = json.loads((finetuned / "manifest.json").read_text())["metadata"]
    assert meta["forward"]["tokens_trained"] >= 3000 and meta["backward"]["from"].startswith("train_lm:")
    config = json.loads((Path(runs["train"]["path"]) / "config.json").read_text())
    assert config["language_models"] == [f"finetune_lm:{finetuned.name}/forward",
                                         f"finetune_lm:{finetuned.name}/backward"]


def test_a_tagger_starts_from_the_language_models(ws, make_treebank, tmp_path):
    treebank = make_treebank(tmp_path / "tb", n_train=60, n_dev=20)
    out = stdout_json(invoke("run", "tagging", "--corpus", treebank, "--set", "data.text=[lee_background]",
                             "--set", "model.init=lm", "--set", "model.num_layers=2", "--set", "train.epochs=2",
                             "--set", "runtime.threads=1", "--set", "runtime.device=cpu",
                             "--cache-dir", ws["cache"], "--report-dir", ws["reports"], "--json", "-q"))
    train = out["variants"][0]["train"]
    assert train["layers_from_language_models"] == 1  # the second layer starts at random
    assert out["variants"][0]["metrics"]["dev"]["accuracy"] > 0


@pytest.mark.parametrize("extra,message", [
    (["--set", "model.encoder=gru"], "model.encoder=gru contradicts the language model, a lstm"),
    (["--set", "model.embedding_mode=random"], "contradicts model.init=lm"),
    (["--set", "model.lm=[nonexistent_key_prefix]", "--set", "model.encoder=lstm"], "nonexistent_key_prefix"),
])
def test_contradictions_are_one_line_errors_before_any_stage(ws, extra, message):
    result = CliRunner().invoke(main, ["run", "sentiment", *SENTIMENT, "--set", "model.init=lm", *extra,
                                       "--cache-dir", str(ws["cache"]), "--report-dir", str(ws["reports"])])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "▶" not in result.stderr


def test_auto_without_a_backward_model_says_how_to_get_one(tmp_path, ws):
    cache = tmp_path / "cache"
    invoke("run", "lm", "--corpus", "lee_background", *LM, "--cache-dir", cache, "--report-dir", tmp_path / "r",
           "-q")
    result = CliRunner().invoke(main, ["run", "sentiment", *SENTIMENT, "--set", "model.init=lm", "--cache-dir",
                                       str(cache), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--set lm.direction=backward" in result.stderr
