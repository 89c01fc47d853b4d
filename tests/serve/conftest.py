"""What the serve tests share: a tiny classifier, tagger, word vectors and language model, trained once per
run through the CLI (about 8 s; once for all the xdist workers), loaded once in each, and apps built over them.

The classifier and its vectors come from `run sentiment` on gensim's bundled pang_lee_polarity snippets (the
vectors on lee_background plus the snippets' training split); the tagger (a toy treebank) and the language
model (lee_background) import those vectors, so no second word2vec trains.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from serve_helpers import cli

with warnings.catch_warnings():  # starlette's notice that its test client will move from httpx to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TINY = ["--set", "runtime.threads=1", "--set", "runtime.device=cpu"]
SENTIMENT = ["--corpus", "pang_lee_polarity", "--set", "data.text=lee_background,pang_lee_polarity:train",
             "--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=1",
             "--set", "model.hidden_size=8", "--set", "train.epochs=1", "--set", "train.batch_size=16"]
TAGGING = ["--set", "model.hidden_size=8", "--set", "model.char_hidden=8", "--set", "train.epochs=1"]
LM = ["--corpus", "lee_background", "--set", "lm.hidden_size=16", "--set", "lm.max_tokens=5000",
      "--set", "lm.min_count=1", "--set", "lm.bptt=16", "--set", "lm.batch_size=8", "--set", "lm.evaluations=1",
      "--set", "generate.max_tokens=5", "--set", "generate.prompts=[the]"]


def _keys(result) -> dict[str, str]:
    """Each stage's artifact key from a `run --json` result."""
    out = json.loads(result.stdout[result.stdout.index("{"):])
    return {r["stage"]: r["key"] for r in out["variants"][0]["stage_runs"]}


def _train(root: Path, make_treebank) -> dict[str, str]:
    cache = root / "cache"
    where = ["--cache-dir", cache, "--report-dir", root / "reports", "--json", "-q"]
    sentiment = _keys(cli("run", "sentiment", *SENTIMENT, *TINY, *where))
    vectors = sentiment["embed"]
    treebank = make_treebank(root / "treebank", n_train=60, n_dev=20,
                             names=("en_toy-ud-train.conllu", "en_toy-ud-dev.conllu"))
    tagging = _keys(cli("run", "tagging", "--corpus", treebank, "--set", f"embed.vectors={vectors}", *TAGGING, *TINY,
                        *where))
    lm = _keys(cli("run", "lm", *LM, "--set", f"embed.vectors={vectors}", *TINY, *where))
    return {"root": str(root), "classifier": sentiment["train"], "tagger": tagging["train_tagger"], "vectors": vectors,
            "lm": lm["train_lm"]}


@pytest.fixture(scope="session")
def trained(once_per_run, make_treebank) -> SimpleNamespace:
    """The four artifacts, trained once for the whole run (every xdist worker reads the same cache)."""
    keys = once_per_run("serve", lambda root: _train(root, make_treebank))
    root = Path(keys["root"])
    cache = root / "cache"
    artifacts = cache / "artifacts"
    return SimpleNamespace(root=root, cache=cache, classifier=keys["classifier"], tagger=keys["tagger"],
                           vectors=keys["vectors"], lm=keys["lm"],
                           classifier_path=artifacts / "train" / keys["classifier"],
                           vectors_path=artifacts / "embed" / keys["vectors"])


@pytest.fixture(scope="session")
def models(trained):
    """The four artifacts, loaded once for every app of the session (as `serve` loads them)."""
    from nlp_pipeline.serve import load_models

    return load_models(trained.classifier[:12], trained.tagger[:12], trained.vectors[:12], trained.lm[:12],
                       cache_dir=trained.cache, device="cpu")


@pytest.fixture(scope="session")
def make_client(models):
    """``make_client(**settings)``: a started TestClient of an app over the session's models; closed at the end."""
    from nlp_pipeline.serve import create_app

    opened: list[TestClient] = []

    def make(api_key: str | None = None, models_=None, **settings) -> TestClient:
        client = TestClient(create_app(models=models_ or models, settings=settings, api_key=api_key))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def client(make_client) -> TestClient:
    """An app with the default settings."""
    return make_client()


@pytest.fixture(scope="session")
def lee_lines() -> list[str]:
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
