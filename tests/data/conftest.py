"""Fixtures for the data-layer tests: an isolated, offline environment and tiny corpus builders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nlp_pipeline.data import resolve


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path_factory, monkeypatch):
    """Offline, a private user cache, no inherited data dir: tests never touch ~/.cache or the network."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("NLP_PIPELINE_OFFLINE", "1")
    monkeypatch.setenv("NLP_PIPELINE_CACHE_DIR", str(cache))
    monkeypatch.delenv("NLP_PIPELINE_DATA_DIR", raising=False)
    monkeypatch.delenv("NLP_PIPELINE_CORPORA_DIR", raising=False)
    return cache


@pytest.fixture
def no_shared_mirror(monkeypatch):
    """Hide ../shared/corpora so resolution-order tests see only what they create."""
    monkeypatch.setattr(resolve, "shared_roots", lambda: [])


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def write_bytes(tmp_path):
    """Write ``data`` to ``tmp_path/<relative>`` (folders created) and return the path."""

    def _write(relative: str, data: bytes) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return _write


TOY_TRAIN = b"sentence\tlabel\ngood film \t1\nbad film \t0\nfine , fine \t1\nawful \t0\n"
TOY_DEV = b"sentence\tlabel\nnice \t1\nmeh \t0\n"


@pytest.fixture
def toy_train() -> bytes:
    """The bytes of the toy corpus's train.tsv (as registered by `toy_registry`)."""
    return TOY_TRAIN


@pytest.fixture
def toy_registry(tmp_path, monkeypatch):
    """A registered SST-2-like corpus ``toy`` whose files live in ``<tmp>/data/toy/``.

    Returns ``(data_dir, write_spec)``; ``write_spec(**overrides)`` rewrites ``toy.yaml`` (e.g. with
    other file bytes) so tests can register exactly the corpus they need.
    """
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    data_dir = tmp_path / "data"
    (data_dir / "toy").mkdir(parents=True)
    monkeypatch.setenv("NLP_PIPELINE_CORPORA_DIR", str(corpora))

    def write_spec(files: dict[str, bytes] | None = None, url: str | None = None, extra: str = "") -> Path:
        files = files if files is not None else {"train.tsv": TOY_TRAIN, "dev.tsv": TOY_DEV}
        entries = []
        for name, data in files.items():
            (data_dir / "toy" / name).write_bytes(data)
            split = name.split(".")[0]
            entry = f"  - {{name: {name}, split: {split}, bytes: {len(data)}, sha256: {sha256_bytes(data)}"
            entry += f", url: '{url}'}}" if url else "}"
            entries.append(entry)
        splits = sorted({name.split(".")[0] for name in files})
        (corpora / "toy.yaml").write_text(
            "name: toy\ndescription: toy corpus\nkind: labelled\nformat: tsv\nlicense: none\ncitation: none\n"
            "homepage: https://example.org\nmirror: toy\nlabels: [negative, positive]\n"
            "label_map: {'0': negative, '1': positive}\n"
            f"splits: [{', '.join(splits)}]\nfiles:\n" + "\n".join(entries) + "\n"
            "reader: {text_column: sentence, label_column: label, split_on_last_tab: true}\n" + extra,
            encoding="utf-8",
        )
        return corpora / "toy.yaml"

    write_spec()
    return data_dir, write_spec
