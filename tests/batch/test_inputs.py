"""Reading batch inputs: formats, compression, per-record rejections with line numbers, whole-input failures, shards."""

from __future__ import annotations

import gzip
import json

import pytest

from nlp_pipeline.batch.inputs import (
    InputError,
    ReadOptions,
    Record,
    Rejection,
    build_sources,
    find_files,
    iter_records,
    number_lines,
    plan_shards,
)
from nlp_pipeline.errors import ConfigError, DataError


def _read(path, **options):
    opts = ReadOptions(**options)
    shards = plan_shards(build_sources([path], opts), opts)
    assert len(shards) == 1
    return list(iter_records(shards[0], opts))


def test_plain_text_one_document_a_line(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_bytes(b"\xef\xbb\xbffirst doc\r\nsecond doc\n   \nthird")
    out = _read(path)
    assert out[0] == Record(1, "reviews.txt:1", "first doc")
    assert out[1] == Record(2, "reviews.txt:2", "second doc")
    assert out[2] == Rejection(3, "empty text")
    assert out[3] == Record(4, "reviews.txt:4", "third")


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz", "docs.ndjson", "docs.json"])
def test_json_lines_with_text_and_id_fields(tmp_path, name):
    lines = [{"body": "good one", "key": "r1"}, {"body": "bad one", "key": 7}, {"body": "", "key": "r3"},
             {"body": "no key"}, {"body": ["not", "text"], "key": "r5"}, [1, 2], {"body": "ok", "key": True}]
    data = "\n".join(json.dumps(x) for x in lines).encode() + b"\n{bad json\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    out = _read(path, text_field="body", id_field="key")
    assert out[0] == Record(1, "r1", "good one")
    assert out[1] == Record(2, 7, "bad one")
    assert [(r.line, r.error.split(":")[0]) for r in out[2:]] == [
        (3, "empty text"), (4, "no 'key' field"), (5, "field 'body' is list, not a string"),
        (6, "expected a JSON object per line, got list"), (7, "a bool (not a string or integer) in 'key' field"),
        (8, "not valid JSON")]
    assert out[7].excerpt == "{bad json"


def test_gzip_detected_by_magic_bytes_without_suffix(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_bytes(gzip.compress(b"one\ntwo\n"))
    assert [r.text for r in _read(path)] == ["one", "two"]


def test_csv_quoted_fields_multiline_bad_rows_and_tsv(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b'id,Text,stars\nr1,"multi\nline, quoted",5\nr2,short\nr3,"bad "quote,1\nr4,  ,2\n'
                     b'r5,caf\xe9,3\nr6,fine,4\n\n')
    out = _read(path, text_column="text", id_field="id")
    assert out[0] == Record(2, "r1", "multi\nline, quoted")
    assert [(r.line, r.error.split(":")[0]) for r in out[1:5]] == [
        (4, "expected 3 comma-separated columns, found 2"), (5, "malformed CSV"), (6, "empty text"),
        (7, "not valid UTF-8 text")]
    assert out[5] == Record(8, "r6", "fine")
    assert out[6] == Rejection(9, "empty line")
    tsv = tmp_path / "reviews.tsv"
    tsv.write_text("text\tlabel\nhello, world\tpos\n")
    assert _read(tsv) == [Record(2, "reviews.tsv:2", "hello, world")]


def test_csv_without_the_text_column_fails_the_input(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("id,title\n1,x\n")
    with pytest.raises(InputError, match=r"reviews.csv:1: header has no text column .*columns found: 'id', 'title'"):
        _read(path)
    assert [r.text for r in _read(path, text_column="Title")] == ["x"]
    path.write_text("id,body\n1,x\n")  # no column named: the first of the usual text column names
    assert [r.text for r in _read(path)] == ["x"]


def test_invalid_utf8_is_one_rejected_line_named_by_line_and_column(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"ok\nbad \xff here\nok again\n")
    out = _read(path)
    assert out[1] == Rejection(2, "not valid UTF-8 text (byte 0xff at column 5)", "bad \ufffd here")
    assert [r.line for r in out if isinstance(r, Record)] == [1, 3]


def test_binary_file_and_corrupt_gzip_fail_the_whole_input(tmp_path):
    binary = tmp_path / "model.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(InputError, match="looks binary"):
        _read(binary)
    corrupt = tmp_path / "docs.txt.gz"
    data = gzip.compress("".join(f"line {i * 7919 % 10007} of text\n" for i in range(20000)).encode())
    corrupt.write_bytes(data[: len(data) // 2])  # cut mid-stream
    with pytest.raises(InputError, match=r"docs.txt.gz:\d+: cannot read"):
        _read(corrupt)


def test_expand_files_folders_globs_dedup_and_errors(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.txt", "a.txt", "sub/c.txt", ".hidden.txt"):
        (tmp_path / name).write_text("x\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x\n")
    got = find_files([str(tmp_path), str(tmp_path / "a.txt"), str(tmp_path / "*.txt")], exclude=out)
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["a.txt", "b.txt", "sub/c.txt"]
    with pytest.raises(DataError, match="file not found"):
        find_files([str(tmp_path / "missing.txt")])
    with pytest.raises(DataError, match="no file matches"):
        find_files([str(tmp_path / "*.csv")])
    with pytest.raises(DataError, match="no input files"):
        find_files([str(out)], exclude=out)


def test_output_names_are_disambiguated_and_stable(tmp_path):
    for name in ("x/reviews.txt", "y/reviews.txt", "reviews.csv", "errors.txt", "other.jsonl.gz"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("text\nhi\n")
    paths = [tmp_path / n for n in ("x/reviews.txt", "y/reviews.txt", "reviews.csv", "errors.txt", "other.jsonl.gz")]
    opts = ReadOptions()
    names = [s.name for s in plan_shards(build_sources(paths, opts), opts)]
    assert len(set(names)) == 5 and names[-1] == "other.jsonl"
    assert all(n.startswith("reviews-") for n in names[:3]) and names[3].startswith("errors-")
    again = [s.name for s in plan_shards(build_sources(paths[:2], opts), opts)]
    assert again == names[:2]  # a name depends on the input's path, not on its position in the run


@pytest.mark.parametrize("fmt", ["txt", "jsonl"])
def test_split_parts_cover_every_line_once_with_true_line_numbers(tmp_path, fmt):
    path = tmp_path / f"big.{fmt}"
    docs = [f"document number {i} " + "x" * (i % 37) for i in range(3000)]
    lines = docs if fmt == "txt" else [json.dumps({"text": d}) for d in docs]
    lines[1234] = "" if fmt == "txt" else "{oops"
    path.write_text("\n".join(lines) + "\n")
    opts = ReadOptions()
    shards = number_lines(plan_shards(build_sources([path], opts), opts, split_bytes=10_000))
    assert len(shards) > 5 and shards[0].name == f"big-00001-of-{len(shards):05d}.jsonl"
    got = [r for s in shards for r in iter_records(s, opts)]
    assert [r.line for r in got] == list(range(1, 3001))
    assert isinstance(got[1234], Rejection)
    kept = docs[:1234] + docs[1235:]  # a text line is stripped, a JSON field kept as it is
    assert [r.text for r in got if isinstance(r, Record)] == ([d.strip() for d in kept] if fmt == "txt" else kept)
    assert got[2999].id == f"big.{fmt}:3000"


def test_compressed_and_csv_inputs_are_never_split(tmp_path):
    gz = tmp_path / "a.txt.gz"
    gz.write_bytes(gzip.compress(b"some words\n" * 5000))
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("text\n" + "some words\n" * 5000)
    opts = ReadOptions()
    assert len(plan_shards(build_sources([gz, csv_path], opts), opts, split_bytes=1000)) == 2


def test_unknown_format_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown input format 'xml'"):
        ReadOptions(format="xml")


def test_run_and_process_accept_the_same_files_of_a_mixed_folder(tmp_path):
    """``run --corpus notes/`` (`iter_texts`) and ``process notes/`` find, skip and read the same files."""
    import bz2

    from nlp_pipeline.batch import process
    from nlp_pipeline.data import iter_texts, source_files

    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "a.txt").write_text("first note\n\n  second note \n")
    (notes / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "third note", "id": 3}\n'))
    (notes / "c.csv.bz2").write_bytes(bz2.compress(b'id,review\n1,"fourth, quoted"\n'))
    (notes / "model.bin").write_bytes(bytes(range(256)) * 4)  # not a text suffix: neither reads it
    (notes / "README.md").write_text("about these notes\n")
    (notes / ".cache").mkdir()
    (notes / ".cache" / "x.txt").write_text("hidden\n")

    def process_texts() -> list[str]:
        opts = ReadOptions()
        shards = plan_shards(build_sources(find_files([notes]), opts), opts)
        return [r.text for s in shards for r in iter_records(s, opts) if isinstance(r, Record)]

    assert source_files(notes) == find_files([notes])
    assert [p.relative_to(notes).as_posix() for p in find_files([notes])] == ["a.txt", "c.csv.bz2", "sub/b.jsonl.gz"]
    assert list(iter_texts(notes)) == process_texts() == ["first note", "second note", "fourth, quoted", "third note"]
    summary = process([notes], "tokenize", tmp_path / "out", workers=1, progress=False)
    assert (summary.shards, summary.written, summary.rejected) == (3, 4, 1)  # the blank line of a.txt is reported

    (notes / "d.txt").write_bytes(b"\x00\x01binary" * 50)  # a text suffix: both take it, both refuse to read it
    assert source_files(notes) == find_files([notes])
    with pytest.raises(InputError, match=r"d.txt: looks binary \(NUL bytes") as run_error:
        list(iter_texts(notes))
    with pytest.raises(InputError) as process_error:
        process_texts()
    assert process_error.value.message == run_error.value.message
    summary = process([notes], "tokenize", tmp_path / "out", workers=1, progress=False)
    assert summary.shards_failed == 1 and summary.failures[0]["error"] == run_error.value.message


def test_an_archive_is_read_by_run_and_refused_by_process_with_the_reason(tmp_path):
    import io
    import tarfile

    from nlp_pipeline.data import iter_texts

    archive = tmp_path / "docs.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("x/1.txt")
        info.size = 8
        tf.addfile(info, io.BytesIO(b"one\ntwo\n"))
    assert list(iter_texts(archive)) == ["one", "two"]
    with pytest.raises(InputError, match=r"docs.tar.gz: a tar or zip archive, whose lines have no single numbering"):
        _read(archive)


def test_bz2_and_xz_inputs_are_never_split_and_shards_are_named_without_their_suffixes(tmp_path):
    import bz2
    import lzma

    (tmp_path / "a.txt.bz2").write_bytes(bz2.compress(b"some words\n" * 5000))
    (tmp_path / "b.jsonl.xz").write_bytes(lzma.compress(b'{"text": "w"}\n' * 5000))
    opts = ReadOptions()
    shards = plan_shards(build_sources([tmp_path / "a.txt.bz2", tmp_path / "b.jsonl.xz"], opts), opts, split_bytes=100)
    assert [s.name for s in shards] == ["a.jsonl", "b.jsonl"] and all(s.source.compressed for s in shards)
    assert sum(isinstance(r, Record) for s in shards for r in iter_records(s, opts)) == 10000
