"""Resolution order, checksum verification (and its cache), offline and download behaviour."""

from __future__ import annotations

import hashlib
import json

import pytest

import nlp_pipeline.engine.fingerprint as fingerprint_mod
from nlp_pipeline.data import load_spec, resolve_file
from nlp_pipeline.data import resolve as resolve_mod
from nlp_pipeline.data.resolve import corpus_cache_dir, gensim_datapath, verify_file
from nlp_pipeline.errors import CorpusNotFoundError, DataError


def test_data_dir_beats_the_user_cache(toy_train, toy_registry, no_shared_mirror):
    data_dir, _ = toy_registry
    spec = load_spec("toy")
    cached = corpus_cache_dir(spec) / "train.tsv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(toy_train)
    assert resolve_file(spec, "train.tsv", data_dir) == (data_dir / "toy" / "train.tsv").resolve()
    assert resolve_file(spec, "train.tsv") == cached  # no data_dir: the cache is next


def test_env_data_dir_is_used_when_no_argument(toy_registry, no_shared_mirror, monkeypatch):
    data_dir, _ = toy_registry
    monkeypatch.setenv("NLP_PIPELINE_DATA_DIR", str(data_dir))
    assert resolve_file(load_spec("toy"), "dev.tsv").parent.name == "toy"


def test_shared_mirror_is_searched_after_data_dir(toy_registry, tmp_path, monkeypatch):
    data_dir, _ = toy_registry
    monkeypatch.setattr(resolve_mod, "shared_roots", lambda: [data_dir])
    assert resolve_file(load_spec("toy"), "train.tsv", tmp_path / "empty") == data_dir / "toy" / "train.tsv"


def test_offline_missing_file_says_where_to_put_it(toy_registry, no_shared_mirror, tmp_path):
    _, write_spec = toy_registry
    write_spec(url="https://example.org/train.tsv")
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(CorpusNotFoundError) as err:
        resolve_file(load_spec("toy"), "train.tsv", elsewhere)
    message = str(err.value)
    assert message.startswith("toy: train.tsv not found")
    assert f"put it in {elsewhere / 'toy' / 'train.tsv'}" in message
    assert "NLP_PIPELINE_DATA_DIR" in message and "NLP_PIPELINE_OFFLINE" in message and "tried:" in message
    assert "\n" not in message


def test_missing_file_without_any_download_says_so(toy_registry, no_shared_mirror, tmp_path):
    with pytest.raises(CorpusNotFoundError, match="no verified download is defined"):
        resolve_file(load_spec("toy"), "train.tsv", tmp_path / "elsewhere")


def test_sha256_mismatch_in_the_mirror(toy_train, toy_registry, no_shared_mirror):
    data_dir, _ = toy_registry
    (data_dir / "toy" / "train.tsv").write_bytes(toy_train.replace(b"good", b"goof"))  # same size
    with pytest.raises(DataError, match="sha256 mismatch") as err:
        resolve_file(load_spec("toy"), "train.tsv", data_dir)
    assert "train.tsv" in str(err.value)


def test_size_mismatch_in_the_mirror(toy_train, toy_registry, no_shared_mirror):
    data_dir, _ = toy_registry
    (data_dir / "toy" / "train.tsv").write_bytes(toy_train + b"extra \t1\n")
    with pytest.raises(DataError, match=f"expected {len(toy_train)} "):
        resolve_file(load_spec("toy"), "train.tsv", data_dir)


def test_verification_is_cached_by_path_size_and_mtime(
    toy_train, toy_registry, no_shared_mirror, monkeypatch, isolated_data_env
):
    data_dir, _ = toy_registry
    spec = load_spec("toy")
    path = resolve_file(spec, "train.tsv", data_dir)
    db = json.loads((isolated_data_env / "corpora" / "verified.json").read_text())
    assert db[str(path)][-1] == spec.file("train.tsv").sha256  # after size, mtime, ctime and inode

    def boom(_):
        raise AssertionError("re-hashed a verified file")

    monkeypatch.setattr(fingerprint_mod, "sha256_file", boom)
    assert resolve_file(spec, "train.tsv", data_dir) == path
    path.write_bytes(toy_train.replace(b"good", b"goof"))  # new mtime: must re-hash
    with pytest.raises(AssertionError, match="re-hashed"):
        resolve_file(spec, "train.tsv", data_dir)


def test_verified_download_into_the_cache(toy_train, toy_registry, no_shared_mirror, tmp_path, monkeypatch):
    _, write_spec = toy_registry
    origin = tmp_path / "origin.tsv"
    origin.write_bytes(toy_train)
    write_spec({"train.tsv": toy_train}, url=origin.as_uri())
    monkeypatch.delenv("NLP_PIPELINE_OFFLINE")
    spec = load_spec("toy")
    path = resolve_file(spec, "train.tsv")  # data_dir not given: not in mirror or cache -> download
    assert path == corpus_cache_dir(spec) / "train.tsv" and path.read_bytes() == toy_train
    assert [p.name for p in path.parent.iterdir()] == ["train.tsv"]


def test_download_with_wrong_checksum_keeps_nothing(
    toy_train, toy_registry, no_shared_mirror, tmp_path, monkeypatch
):
    _, write_spec = toy_registry
    origin = tmp_path / "origin.tsv"
    origin.write_bytes(toy_train.replace(b"good", b"goof"))
    write_spec({"train.tsv": toy_train}, url=origin.as_uri())
    monkeypatch.delenv("NLP_PIPELINE_OFFLINE")
    spec = load_spec("toy")
    with pytest.raises(DataError, match="does not match its definition"):
        resolve_file(spec, "train.tsv")
    assert not any(corpus_cache_dir(spec).iterdir())


def test_network_failure_is_a_one_line_corpus_not_found(
    toy_train, toy_registry, no_shared_mirror, monkeypatch
):
    _, write_spec = toy_registry
    write_spec({"train.tsv": toy_train}, url="http://127.0.0.1:9/train.tsv")  # discard port: refused
    monkeypatch.delenv("NLP_PIPELINE_OFFLINE")
    with pytest.raises(CorpusNotFoundError, match="downloading http://127.0.0.1:9/train.tsv failed") as err:
        resolve_file(load_spec("toy"), "train.tsv")
    assert "\n" not in str(err.value)


def test_alternative_download_in_cache_stands_in_for_the_mirror_file(no_shared_mirror, tmp_path):
    official = b"official archive bytes"
    spec_path = tmp_path / "alt.yaml"
    spec_path.write_text(
        "name: alt\ndescription: d\nkind: unlabelled\nformat: tar_members\nlicense: l\ncitation: c\n"
        "homepage: https://example.org\nmirror: alt\nreader: {member_pattern: x}\nfiles:\n"
        f"  - name: mirror.tar.gz\n    bytes: 5\n    sha256: {'a' * 64}\n"
        "    download: {name: official.tar.gz, url: 'https://example.org/official.tar.gz', "
        f"bytes: {len(official)}, sha256: {hashlib.sha256(official).hexdigest()}}}\n",
        encoding="utf-8",
    )
    spec = load_spec(spec_path)
    with pytest.raises(
        CorpusNotFoundError, match="or official.tar.gz from https://example.org/official.tar.gz in "
    ):
        resolve_file(spec, "mirror.tar.gz")
    target = corpus_cache_dir(spec) / "official.tar.gz"
    target.parent.mkdir(parents=True)
    target.write_bytes(official)
    assert resolve_file(spec, "mirror.tar.gz") == target


def test_gensim_samples_resolve_without_download_or_import():
    path = resolve_file(load_spec("pang_lee_polarity"), "pang_lee_polarity.cor")
    assert path.parts[-4:] == ("gensim", "test", "test_data", "pang_lee_polarity.cor")


@pytest.mark.slow  # importing gensim takes over a second
def test_gensim_datapath_matches_gensims_own():
    from gensim.test.utils import datapath

    assert str(gensim_datapath("pang_lee_polarity.cor")) == datapath("pang_lee_polarity.cor")


def test_verify_file_rejects_other_bytes(write_bytes):
    path = write_bytes("f.txt", b"abc")
    verify_file(path, 3, hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(DataError, match="sha256 mismatch"):
        verify_file(path, 3, hashlib.sha256(b"abd").hexdigest())
