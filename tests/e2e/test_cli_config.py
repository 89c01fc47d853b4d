"""`config show`, `config init` + `run FILE`, and `config schema`, as a user meets them: fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import yaml

TINY = ["--set", "data.corpus=pang_lee_polarity", "--set", "data.text=[lee_background, pang_lee_polarity:train]",
        "--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=1",
        "--set", "runtime.threads=1", "--set", "model.hidden_size=8", "--set", "train.epochs=1"]


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def test_config_show_lists_every_key_with_its_meaning_range_and_whether_it_is_in_a_key():
    out = cli("config", "show", "sentiment", "--set", "train.lr=0.01")
    assert out.returncode == 0, out.stderr
    lines = {line.split(":", 1)[0]: line for line in out.stdout.splitlines()}
    assert lines["train.lr"].startswith("train.lr: 0.01 ")  # what run would use, overrides included
    assert "learning rate (of the optimizer) [> 0] (in the key)" in lines["train.lr"]
    assert "[>= 1]" in lines["embed.window"] and "(in the key)" in lines["embed.window"]
    assert "(not in any key)" in lines["runtime.threads"]
    assert "(its data's content is in the key)" in lines["data.corpus"]
    assert "[rnn | gru | lstm | bilstm]" in lines["model.encoder"]
    rows = json.loads(cli("config", "show", "lm", "--json").stdout)
    assert {r["key"] for r in rows} >= {"lm.bptt", "data.text", "runtime.device", "generate.top_p"}


def test_config_show_names_a_bad_key_in_one_line():
    out = cli("config", "show", "sentiment", "--set", "embed.sources=imdb_unsup")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: 'embed.sources' is now 'data.text': rename it"


def test_config_init_writes_a_file_that_run_runs_with_its_values(tmp_path):
    mine = tmp_path / "mine.yaml"
    out = cli("config", "init", "sentiment", str(mine), *TINY)
    assert out.returncode == 0, out.stderr
    text = mine.read_text(encoding="utf-8")
    assert "  hidden_size: 8" in text and "# hidden units per direction" in text
    mine.write_text(text.replace("  pooling: max", "  pooling: mean"), encoding="utf-8")  # the user's edit
    run = cli("run", str(mine), "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"),
              "--json", "--quiet")
    assert run.returncode == 0, run.stderr
    variant = json.loads(run.stdout)["variants"][0]
    assert variant["config"]["model"]["pooling"] == "mean" and variant["config"]["model"]["hidden_size"] == 8
    assert (tmp_path / "reports" / "mine").is_dir()
    again = cli("config", "init", "sentiment", str(mine))
    assert again.returncode == 2 and "--force" in again.stderr  # never overwrites the user's edits


def test_config_schema_validates_a_users_file_and_run_names_the_same_mistakes(tmp_path):
    out = cli("config", "schema", "sentiment")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    mine = tmp_path / "mine.yaml"
    assert cli("config", "init", "sentiment", str(mine)).returncode == 0
    document = yaml.safe_load(mine.read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    assert schema["properties"]["embed"]["properties"]["vector_size"]["default"] == 300  # this pipeline's default

    mine.write_text("pipeline: sentiment\ntrain:\n  epohcs: 3\n", encoding="utf-8")
    run = cli("run", str(mine))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "unknown key 'train.epohcs'" in run.stderr
    mine.write_text("pipeline: sentiment\ntrain:\n  epochs: many\n", encoding="utf-8")
    run = cli("run", str(mine))
    assert run.returncode == 2 and "train.epochs='many' must be an integer" in run.stderr
    try:
        jsonschema.validate(yaml.safe_load(mine.read_text(encoding="utf-8")), schema)
        raise AssertionError("the schema accepted a wrong type")
    except jsonschema.ValidationError:
        pass


def test_run_help_lists_the_pipelines_and_says_a_file_works():
    out = cli("run", "--help")
    assert out.returncode == 0
    flat = " ".join(out.stdout.split())
    assert "sentiment, tagging, embeddings, lm" in flat
    assert "config init sentiment my.yaml" in flat and "nlp-pipeline run my.yaml" in flat.replace("nlp- pipeline",
                                                                                                  "nlp-pipeline")
