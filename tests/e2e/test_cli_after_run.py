"""After every run: its model's key, folder and the exact command that uses it; after a grid, the best variant
(by a dev score), which ``latest`` then names. Through the CLI, in tiny runs.

The grid's corpus is synthetic and learnable in a few epochs (a positive word in every positive text, a
negative one in every negative), and its second variant learns nothing (a learning rate of 1e-7), so
the best variant is the first one, never the last one trained: what ``latest`` used to name.
"""

from __future__ import annotations

import csv
import random
import re
import shlex
from pathlib import Path

import pytest
from cli_helpers import invoke, stdout_json
from gensim.test.utils import datapath

from nlp_pipeline.engine import SHORT_KEY
from nlp_pipeline.pipelines.artifacts import resolve_model

TINY = ["--set", "model.embedding_mode=random", "--set", "model.encoder=gru", "--set", "model.hidden_size=8",
        "--set", "embed.vector_size=16", "--set", "train.epochs=5", "--set", "train.batch_size=16",
        "--set", "runtime.threads=1"]
GRID = ["--grid", "train.lr=0.02,0.0000001"]


def write_corpus(path: Path) -> Path:
    rng = random.Random(0)
    good, bad = ["great", "wonderful", "superb", "lovely"], ["awful", "terrible", "dreadful", "boring"]
    filler = ["the", "film", "was", "a", "story", "with", "actors", "and", "plot", "it", "this", "movie", "really"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        for i in range(240):
            label = "pos" if i % 2 == 0 else "neg"
            words = [*rng.sample(filler, 6), rng.choice(good if label == "pos" else bad)]
            rng.shuffle(words)
            out.writerow([" ".join(words), label])
    return path


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("grid")
    corpus = write_corpus(root / "reviews.csv")
    args = ["run", "sentiment", "--corpus", corpus, *TINY, *GRID, "--cache-dir", root / "cache",
            "--report-dir", root / "reports"]
    shown = invoke(*args)  # builds every stage, logs on stderr, the closing lines on stdout
    result = stdout_json(invoke(*args, "--json", "-q"))  # all cached
    return {"root": root, "cache": root / "cache", "args": args, "shown": shown, "result": result}


def _dev_accuracy(variant: dict) -> float:
    return variant["metrics"]["dev"]["accuracy"]


def _train_key(variant: dict) -> str:
    return next(r["key"] for r in variant["stage_runs"] if r["stage"] == "train")


def _run_command(command: str) -> str:
    """The command a run printed, exactly as printed (``nlp-pipeline`` and its arguments)."""
    argv = shlex.split(command)
    assert argv[0] == "nlp-pipeline"
    return invoke(*argv[1:]).stdout


def test_a_grid_names_its_best_variant_by_dev_accuracy_and_its_model(grid):
    result = grid["result"]
    first, last = result["variants"]
    assert _dev_accuracy(first) > _dev_accuracy(last)  # the grid means something: one learns, one does not
    assert result["best_variant"] == first["name"] and result["best_by"] == "dev accuracy"
    model = result["model"]
    key = _train_key(first)
    assert (model["stage"], model["key"], model["prefix"], model["variant"]) == ("train", key, key[:SHORT_KEY],
                                                                                  first["name"])
    assert model["path"] == first["artifacts"]["train"] and model["latest"] is True
    assert model["command"] == f'nlp-pipeline predict {key[:SHORT_KEY]} "some text" --cache-dir {grid["cache"]}'
    out = grid["shown"].stdout
    assert f"best of 2 variants by dev accuracy: {first['name']}" in out
    assert f"model: train [{key[:SHORT_KEY]}] {model['path']}  (`latest` now names it)" in out
    assert f"use it: {model['command']}" in out
    assert out.strip().splitlines()[-1].startswith("report: ")  # still the last line


def test_latest_after_a_grid_is_the_best_variant_not_the_last_one_trained(grid):
    first, last = grid["result"]["variants"]
    cache = grid["cache"]
    assert resolve_model("latest", cache) == Path(first["artifacts"]["train"])
    texts = ["a wonderful story", "an awful plot"]
    latest = invoke("predict", "latest", *texts, "--cache-dir", cache, "--json").stdout
    best = invoke("predict", _train_key(first)[:SHORT_KEY], *texts, "--cache-dir", cache, "--json").stdout
    trained_last = invoke("predict", _train_key(last)[:SHORT_KEY], *texts, "--cache-dir", cache, "--json").stdout
    assert latest == best and latest != trained_last
    printed = _run_command(grid["result"]["model"]["command"])  # the printed command works as printed
    assert printed.split("\t")[0] in ("pos", "neg") and printed.rstrip().endswith("some text")


def test_every_key_shown_has_one_length(grid):
    shown = grid["shown"]
    keys = re.findall(r"\[([0-9a-f]+)\]", shown.stderr + shown.stdout)
    assert len(keys) >= 6 and {len(k) for k in keys} == {SHORT_KEY}
    planned = invoke(*grid["args"], "--dry-run").stdout
    assert {len(k) for k in re.findall(r"\[([0-9a-f]+)\]", planned)} == {SHORT_KEY}
    listing = invoke("cache", "ls", "--cache-dir", grid["cache"]).stdout.splitlines()
    rows = [line.split() for line in listing[2:] if line.split() and line.split()[0] in ("train", "evaluate")]
    assert len(rows) == 4 and {len(r[1]) for r in rows} == {SHORT_KEY}


def test_accuracy_is_percent_with_two_decimals_in_logs_tables_and_cache_ls(grid):
    first = grid["result"]["variants"][0]
    shown = grid["shown"]
    acc = f"{100 * _dev_accuracy(first):.2f}"
    assert re.search(r"dev_acc \d+\.\d\d%", shown.stderr) and not re.search(r"dev_acc 0\.\d{4}", shown.stderr)
    assert acc in shown.stdout  # the results table
    listing = invoke("cache", "ls", "--stage", "evaluate", "--cache-dir", grid["cache"]).stdout
    assert f"dev acc {acc}%" in listing and not re.search(r"acc 0\.\d{4}", listing)


def test_a_cleared_or_removed_latest_model_is_one_line(tmp_path):
    corpus = write_corpus(tmp_path / "reviews.csv")
    cache = tmp_path / "cache"
    result = stdout_json(invoke("run", "sentiment", "--corpus", corpus, *TINY, "--set", "train.epochs=1",
                                "--cache-dir", cache, "--report-dir", tmp_path / "reports", "--json", "-q"))
    folder = Path(result["model"]["path"])
    folder.rename(tmp_path / "moved")  # removed by hand: the pointer dangles
    gone = invoke("predict", "latest", "good", "--cache-dir", cache, ok=False)
    assert gone.exit_code == 2 and "Traceback" not in gone.output
    assert len(gone.stderr.strip().splitlines()) == 1 and "no longer in the cache" in gone.stderr
    assert result["model"]["prefix"] in gone.stderr
    (tmp_path / "moved").rename(folder)
    invoke("cache", "clear", "--stage", "train", "--yes", "--cache-dir", cache)
    cleared = invoke("predict", "latest", "good", "--cache-dir", cache, ok=False)
    assert cleared.exit_code == 2 and "Traceback" not in cleared.output
    expected = f"error: no trained model in the cache ({cache / 'artifacts'}); run a pipeline first"
    assert cleared.stderr.strip() == expected


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("vectors")
    text = root / "news.txt"
    text.write_text("\n".join(Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()[:150]),
                    encoding="utf-8")
    args = ["run", "embeddings", "--corpus", text, "--set", "embed.vector_size=16", "--set", "embed.epochs=2",
            "--set", "embed.min_count=2", "--set", "runtime.threads=1", "--set", "evaluate.map_words=100",
            "--set", "evaluate.probes=[nonexistentword, government]", "--cache-dir", root / "cache",
            "--report-dir", root / "reports"]
    shown = invoke(*args)
    return {"shown": shown, "result": stdout_json(invoke(*args, "--json", "-q")), "cache": root / "cache"}


def test_run_embeddings_prints_a_query_on_a_word_its_vectors_know(embeddings):
    model = embeddings["result"]["model"]
    assert model["stage"] == "embed"
    assert model["command"] == (f"nlp-pipeline similar -v {model['prefix']} government "
                                f"--cache-dir {embeddings['cache']}")  # the first probe the vectors know
    out = _run_command(model["command"])
    assert "cosine" in out and len(out.splitlines()) > 5
    assert f"use it: {model['command']}" in embeddings["shown"].stdout


def test_word2vec_prints_one_words_per_second_figure_the_table_agrees_with(embeddings):
    err = embeddings["shown"].stderr
    assert err.count("words/s") == 1, err
    figure = int(re.search(r"([\d,]+) words/s", err).group(1).replace(",", ""))
    variant = embeddings["result"]["variants"][0]
    # the second run is a cache hit: the same artifact, the same recorded figure
    assert figure == variant["train"]["words_per_second"]
    assert f"{figure:,}" in embeddings["shown"].stdout  # the results table's words/s column


def test_the_embeddings_report_links_resolve_from_details_md_and_holds_no_cache_files(embeddings):
    result = embeddings["result"]
    sub = Path(result["report_dir"]) / result["variants"][0]["name"]
    details = (sub / "details.md").read_text(encoding="utf-8")
    assert "{variant}" not in details
    links = re.findall(r"\]\(([^)]+\.png)\)", details)
    assert sorted(links) == ["embedding_map.png", "loss.png"] and all((sub / f).is_file() for f in links)
    assert not [p.name for p in sub.iterdir() if p.name.startswith(".") or p.name == "manifest.json"]
    assert f"`{result['model']['prefix']}`" in details  # the vectors named by the same short key


def test_run_tagging_prints_a_tag_command_that_works(tmp_path, make_treebank):
    treebank = make_treebank(tmp_path / "treebank", n_train=40, n_dev=10)
    result = stdout_json(invoke("run", "tagging", "--corpus", treebank, "--set", "model.embedding_mode=random",
                                "--set", "model.hidden_size=8", "--set", "model.char_hidden=8", "--set",
                                "train.epochs=1", "--set", "runtime.threads=1", "--cache-dir", tmp_path / "cache",
                                "--report-dir", tmp_path / "reports", "--json", "-q"))
    model = result["model"]
    assert model["stage"] == "train_tagger"
    assert model["command"] == f'nlp-pipeline tag {model["prefix"]} "some text" --cache-dir {tmp_path / "cache"}'
    assert [line.split("\t")[0] for line in _run_command(model["command"]).splitlines()] == ["some", "text"]


def test_run_lm_prints_a_generate_command_that_works(tmp_path):
    text = tmp_path / "stories.txt"
    rng = random.Random(0)
    text.write_text("\n".join(f"the {rng.choice(['good', 'bad'])} {rng.choice(['cat', 'film'])} was here ."
                              for _ in range(200)) + "\n", encoding="utf-8")
    result = stdout_json(invoke("run", "lm", "--corpus", text, "--set", "lm.embedding_init=random",
                                "--set", "lm.embedding_dim=8", "--set", "lm.hidden_size=8", "--set", "lm.output=full",
                                "--set", "lm.min_count=1", "--set", "lm.batch_size=4", "--set", "lm.bptt=8",
                                "--set", "lm.evaluations=1", "--set", "generate.max_tokens=3", "--set",
                                "runtime.threads=1", "--set", "runtime.device=cpu", "--cache-dir", tmp_path / "cache",
                                "--report-dir", tmp_path / "reports", "--json", "-q"))
    model = result["model"]
    assert model["stage"] == "train_lm"
    assert model["command"] == (f"nlp-pipeline generate {model['prefix']} --prompt 'the movie was' "
                                f"--cache-dir {tmp_path / 'cache'}")  # the pipeline's first sample prompt
    assert _run_command(model["command"]).startswith("the movie was")
