"""Text sources for word vectors: files, folders and globs of plain text, JSON lines and CSV/TSV, gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nlp_pipeline.data import iter_texts, source_files
from nlp_pipeline.data.datasets import is_labelled_file, text_options
from nlp_pipeline.errors import DataError


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def test_json_lines_give_the_named_field_gzipped_or_not(tmp_path):
    rows = '{"id": 1, "body": "a good film"}\n\n{"id": 2, "body": "a bad one", "text": "ignored"}\n'
    plain = _write(tmp_path / "posts.jsonl", rows)
    packed = _write(tmp_path / "posts.ndjson.gz", gzip.compress(rows.encode()))
    for path in (plain, packed):
        assert list(iter_texts(str(path), text_field="body")) == ["a good film", "a bad one"]


def test_a_csv_gives_its_text_column_and_a_tsv_too(tmp_path):
    csv = _write(tmp_path / "a.csv", 'id,review,stars\n1,"good, really good",5\n2,"two\nlines",3\n')
    tsv = _write(tmp_path / "b.tsv", "title\tbody\nx\tplain text\n")
    assert list(iter_texts(str(csv))) == ["good, really good", "two\nlines"]  # the first known text column
    assert list(iter_texts(str(tsv), text_column="title")) == ["x"]
    assert list(iter_texts(str(tsv))) == ["plain text"]  # body is a known text column name
    assert not is_labelled_file(csv) and not is_labelled_file(tsv)
    assert is_labelled_file(_write(tmp_path / "c.csv", "text,label\ngood,pos\n"))


def test_a_folder_and_a_glob_stream_every_text_file_in_sorted_order(tmp_path):
    _write(tmp_path / "d" / "b.txt", "second file\n")
    _write(tmp_path / "d" / "a.jsonl.gz", gzip.compress(b'{"text": "first file"}\n'))
    _write(tmp_path / "d" / "sub" / "c.csv", "text\nthird file\n")
    _write(tmp_path / "d" / "notes.png", b"\x89PNG")
    assert list(iter_texts(str(tmp_path / "d"))) == ["first file", "second file", "third file"]
    assert [p.name for p in source_files(str(tmp_path / "d" / "*.txt"))] == ["b.txt"]
    assert list(iter_texts(str(tmp_path / "d" / "**" / "*.csv"))) == ["third file"]


def test_read_settings_enter_the_key_only_for_files_they_shape(tmp_path):
    txt, jsonl, csv = (tmp_path / "a.txt"), (tmp_path / "b.jsonl.gz"), (tmp_path / "c.tsv")
    assert text_options([txt], "body", "title") == ()
    assert text_options([jsonl], "body", None) == (("text_field", "body"),)
    assert text_options([csv, txt], "text", "title") == (("text_column", "title"),)


@pytest.mark.parametrize(("name", "data", "kwargs", "expect"), [
    ("p.jsonl", '{"text": "ok"}\n[1, 2]\n', {}, r"p.jsonl:2: expected a JSON object per line, got a list"),
    ("p.jsonl", '{"text": "ok"}\n{"text": \n', {}, r"p.jsonl:2: not valid JSON"),
    ("p.jsonl", '{"body": "ok"}\n', {}, r"p.jsonl:1: no 'text' field \(fields: 'body'\); set data.text_field"),
    ("p.jsonl", '{"text": null}\n', {}, r"p.jsonl:1: field 'text' is null, not a string"),
    ("p.csv", "id,title\n1,x\n", {}, r"p.csv:1: header has no text column .*columns found: 'id', 'title'"),
    ("p.csv", "id,text\n1,x\n2\n", {}, r"p.csv:3: expected 2 comma-separated columns, found 1"),
    ("p.tsv", "text\tid\nx\t1\n", {"text_column": "body"}, r"p.tsv:1: header has no text column \(wanted 'body'"),
])
def test_a_malformed_record_is_an_error_naming_file_and_line(tmp_path, name, data, kwargs, expect):
    path = _write(tmp_path / name, data)
    with pytest.raises(DataError, match=expect):
        list(iter_texts(str(path), **kwargs))


def test_a_glob_without_matches_is_an_error_at_call_time(tmp_path):
    with pytest.raises(DataError, match="no file matches this pattern"):
        iter_texts(str(tmp_path / "*.jsonl"))
