"""`nlp-pipeline run embeddings` where a user meets it: their own text folder, a report to look at, and
the vectors (with their phrases) feeding a classifier and a tagger."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import invoke, stdout_json, tagger_on_vectors
from gensim.test.utils import datapath

from nlp_pipeline.inference.classifier import Predictor
from nlp_pipeline.text.phrases import PHRASES_FILE, load_phrases

SMALL = ["--set", "embed.vector_size=16", "--set", "embed.epochs=2", "--set", "embed.min_count=2",
         "--set", "runtime.threads=1", "--set", "evaluate.map_words=150",
         "--set", "evaluate.probes=[australia, government, police, nonexistentword]"]


@pytest.fixture(scope="module")
def user_text(tmp_path_factory) -> Path:
    """A folder as users have them: plain text, and JSON lines gzipped, with the text in a 'body' field."""
    folder = tmp_path_factory.mktemp("text") / "my_text"
    folder.mkdir()
    lines = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
    (folder / "part1.txt").write_text("\n".join(lines[:200]) + "\n", encoding="utf-8")
    records = "".join(json.dumps({"id": i, "title": f"review {i}", "body": t}) + "\n"
                      for i, t in enumerate(lines[200:]))
    (folder / "part2.jsonl.gz").write_bytes(gzip.compress(records.encode()))
    return folder


@pytest.fixture(scope="module")
def embeddings_run(user_text, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("run")
    args = ["run", "embeddings", "--corpus", user_text, "--set", "data.text_field=body",
            "--set", "phrases.passes=1", "--set", "phrases.min_count=3", *SMALL,
            "--cache-dir", root / "cache", "--report-dir", root / "reports"]
    shown = invoke(*args)
    again = stdout_json(invoke(*args, "--json", "-q"))
    return {"root": root, "args": args, "shown": shown, "result": again, "cache": root / "cache"}


def test_run_embeddings_on_a_user_folder_reads_every_file_and_reports(embeddings_run, user_text):
    shown, result = embeddings_run["shown"], embeddings_run["result"]
    variant = result["variants"][0]
    runs = {r["stage"]: r for r in variant["stage_runs"]}
    assert list(runs) == ["pretrain_text", "phrases", "embed", "evaluate_vectors"] and all(
        r["hit"] for r in runs.values())  # the second run is all cache
    pretrain = json.loads((Path(runs["pretrain_text"]["path"]) / "manifest.json").read_text())["metadata"]
    counted = sum(s["documents"] + s["dropped_repeats"] + s["dropped_evaluation_duplicates"]
                  for s in pretrain["sources"].values())
    assert counted == 300  # 200 plain lines + 100 JSON records: every document read, repeats counted
    assert "WS353 ρ" in shown.stdout and "words/s" in shown.stdout and "skip-gram" in shown.stdout
    report = Path(result["report_dir"]) / variant["name"]
    for name in ("loss.png", "embedding_map.png"):
        assert (report / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    results_md = (Path(result["report_dir"]) / "results.md").read_text()
    assert "| wordsim353 |" in results_md and "Nearest neighbours" in results_md
    assert f"({variant['name']}/embedding_map.png)" in results_md
    assert "Not in the vocabulary: nonexistentword" in results_md
    neighbours = json.loads((report / "neighbours.json").read_text())
    assert len(neighbours["neighbours"]["australia"]) == 8 and "nonexistentword" in neighbours["missing"]
    assert "Phrases (" in results_md
    assert (Path(runs["embed"]["path"]) / PHRASES_FILE).is_file()  # the vectors carry their phrases


def test_a_changed_read_setting_rereads_the_text(embeddings_run, user_text):
    result = stdout_json(invoke(*embeddings_run["args"], "--set", "data.text_field=title", "--json", "-q"))
    runs = {r["stage"]: r for r in result["variants"][0]["stage_runs"]}
    assert not any(r["hit"] for r in runs.values())  # another field, other text: every stage rebuilt
    corpus = (Path(runs["pretrain_text"]["path"]) / "corpus.txt").read_text().splitlines()
    assert corpus[-100:] == [f"review {i}" for i in range(100)]  # the records' titles now, after the text file


def test_a_grid_over_engines_and_architectures_is_one_leaderboard(user_text, tmp_path):
    result = stdout_json(invoke("run", "embeddings", "--corpus", user_text / "part1.txt", *SMALL,
                                "--grid", "embed.sg=0,1", "--grid", "embed.engine=gensim,torch", "--cache-dir",
                                tmp_path / "cache", "--report-dir", tmp_path / "reports", "--json", "-q"))
    names = sorted(v["name"] for v in result["variants"])
    assert names == ["gensim-cbow", "gensim-skipgram", "torch-cbow", "torch-skipgram"]
    pretrain_keys = {r["key"] for v in result["variants"] for r in v["stage_runs"] if r["stage"] == "pretrain_text"}
    assert len(pretrain_keys) == 1  # the text is tokenized once for all four
    table = (Path(result["report_dir"]) / "results.md").read_text()
    assert table.count("| gensim ") == 2 and table.count("| torch ") == 2 and "words/s" in table


def test_a_classifier_on_phrased_vectors_sees_the_same_phrases_when_it_predicts(embeddings_run, tmp_path):
    embed = next(r for r in embeddings_run["result"]["variants"][0]["stage_runs"] if r["stage"] == "embed")
    result = stdout_json(invoke("run", "sentiment", "--corpus", "pang_lee_polarity",
                                "--set", f"embed.vectors={embed['key'][:10]}", "--set", "model.hidden_size=8",
                                "--set", "train.epochs=1", "--set", "runtime.threads=1",
                                "--cache-dir", embeddings_run["cache"], "--report-dir", tmp_path / "reports",
                                "--json", "-q"))
    runs = {r["stage"]: r for r in result["variants"][0]["stage_runs"]}
    model_dir = Path(runs["train"]["path"])
    phrases = load_phrases(model_dir)
    assert phrases is not None and phrases.layers == load_phrases(embed["path"]).layers
    phrase = next(iter(phrases.layers[0]["phrasegrams"]))
    words = phrase.split("_")
    predictor = Predictor.load(model_dir, device="cpu")
    assert phrase in predictor.tokenize([" ".join(["well", *words, "indeed"])])[0]  # predict joins it too
    tokens = json.loads((model_dir / "vocab.json").read_text())["itos"]
    assert any(t in phrases.layers[0]["phrasegrams"] for t in tokens)  # training saw the phrased text


def test_a_tagger_on_vectors_from_run_embeddings(embeddings_run, make_treebank, tmp_path):
    embed = next(r for r in embeddings_run["result"]["variants"][0]["stage_runs"] if r["stage"] == "embed")
    treebank = make_treebank(tmp_path / "tb", n_train=30, n_dev=10)
    result, runs = tagger_on_vectors(embed["path"], treebank, embeddings_run["cache"], tmp_path / "reports")
    assert (Path(runs["import_vectors"]["path"]) / "vectors.bin").read_bytes() == (
        Path(embed["path"]) / "vectors.bin").read_bytes()
    assert "a tagger tags single words, so their phrases are not applied" in result.stderr


def test_the_embed_artifact_can_be_moved_as_a_folder(embeddings_run, tmp_path):
    embed = next(r for r in embeddings_run["result"]["variants"][0]["stage_runs"] if r["stage"] == "embed")
    copy = shutil.copytree(embed["path"], tmp_path / "my_vectors")
    out = invoke("similar", "australia", "--vectors", copy, "--json")
    assert json.loads(out.stdout)


def test_embed_vectors_embeddings_names_the_last_run_embeddings(embeddings_run, tmp_path):
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    found = resolve_vectors("embeddings", embeddings_run["cache"])
    manifest = json.loads((found / "manifest.json").read_text())
    assert manifest["runtime"]["pipeline"] == "embeddings"
