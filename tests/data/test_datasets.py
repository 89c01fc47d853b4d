"""load_labelled / iter_texts / source_files / corpus_files on registered toy corpora and user paths."""

from __future__ import annotations

import gzip
import io
import tarfile
import types
from collections import Counter

import pytest

from nlp_pipeline.data import (
    Example,
    carve,
    corpus_files,
    iter_texts,
    load_labelled,
    load_tagged,
    source_files,
    tagged_split_files,
)
from nlp_pipeline.errors import ConfigError, DataError


def _balanced_tsv(n_per_label: int, labels=("neg", "pos")) -> bytes:
    rows = [f"review {label} {i}\t{label}" for i in range(n_per_label) for label in labels]
    return ("text\tlabel\n" + "\n".join(rows) + "\n").encode()


# -- gensim's bundled sample ---------------------------------------------------------------------------


def test_pang_lee_polarity_loads_200_examples_with_2_labels():
    ds = load_labelled("pang_lee_polarity")
    assert ds.labels == ["negative", "positive"]
    assert sum(ds.info["sizes"].values()) == 200
    assert ds.info["sizes"] == {"train": 160, "dev": 20, "test": 20}
    assert ds.info["counts"]["dev"] == {"negative": 10, "positive": 10}
    assert ds.info["splits"]["test"] == "carved from all"
    assert "clichés" in " ".join(e.text for s in ds.splits.values() for e in s)  # cp1252 decoded


def test_lee_background_streams_300_documents():
    texts = iter_texts("lee_background")
    assert isinstance(texts, types.GeneratorType)
    assert sum(1 for _ in texts) == 300


# -- registered corpora with official splits -------------------------------------------------------------


def test_registered_corpus_uses_official_splits(toy_registry):
    data_dir, _ = toy_registry
    ds = load_labelled("toy", data_dir)
    assert ds.labels == ["negative", "positive"]
    assert [(e.text, e.label) for e in ds.splits["dev"]] == [("nice", "positive"), ("meh", "negative")]
    assert ds.info["splits"] == {"train": "official", "dev": "official"} and ds.info["carved"] == {}
    assert ds.info["origin"] == "registry" and len(ds.info["files"]) == 2


def test_missing_dev_is_carved_from_train(toy_registry):
    data_dir, write_spec = toy_registry
    rows = (
        _balanced_tsv(10)
        .replace(b"\tneg", b"\t0")
        .replace(b"\tpos", b"\t1")
        .replace(b"text\t", b"sentence\t")
    )
    write_spec({"train.tsv": rows})
    ds = load_labelled("toy", data_dir, dev_fraction=0.2)
    assert ds.info["sizes"] == {"train": 16, "dev": 4}
    assert ds.info["counts"]["dev"] == {"negative": 2, "positive": 2}
    assert ds.info["carved"] == {"dev": {"from": "train", "fraction": 0.2, "seed": 13}}
    assert ds.info["splits"]["train"] == "official minus carved dev"


def test_unknown_label_in_a_registered_corpus(toy_registry):
    data_dir, write_spec = toy_registry
    write_spec(
        {"train.tsv": b"sentence\tlabel\ngood \t1\nodd \t3\n", "dev.tsv": b"sentence\tlabel\nok \t0\n"}
    )
    with pytest.raises(DataError, match="unknown label '3'") as err:
        load_labelled("toy", data_dir)
    assert "train.tsv:3:" in str(err.value)


def test_unlabelled_corpus_is_not_labelled():
    with pytest.raises(ConfigError, match="not labelled; labelled corpora: .*sst2"):
        load_labelled("imdb_unsup")


def test_unknown_corpus_name_lists_registered_ones():
    with pytest.raises(ConfigError, match="unknown corpus 'sst5'.*sst2"):
        load_labelled("sst5")


@pytest.mark.parametrize("dev, test", [(-0.1, 0.1), (1.0, 0.0), (0.6, 0.5)])
def test_bad_fractions(dev, test):
    with pytest.raises(ConfigError, match="fraction"):
        load_labelled("pang_lee_polarity", dev_fraction=dev, test_fraction=test)


# -- user data ---------------------------------------------------------------------------------------------


def test_single_user_file_carves_dev_and_test(write_bytes):
    path = write_bytes("mine.tsv", _balanced_tsv(20))
    ds = load_labelled(str(path))
    assert ds.labels == ["neg", "pos"]  # sorted label names
    assert ds.info["sizes"] == {"train": 32, "dev": 4, "test": 4}
    assert ds.info["origin"] == "path" and ds.info["files"] == [str(path)]
    assert ds.info["carved"]["test"] == {"from": "all", "fraction": 0.1, "seed": 13}


def test_user_file_without_test(write_bytes):
    path = write_bytes("mine.csv", _balanced_tsv(20).replace(b"\t", b","))
    ds = load_labelled(path, test_fraction=0)
    assert ds.info["sizes"] == {"train": 36, "dev": 4}


def test_user_folder_with_train_dev_and_test(write_bytes, tmp_path):
    write_bytes("corpus/train.tsv", _balanced_tsv(3))
    write_bytes("corpus/valid.ft", b"__label__pos ok\n__label__neg no\n")  # dev alias, fastText by content
    write_bytes("corpus/test.csv.gz", gzip.compress(b"sentence,sentiment\nyes,pos\n"))
    ds = load_labelled(tmp_path / "corpus")
    assert ds.info["sizes"] == {"train": 6, "dev": 2, "test": 1}
    assert ds.info["carved"] == {} and len(ds.info["files"]) == 3
    assert len(corpus_files(tmp_path / "corpus")) == 3


def test_user_folder_with_train_only_carves_dev(write_bytes, tmp_path):
    write_bytes("corpus/train.tsv", _balanced_tsv(10))
    ds = load_labelled(tmp_path / "corpus")
    assert ds.info["sizes"] == {"train": 18, "dev": 2}


def test_user_folder_without_train(write_bytes, tmp_path):
    write_bytes("corpus/data.tsv", _balanced_tsv(3))
    with pytest.raises(DataError, match="no train.* file .files found: data.tsv") as err:
        load_labelled(tmp_path / "corpus")
    assert "corpus" in str(err.value)


def test_missing_user_path(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        load_labelled(str(tmp_path / "missing.tsv"))
    assert "missing.tsv" in str(err.value)


def test_single_label_is_an_error(write_bytes):
    path = write_bytes("one.tsv", b"text\tlabel\na\tpos\nb\tpos\n")
    with pytest.raises(DataError, match="only one label"):
        load_labelled(path)


def test_too_few_examples_to_carve(write_bytes):
    path = write_bytes("tiny.tsv", b"text\tlabel\na\tpos\nb\tneg\n")
    with pytest.raises(DataError, match="too few examples"):
        load_labelled(path)
    assert load_labelled(path, dev_fraction=0, test_fraction=0).info["sizes"] == {"train": 2}


# -- carving ------------------------------------------------------------------------------------------------


def _examples(counts: dict[str, int]) -> list[Example]:
    return [Example(text=f"{label} {i}", label=label) for label, n in counts.items() for i in range(n)]


def test_carving_is_deterministic_for_a_seed_and_differs_across_seeds():
    examples = _examples({"a": 50, "b": 30})
    first = carve(examples, [("test", 0.1), ("dev", 0.1)], ["a", "b"], seed=7)
    again = carve(examples, [("test", 0.1), ("dev", 0.1)], ["a", "b"], seed=7)
    other = carve(examples, [("test", 0.1), ("dev", 0.1)], ["a", "b"], seed=8)
    assert first == again
    assert first["dev"] != other["dev"]


def test_carving_is_stratified_disjoint_and_keeps_order():
    examples = _examples({"a": 50, "b": 30})
    pieces = carve(examples, [("test", 0.2), ("dev", 0.1)], ["a", "b"], seed=13)
    assert Counter(e.label for e in pieces["test"]) == {"a": 10, "b": 6}
    assert Counter(e.label for e in pieces["dev"]) == {"a": 5, "b": 3}
    texts = [e.text for split in pieces.values() for e in split]
    assert sorted(texts) == sorted(e.text for e in examples)  # a partition
    for split in pieces.values():
        assert split == sorted(split, key=examples.index)


def test_load_labelled_is_deterministic():
    a = load_labelled("pang_lee_polarity", seed=3)
    b = load_labelled("pang_lee_polarity", seed=3)
    c = load_labelled("pang_lee_polarity", seed=4)
    assert a.splits == b.splits and a.splits["test"] != c.splits["test"]


# -- iter_texts / source_files -----------------------------------------------------------------------------


def test_iter_texts_of_an_official_split_streams(toy_registry):
    data_dir, _ = toy_registry
    texts = iter_texts("toy:dev", data_dir)
    assert isinstance(texts, types.GeneratorType)
    assert list(texts) == ["nice", "meh"]
    assert [p.name for p in source_files("toy:dev", data_dir)] == ["dev.tsv"]
    assert [p.name for p in source_files("toy", data_dir)] == ["train.tsv", "dev.tsv"]


def test_iter_texts_of_a_carved_split():
    texts = list(iter_texts("pang_lee_polarity:test"))
    assert texts == [e.text for e in load_labelled("pang_lee_polarity").splits["test"]]


def test_iter_texts_unknown_split_and_source():
    with pytest.raises(ConfigError, match="no split 'test'; its splits: train, dev"):
        iter_texts("sst2:test")
    with pytest.raises(ConfigError, match="unknown text source 'wiki'"):
        iter_texts("wiki")


def test_iter_texts_from_a_plain_file_folder_and_archive(write_bytes, tmp_path):
    write_bytes("docs/a.txt", b"first doc\n\n  second doc  \n")
    write_bytes("docs/sub/b.txt.gz", gzip.compress(b"third doc\n"))
    write_bytes("docs/ignored.md", b"not text\n")
    assert list(iter_texts(str(tmp_path / "docs/a.txt"))) == ["first doc", "second doc"]
    assert list(iter_texts(tmp_path / "docs")) == ["first doc", "second doc", "third doc"]
    assert [p.name for p in source_files(tmp_path / "docs")] == ["a.txt", "b.txt.gz"]

    archive = tmp_path / "docs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in {"x/1.txt": b"one<br />review", "x/2.txt": b"two\nlines"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    assert list(iter_texts(archive)) == ["one<br />review", "two", "lines"]


def test_iter_texts_errors_come_at_call_time(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        iter_texts(str(tmp_path / "nope.txt"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="no text files"):
        iter_texts(tmp_path / "empty_dir")


# -- tagged ------------------------------------------------------------------------------------------------


def test_load_tagged_from_a_user_conllu_file(write_bytes):
    path = write_bytes("t.conllu", b"1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    assert load_tagged(path)["train"][0].upos == ["INTJ"]
    assert list(iter_texts(path)) == ["Hi"]  # as a text source: its words, never its columns


def test_load_tagged_rejects_a_labelled_corpus():
    with pytest.raises(ConfigError, match="not tagged"):
        load_tagged("pang_lee_polarity")


def test_ud_style_file_names_give_their_split(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "ud", names=("en_x-ud-train.conllu", "en_x-ud-dev.conllu"))
    assert set(tagged_split_files(folder)) == {"train", "dev"}
    splits = load_tagged(folder)
    assert (len(splits["train"]), len(splits["dev"])) == (120, 40)


def test_a_single_file_is_carved_into_train_and_dev(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "one", n_train=50, n_dev=5)
    splits = load_tagged(folder / "train.conllu", dev_fraction=0.2, seed=3)
    assert (len(splits["train"]), len(splits["dev"])) == (40, 10)
    again = load_tagged(folder / "train.conllu", dev_fraction=0.2, seed=3)
    assert [s.line for s in again["dev"]] == [s.line for s in splits["dev"]]
    assert not {s.line for s in splits["dev"]} & {s.line for s in splits["train"]}


def test_a_folder_file_without_a_split_name_is_an_error(tmp_path, make_treebank):
    folder = make_treebank(tmp_path / "x")
    (folder / "extra.conllu").write_text("1\ta\ta\tX\tX\t_\t0\tdep\t_\t_\n")
    with pytest.raises(DataError, match="cannot tell the split of extra.conllu"):
        tagged_split_files(folder)
