"""Readers on tiny hand-written fixtures: every format quirk and every bad-input error."""

from __future__ import annotations

import functools
import gzip
import io
import tarfile
import zipfile

import pytest

from nlp_pipeline.data.readers import (
    iter_archive_texts,
    iter_lines,
    read_archive_examples,
    read_conllu,
    read_delimited,
    read_fasttext,
    read_lines,
    read_user_labelled,
    sniff_labelled_format,
)
from nlp_pipeline.errors import DataError

SST_LABELS = {"0": "negative", "1": "positive"}.get


def assert_points_at(err: pytest.ExceptionInfo, name: str, line: int | None) -> None:
    """The message is one line and names the file (and the line when given)."""
    message = str(err.value)
    assert "\n" not in message
    assert name in message
    if line is not None:
        assert f"{name}:{line}:" in message
        assert err.value.line == line


def make_tar(path, members: dict[str, bytes], mode: str = "w:gz"):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


# -- TSV / CSV ---------------------------------------------------------------------------------------


def test_sst_tsv_splits_on_last_tab_and_strips_trailing_space(write_bytes):
    path = write_bytes("train.tsv", b"sentence\tlabel\nhide new secretions \t0\na\ttabbed text \t1\n")
    examples = list(
        read_delimited(
            path,
            delimiter="\t",
            text_column="sentence",
            label_column="label",
            split_on_last_tab=True,
            label_fn=SST_LABELS,
        )
    )
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("hide new secretions", "negative", 2),
        ("a\ttabbed text", "positive", 3),
    ]
    assert examples[0].source == str(path)


def test_csv_with_quoted_commas_and_common_column_names(write_bytes):
    path = write_bytes("reviews.csv", b'id,Review,Sentiment\n1,"good, really good",pos\n2,bad,neg\n')
    examples = list(read_user_labelled(path))
    assert [(e.text, e.label, e.line) for e in examples] == [
        ("good, really good", "pos", 2),
        ("bad", "neg", 3),
    ]


def test_gzipped_tsv_is_read_transparently(write_bytes):
    path = write_bytes("train.tsv.gz", gzip.compress(b"text\tlabel\ngreat\tpos\nawful\tneg\n"))
    assert sniff_labelled_format(path) == "tsv"
    assert [e.label for e in read_user_labelled(path)] == ["pos", "neg"]


def test_utf8_bom_is_dropped_from_the_header(write_bytes):
    path = write_bytes("bom.csv", "\ufefftext,label\nok,a\n".encode())
    assert [e.text for e in read_user_labelled(path)] == ["ok"]


# -- file-level checks (shared by every format) ------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        list(iter_lines(tmp_path / "nope.tsv"))
    assert_points_at(err, "nope.tsv", None)


def test_utf16_file_is_reported_as_binary(write_bytes):
    path = write_bytes("utf16.tsv", "text\tlabel\nok\tpos\n".encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16"):
        list(read_user_labelled(path))


# -- line files (MR) and fastText ---------------------------------------------------------------------


def test_cp1252_lines_decode_and_strip_trailing_space(write_bytes):
    path = write_bytes("rt-polarity.pos", b"the action clich\xe9s pile up . \nsongs \x97 a few hits \n\n")
    examples = list(read_lines(path, label="positive", encoding="cp1252"))
    assert [(e.text, e.line) for e in examples] == [
        ("the action clichés pile up .", 1),
        ("songs — a few hits", 2),
    ]
    assert {e.label for e in examples} == {"positive"}


def test_fasttext_labels_and_text(write_bytes):
    path = write_bytes("ft.txt", b"__label__pos great fun . \n\n__label__neg  dull .\n")
    examples = list(read_fasttext(path, label_fn={"pos": "positive", "neg": "negative"}.get))
    assert [(e.label, e.text, e.line) for e in examples] == [
        ("positive", "great fun .", 1),
        ("negative", "dull .", 3),
    ]
    assert sniff_labelled_format(path) == "fasttext"


def test_fasttext_detected_by_content_not_suffix(write_bytes):
    path = write_bytes("data.tsv", b"__label__a x\n__label__b y\n")
    assert sniff_labelled_format(path) == "fasttext"


# -- archives (IMDB) ---------------------------------------------------------------------------------

IMDB_MEMBERS = {
    "aclImdb/README": b"not a review",
    "aclImdb/train/urls_pos.txt": b"http://example.org\n",
    "aclImdb/train/pos/0_9.txt": b"Loved it.<br /><br />Would watch again. ",
    "aclImdb/train/neg/1_2.txt": b"Dull.",
    "aclImdb/test/neg/0_1.txt": "Na\u00efve plot.".encode(),
    "aclImdb/train/unsup/0_0.txt": b"No label here.",
}
IMDB_PATTERN = r"^aclImdb/(?P<split>train|test)/(?P<label>pos|neg)/(?P<id>\d+)_(?P<rating>\d+)\.txt$"


def _imdb_rows(path):
    rows = read_archive_examples(path, member_pattern=IMDB_PATTERN, label_fn={"pos": "p", "neg": "n"}.get)
    return [(groups["split"], ex.label, ex.text, ex.source.rsplit(":", 1)[1]) for groups, ex in rows]


def test_tar_gz_members_label_from_dir_split_from_path_and_br_kept(tmp_path):
    path = make_tar(tmp_path / "imdb.tar.gz", IMDB_MEMBERS)
    assert _imdb_rows(path) == [
        ("train", "p", "Loved it.<br /><br />Would watch again.", "aclImdb/train/pos/0_9.txt"),
        ("train", "n", "Dull.", "aclImdb/train/neg/1_2.txt"),
        ("test", "n", "Na\u00efve plot.", "aclImdb/test/neg/0_1.txt"),
    ]


def test_zip_members_read_like_tar_members(tmp_path):
    path = tmp_path / "imdb.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in IMDB_MEMBERS.items():
            zf.writestr(name, data)
    assert [row[:3] for row in _imdb_rows(path)] == [
        ("train", "p", "Loved it.<br /><br />Would watch again."),
        ("train", "n", "Dull."),
        ("test", "n", "Na\u00efve plot."),
    ]


def test_archive_texts_whole_members_or_lines(tmp_path):
    path = make_tar(tmp_path / "texts.tar", {"a.txt": b"one\ntwo\n", "b.md": b"skip", "c.txt": b"three"}, "w")
    assert list(iter_archive_texts(path)) == ["one\ntwo", "three"]
    assert list(iter_archive_texts(path, whole_members=False)) == ["one", "two", "three"]


def test_archive_member_with_invalid_utf8_names_member_and_line(tmp_path):
    path = make_tar(tmp_path / "bad.tar.gz", {"aclImdb/train/pos/3_8.txt": b"fine\nbad \xff byte"})
    with pytest.raises(DataError, match="not valid utf-8") as err:
        _imdb_rows(path)
    assert_points_at(err, "bad.tar.gz:aclImdb/train/pos/3_8.txt", 2)


def test_archive_without_matching_members(tmp_path):
    path = make_tar(tmp_path / "other.tar.gz", {"x/readme.txt": b"hello"})
    with pytest.raises(DataError, match="no archive member matches"):
        _imdb_rows(path)


# -- CoNLL-U -----------------------------------------------------------------------------------------

CONLLU = (
    "# newdoc id = doc1\n"
    "# sent_id = s1\n"
    "# text = I don't know.\n"
    "1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_\n"
    "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_\n"
    "3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_\n"
    "4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "4.1\tknows\tknow\tVERB\tVBZ\t_\t_\t_\t4:conj\t_\n"
    "5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_\n"
    "\n"
    "# sent_id = s2\n"
    "1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_\n"  # last sentence, no trailing blank line
)


def test_conllu_skips_comments_ranges_and_empty_nodes(write_bytes):
    path = write_bytes("tiny.conllu", CONLLU.encode())
    sentences = list(read_conllu(path))
    assert len(sentences) == 2
    first, last = sentences
    assert first.words == ["I", "do", "n't", "know", "."]
    assert first.upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.xpos == ["PRP", "VBP", "RB", "VB", "."]
    assert (first.source, first.line) == (str(path), 1)
    assert (last.words, last.upos, last.xpos, last.line) == (["Yes"], ["INTJ"], ["UH"], 12)


def test_conllu_without_sentences(write_bytes):
    path = write_bytes("comments.conllu", b"# only a comment\n\n")
    with pytest.raises(DataError, match="no sentences"):
        list(read_conllu(path))


def test_input_lines_for_texts_and_queries(tmp_path):
    import gzip
    import io

    from nlp_pipeline.data.readers import iter_input_lines

    f = tmp_path / "q.txt.gz"
    f.write_bytes(gzip.compress("\ufeffking\nqu\xe9en\n".encode() + b"\xff\n"))
    assert list(iter_input_lines(f, keep_bad=True)) == [(1, "king"), (2, "quéen"), (3, None)]
    with pytest.raises(DataError, match=r"q\.txt\.gz:3: not valid UTF-8"):
        list(iter_input_lines(f))
    assert list(iter_input_lines("-", stdin=io.BytesIO(b"a\r\nb\n"))) == [(1, "a"), (2, "b")]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert list(iter_input_lines(empty)) == []  # nothing to label is not an error here
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=r"bad\.gz:1: cannot read"):  # the line the stream broke on
        list(iter_input_lines(tmp_path / "bad.gz"))


# -- every bad input: a DataError whose one line names the file (and the line) -------------------------

TSV_SST = functools.partial(read_delimited, delimiter="\t", split_on_last_tab=True, label_fn=SST_LABELS)
GZIPPED = gzip.compress(b"text\tlabel\n" + b"word\tpos\n" * 5000)


@pytest.mark.parametrize("name, data, reader, why, line, also", [
    # TSV / CSV
    pytest.param("train.tsv", b"sentence\tlabel\ngood \t1\nno label here\n", TSV_SST, "row without a label", 3, "",
                 id="tsv_row_without_label"),
    pytest.param("train.tsv", b"sentence\tlabel\ngood \t\n", functools.partial(read_delimited, delimiter="\t"),
                 "row without a label", 2, "", id="tsv_row_with_empty_label"),
    pytest.param("data.csv", b"text,label,extra\na,b,c\nd,e,f,g\n", read_user_labelled, "expected 3", 3, "",
                 id="csv_wrong_column_count"),
    pytest.param("dev.tsv", b"sentence\tlabel\nok \t1\nodd \t2\n", TSV_SST, "unknown label '2'", 3, "",
                 id="unknown_label_when_the_spec_defines_a_label_set"),
    pytest.param("data.tsv", b"phrase\tlabel\nok\t1\n", read_user_labelled, "no text column", 1, "'phrase', 'label'",
                 id="header_without_text_column_lists_columns_found"),
    pytest.param("data.csv", b"text,score\nok,1\n", read_user_labelled, "no label column", 1, "'text', 'score'",
                 id="header_without_label_column_lists_columns_found"),
    pytest.param("data.tsv", b"text\tlabel\n", read_user_labelled, "no data rows", None, "",
                 id="header_only_file_has_no_rows"),
    pytest.param("data.tsv", b"text\tlabel\n   \tpos\n", read_user_labelled, "empty text", 2, "",
                 id="empty_text_is_an_error_not_a_silent_skip"),
    # file-level checks (shared by every format)
    pytest.param("empty.tsv", b"", read_user_labelled, "empty file", None, "", id="empty_file"),
    pytest.param("model.bin", b"text\tlabel\n\x00\x01\x02" * 10, iter_lines, "binary", None, "", id="binary_file"),
    pytest.param("latin.tsv", b"text\tlabel\nfine\tpos\ncaf\xe9\tneg\nalso \xff bad\tneg\n", read_user_labelled,
                 "not valid utf-8", 3, "0xe9", id="invalid_utf8_reports_the_first_bad_line"),
    pytest.param("cut.tsv.gz", GZIPPED[: len(GZIPPED) // 2], read_user_labelled, "cannot read", None, "",
                 id="truncated_gzip"),
    # line files (MR) and fastText
    pytest.param("rt-polarity.neg", b"ok \nsongs \x97 bad \n", functools.partial(read_lines, label="negative"),
                 "cp1252", 2, "", id="cp1252_bytes_are_not_utf8"),
    pytest.param("ft.txt", b"__label__pos fine\npos great\n", read_fasttext, "malformed fastText", 2, "",
                 id="fasttext_line_without_a_label"),
    pytest.param("ft.txt", b"__label__pos fine\n__label__ great\n", read_fasttext, "malformed fastText", 2, "",
                 id="fasttext_empty_label"),
    pytest.param("ft.txt", b"__label__pos fine\n__label__a __label__b text\n", read_fasttext,
                 "more than one label", 2, "", id="fasttext_two_labels"),
    pytest.param("ft.txt", b"__label__pos fine\n__label__neg\n", read_fasttext, "empty text", 2, "",
                 id="fasttext_line_without_text"),
    pytest.param("notes.txt", b"just some words\n", read_user_labelled, "cannot tell the format", 1, "",
                 id="unrecognisable_user_file"),
    # archives
    pytest.param("fake.tar.gz", b"plain text, not gzip", _imdb_rows, "tar or zip", None, "", id="not_an_archive"),
    # CoNLL-U
    pytest.param("bad.conllu", b"# sent_id = 1\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tthere\tADV\n\n", read_conllu,
                 "expected 10 tab-separated columns, found 3", 3, "", id="conllu_missing_columns"),
    pytest.param("spaces.conllu", b"1 Hi hi INTJ UH _ 0 root _ _\n", read_conllu, "found 1", 1, "",
                 id="conllu_space_separated_line"),
    pytest.param("id.conllu", b"x\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n", read_conllu, "bad token ID", 1, "",
                 id="conllu_bad_token_id"),
])
def test_bad_input_is_one_line_naming_file_and_line(write_bytes, name, data, reader, why, line, also):
    path = write_bytes(name, data)
    with pytest.raises(DataError, match=why) as err:
        list(reader(path))
    assert also in str(err.value)
    assert_points_at(err, name, line)
