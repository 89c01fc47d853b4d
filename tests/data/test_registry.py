"""corpora/*.yaml: every definition loads, is strict about typos, and sst2.yaml documents every key."""

from __future__ import annotations

import re

import pytest

from nlp_pipeline.data import list_corpora, load_spec
from nlp_pipeline.data.registry import corpora_dir
from nlp_pipeline.errors import ConfigError

EXPECTED = {"imdb", "imdb_unsup", "lee_background", "mr", "pang_lee_polarity", "sst2", "ud_en_ewt"}


def test_all_corpora_are_registered_and_load():
    assert set(list_corpora()) >= EXPECTED
    for name in list_corpora():
        spec = load_spec(name)
        assert spec.name == name
        assert spec.files and all(len(f.sha256) == 64 and f.bytes > 0 for f in spec.files)
        assert spec.license and spec.citation and spec.homepage.startswith("https://")


@pytest.mark.parametrize(
    "name, splits, labels, mirror",
    [
        ("sst2", ["train", "dev"], ["negative", "positive"], "sst2"),
        ("imdb", ["train", "test"], ["negative", "positive"], "imdb"),
        ("mr", [], ["negative", "positive"], "mr"),
        ("ud_en_ewt", ["train", "dev"], [], "ud_en_ewt"),
        ("imdb_unsup", [], [], "imdb"),
    ],
)
def test_splits_labels_and_mirror_folders(name, splits, labels, mirror):
    spec = load_spec(name)
    assert (spec.splits, spec.labels, spec.mirror) == (splits, labels, mirror)


def test_label_maps_and_encodings():
    assert load_spec("sst2").map_label("0") == "negative"
    assert load_spec("sst2").map_label("2") is None
    assert load_spec("imdb").map_label("pos") == "positive"
    assert {f.name: f.label for f in load_spec("mr").files} == {
        "rt-polarity.neg": "negative",
        "rt-polarity.pos": "positive",
    }
    assert load_spec("mr").encoding == "cp1252"


def test_every_mirror_file_has_a_verified_download_or_ships_with_gensim():
    for name in list_corpora():
        spec = load_spec(name)
        for f in spec.files:
            assert spec.source == "gensim" or (f.download and f.download.url.startswith("https://")), (
                name,
                f,
            )


def test_imdb_downloads_the_official_tarball_with_its_own_checksum():
    dl = load_spec("imdb").files[0].download
    assert dl.name == "aclImdb_v1.tar.gz" and dl.bytes == 84125825
    assert dl.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert load_spec("imdb_unsup").files[0].download == dl


def test_unknown_corpus_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown corpus 'sst3'") as err:
        load_spec("sst3")
    assert "sst2" in str(err.value) and "imdb" in str(err.value)


def test_every_key_of_sst2_yaml_is_commented():
    lines = (corpora_dir() / "sst2.yaml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*(- )?[a-z_0-9]+:", line):
            commented = "#" in line or lines[i - 1].lstrip().startswith("#")
            assert commented, f"sst2.yaml line {i + 1} has no comment: {line}"


def _spec_file(tmp_path, text):
    path = tmp_path / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = (
    "name: custom\ndescription: d\nkind: labelled\nformat: tsv\nlicense: l\ncitation: c\n"
    "homepage: https://example.org\nmirror: custom\nlabels: [a, b]\n"
)
FILE = "files:\n  - {name: x.tsv, bytes: 1, sha256: " + "a" * 64 + "}\n"


def test_spec_from_a_yaml_path(tmp_path):
    spec = load_spec(_spec_file(tmp_path, BASE + FILE))
    assert spec.name == "custom" and spec.files[0].download is None


@pytest.mark.parametrize(
    "text, message",
    [
        (BASE + FILE + "sha265: oops\n", "unknown key sha265"),
        (BASE + "files:\n  - {name: x.tsv, bytes: 1, sha256: abc}\n", "64 lower-case hex"),
        (BASE + FILE + "reader: {sep: x}\n", "unknown key reader.sep"),
        (BASE.replace("format: tsv", "format: parquet") + FILE, "format: 'parquet' is not one of"),
        (BASE + FILE + "label_map: {'1': c}\n", "not in labels"),
        (BASE + FILE + "encoding: klingon\n", "unknown codec"),
        (BASE + "files: [\n", "invalid YAML"),
    ],
)
def test_invalid_definitions_are_rejected_with_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_spec(_spec_file(tmp_path, text))
    assert "custom.yaml" in str(err.value) and "\n" not in str(err.value)
