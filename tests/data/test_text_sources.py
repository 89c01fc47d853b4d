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
    ("p.jsonl", '{"text": "ok"}\n[1, 2]\n', {}, r"p.jsonl:2: expected a JSON object per line, got list"),
    ("p.jsonl", '{"text": "ok"}\n{"text": \n', {}, r"p.jsonl:2: not valid JSON"),
    ("p.jsonl", '{"body": "ok"}\n', {}, r"p.jsonl:1: no 'text' field \(fields: 'body'\); set data.text_field"),
    ("p.jsonl", '{"text": null}\n', {}, r"p.jsonl:1: field 'text' is NoneType, not a string"),
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


# -- the reader layer every command shares (find_files, file_format, read_records) -------------------------


def test_one_error_policy_two_ways_same_records(tmp_path):
    from nlp_pipeline.data.readers import Record, Rejection, read_records

    rows = b'{"text": "one"}\n\n{"text": "  "}\n{"text": "two"}\n{"body": 3}\n{"text": "x"}\n'
    path = _write(tmp_path / "p.jsonl", rows)
    collected = list(read_records(path, errors="collect"))
    assert [(r.line, r.text if isinstance(r, Record) else r.error.split(" (")[0]) for r in collected] == [
        (1, "one"), (2, "empty line"), (3, "empty text"), (4, "two"), (5, "no 'text' field"), (6, "x")]
    assert isinstance(collected[4], Rejection) and collected[4].excerpt == '{"body": 3}'
    raised = read_records(path)  # blank lines and empty texts hold no record: passed over, not errors
    assert [next(raised).text, next(raised).text] == ["one", "two"]
    with pytest.raises(DataError, match=r"p.jsonl:5: no 'text' field"):
        next(raised)
    good = _write(tmp_path / "g.txt", "a\n\n b \n")
    assert list(read_records(good)) == [r for r in read_records(good, errors="collect") if isinstance(r, Record)]


def test_gzip_bz2_and_xz_are_found_by_magic_bytes_or_suffix(tmp_path):
    import bz2
    import lzma

    data = b"first\nsecond\n"
    for name, packed in [("a.txt.gz", gzip.compress(data)), ("b.txt.bz2", bz2.compress(data)),
                         ("c.txt.xz", lzma.compress(data)), ("d.txt", bz2.compress(data)), ("e", lzma.compress(data))]:
        assert list(iter_texts(str(_write(tmp_path / name, packed)))) == ["first", "second"], name
    with pytest.raises(DataError, match=r"f.txt.gz:1: cannot read"):  # named gzip but is not: reported, not read
        list(iter_texts(str(_write(tmp_path / "f.txt.gz", data))))


def test_binary_files_are_refused_by_nul_bytes_or_by_noise(tmp_path):
    from nlp_pipeline.data.readers import InputError, iter_lines

    noise = _write(tmp_path / "noise.txt", bytes(range(128, 256)) * 8)  # no NUL, but not text either
    with pytest.raises(InputError, match=r"noise.txt: looks binary \(mostly bytes that are not text"):
        list(iter_texts(str(noise)))
    with pytest.raises(InputError, match="looks binary"):
        list(iter_lines(noise))  # the training readers apply the same test
    accents = _write(tmp_path / "cp1252.txt", b"caf\xe9 au lait\nna\xefve\n")  # a few bad bytes: text, bad lines
    with pytest.raises(DataError, match=r"cp1252.txt:1: not valid UTF-8 text \(byte 0xe9 at column 4\)"):
        list(iter_texts(str(accents)))


def test_fasttext_lines_give_their_text_and_conllu_its_sentences(tmp_path):
    from nlp_pipeline.data.readers import file_format

    ft = _write(tmp_path / "ft.txt", "\n__label__pos great fun\n__label__a __label__b  two labels\n")
    assert file_format(ft) == "fasttext"
    assert list(iter_texts(str(ft))) == ["great fun", "two labels"]
    _write(ft, "__label__pos ok\nno label here\n")
    with pytest.raises(DataError, match=r"ft.txt:2: malformed fastText line"):
        list(iter_texts(str(ft)))
    words = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tthere\tthere\tADV\tRB\t_\t1\tdep\t_\t_\n"
    tb = _write(tmp_path / "t.conllu", "# c\n" + words)
    assert list(iter_texts(str(tb))) == ["Hi there"]


def test_folders_skip_hidden_paths_and_other_kinds_of_file_but_named_files_are_read(tmp_path):
    from nlp_pipeline.data.readers import find_files

    for name in ("d/a.txt", "d/.git/x.txt", "d/.b.txt", "d/README.md", "d/meta.json", "d/s/c.ndjson"):
        _write(tmp_path / name, '{"text": "j"}\n' if "json" in name else "t\n")
    assert [p.relative_to(tmp_path / "d").as_posix() for p in find_files([tmp_path / "d"])] == ["a.txt", "s/c.ndjson"]
    assert list(iter_texts(str(tmp_path / "d" / "meta.json"))) == ["j"]  # named: read as JSON lines
    assert list(iter_texts(str(tmp_path / "d" / "README.md"))) == ["t"]  # named: read as plain text
    both = find_files([tmp_path / "d" / "a.txt", tmp_path / "d", tmp_path / "d" / "**" / "*.ndjson"])
    assert [p.name for p in both] == ["a.txt", "c.ndjson"]  # a file reached twice is read once
    _write(tmp_path / "e" / "x.png", b"\x89PNG")
    with pytest.raises(DataError, match=r"e: folder has no text files"):
        find_files([tmp_path / "e"])


def test_input_lines_for_predict_and_queries_read_other_formats_on_request(tmp_path):
    from nlp_pipeline.data.readers import iter_input_lines

    path = _write(tmp_path / "r.jsonl", '{"text": "good"}\n\n{"id": 3}\n{"text": "bad"}\n')
    assert list(iter_input_lines(path, keep_bad=True, format="auto")) == [(1, "good"), (3, None), (4, "bad")]
    assert [text for _, text in iter_input_lines(path)] == ['{"text": "good"}', '{"id": 3}', '{"text": "bad"}']
