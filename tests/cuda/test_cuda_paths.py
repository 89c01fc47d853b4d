"""Every CUDA path, through the CLI: word2vec (both architectures), classifier and tagger training and
prediction, `process`, with `cuda`, `cuda:0` and `auto` alike. Skipped where there is no CUDA device;
`make gpu-check` runs this module on a GPU machine (`pytest -m cuda`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from nlp_pipeline.cli import main

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

VECTORS = ["--set", "data.text=lee_background", "--set", "embed.min_count=1", "--set", "embed.vector_size=32",
           "--set", "embed.epochs=2", "--set", "embed.engine=torch", "--set", "runtime.threads=1"]
SENTIMENT = ["run", "sentiment", "--corpus", "pang_lee_polarity", *VECTORS, "--set", "model.hidden_size=16",
             "--set", "train.epochs=2"]


def _invoke(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert result.exit_code == 0, result.output
    return result


def _json(result) -> dict:
    return json.loads(result.stdout[result.stdout.index("{"):])


def _runs(result) -> dict:
    return {r["stage"]: r for r in _json(result)["variants"][0]["stage_runs"]}


def _manifest(run: dict) -> dict:
    return json.loads((Path(run["path"]) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuda")
    return {"cache": root / "cache", "reports": root / "reports", "root": root}


@pytest.mark.parametrize("sg", [1, 0])
def test_torch_word2vec_trains_on_cuda_and_is_marked_nondeterministic(ws, sg):
    result = _invoke("run", "embeddings", "--corpus", "lee_background", "--set", f"embed.sg={sg}",
                     "--set", "embed.engine=torch", "--set", "embed.vector_size=32", "--set", "embed.min_count=2",
                     "--set", "evaluate.map_words=100", "--device", "cuda", "--cache-dir", ws["cache"],
                     "--report-dir", ws["reports"], "--json", "-q")
    embed = _manifest(_runs(result)["embed"])
    assert embed["runtime"]["device"] == "cuda:0" and embed["metadata"]["device"].startswith("cuda")
    assert "CUDA" in embed["nondeterministic_because"]
    vectors = np.load(Path(_runs(result)["embed"]["path"]) / "vectors.npy")
    assert np.isfinite(vectors).all() and np.abs(vectors).max() > 0
    losses = embed["metadata"]["epoch_loss"]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "auto"])
def test_sentiment_trains_and_predicts_on_every_spelling_of_the_gpu(ws, device):
    runs = _runs(_invoke(*SENTIMENT, "--device", device, "--cache-dir", ws["cache"], "--report-dir", ws["reports"],
                         "--json", "-q"))
    train = _manifest(runs["train"])
    assert train["runtime"]["device"] == "cuda:0"  # every spelling resolves to the same device, the same key
    texts = ["a gorgeous, witty film", "two hours I will never get back"]
    def predict(on: str) -> list[dict]:
        out = _invoke("predict", runs["train"]["path"], *texts, "--device", on, "--json").stdout
        return [json.loads(line) for line in out.splitlines()]

    on_gpu, on_cpu = predict(device), predict("cpu")
    assert [r["label"] for r in on_gpu] == [r["label"] for r in on_cpu]
    for a, b in zip(on_gpu, on_cpu, strict=True):
        for label, p in a["probabilities"].items():
            assert abs(p - b["probabilities"][label]) < 1e-4


def test_tagger_trains_and_tags_on_cuda(ws, make_treebank):
    treebank = make_treebank(ws["root"] / "tb", n_train=60, n_dev=20)
    runs = _runs(_invoke("run", "tagging", "--corpus", treebank, *VECTORS, "--set", "model.hidden_size=16",
                         "--set", "model.char_hidden=8", "--set", "train.epochs=2", "--device", "cuda",
                         "--cache-dir", ws["cache"], "--report-dir", ws["reports"], "--json", "-q"))
    assert _manifest(runs["train_tagger"])["runtime"]["device"] == "cuda:0"
    model = runs["train_tagger"]["path"]
    on_gpu = _invoke("tag", model, "the small cat sees a dog", "--device", "cuda:0", "--format", "json").stdout
    on_cpu = _invoke("tag", model, "the small cat sees a dog", "--device", "cpu", "--format", "json").stdout
    assert on_gpu == on_cpu


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_process_runs_its_workers_on_cuda(ws, tmp_path, device):
    runs = _runs(_invoke(*SENTIMENT, "--cache-dir", ws["cache"], "--report-dir", ws["reports"], "--json", "-q"))
    texts = tmp_path / "texts.txt"
    texts.write_text("".join(f"review number {i}: a fine film\n" for i in range(300)))
    gpu = _invoke("process", runs["train"]["path"], texts, "-o", tmp_path / "g",
                  "--workers", "2", "--device", device, "-q")
    cpu = _invoke("process", runs["train"]["path"], texts, "-o", tmp_path / "c",
                  "--workers", "1", "--device", "cpu", "-q")
    assert gpu.exit_code == cpu.exit_code == 0

    def labels(folder: Path) -> list[str]:
        rows = [json.loads(line) for f in sorted(folder.glob("*.jsonl")) if f.name != "errors.jsonl"
                for line in f.read_text().splitlines()]
        return [r["label"] for r in sorted(rows, key=lambda r: r["id"])]

    assert labels(tmp_path / "g") == labels(tmp_path / "c") and len(labels(tmp_path / "g")) == 300


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_language_model_trains_generates_and_scores_on_cuda(ws, tmp_path, device):
    result = _invoke("run", "lm", "--corpus", "lee_background", "--set", "embed.vector_size=32", "--set",
                     "embed.min_count=2", "--set", "lm.hidden_size=64", "--set", "lm.epochs=1", "--set",
                     "generate.max_tokens=5", "--device", device, "--cache-dir", ws["cache"], "--report-dir",
                     ws["reports"], "--json", "-q")
    train = _manifest(_runs(result)["train_lm"])
    assert train["runtime"]["device"] == "cuda:0" and "CUDA" in train["nondeterministic_because"]
    assert np.isfinite(train["metadata"]["heldout_ppl"])
    model = _runs(result)["train_lm"]["path"]
    out = json.loads(_invoke("generate", model, "--prompt", "the government", "--seed", "1", "--device", "cuda:0",
                             "--json").stdout)
    assert out["text"].startswith("the government")
    text = tmp_path / "t.txt"
    text.write_text("the government said on monday .\n")
    scored = json.loads(_invoke("perplexity", model, "--file", text, "--device", device, "--json").stdout)
    assert scored["tokens"] == 7 and np.isfinite(scored["perplexity"])


def test_a_classifier_starts_from_a_language_model_fine_tuned_on_cuda(ws):
    _invoke("run", "lm", "--corpus", "lee_background", "--set", "embed.vector_size=32", "--set", "embed.min_count=2",
            "--set", "lm.hidden_size=32", "--set", "lm.epochs=1", "--set", "generate.max_tokens=5", "--device", "cuda",
            "--cache-dir", ws["cache"], "--report-dir", ws["reports"], "-q")
    result = _invoke(*SENTIMENT, "--set", "model.init=lm", "--set", "model.encoder=lstm", "--set",
                     "model.lm_finetune_tokens=2000", "--set", "train.unfreeze=gradual", "--set",
                     "train.lr_layer_decay=2.6", "--device", "cuda", "--cache-dir", ws["cache"], "--report-dir",
                     ws["reports"], "--json", "-q")
    runs = _runs(result)
    assert _manifest(runs["finetune_lm"])["runtime"]["device"] == "cuda:0"
    train = _manifest(runs["train"])
    assert train["runtime"]["device"] == "cuda:0" and train["metadata"]["layers_from_language_models"] == 1
