"""Format readers: bytes on disk → `Example` / `Sentence` records, streaming, with precise errors.

Every reader goes through `iter_lines` (or `iter_archive_members` for archives), which is where the
checks that protect every format live: the file exists, is not empty, is not binary (NUL bytes in
its first KB), and decodes. Decoding is done line by line, so a bad byte is reported with its line
number instead of as a position in a 14 MB string, and a plain-text corpus is never held in memory.

Readers never skip a record silently: a row that cannot be read raises `DataError` with the file and
line. The only lines they pass over are ones that hold no record by definition: blank lines in
line-based formats, CoNLL-U comments, multiword-token ranges and empty nodes.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import lzma
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from nlp_pipeline.data.types import Example
from nlp_pipeline.errors import DataError

BINARY_PROBE_BYTES = 1024  # NUL bytes in this many leading bytes → the file is binary, not text
FASTTEXT_PREFIX = "__label__"
# Header names accepted for user TSV/CSV files, in order of preference (matched case-insensitively).
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document", "comment", "body", "tweet", "utterance")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target", "polarity")

# Maps a raw label value to its canonical name, or None when the value is not in the corpus's label set.
LabelFn = Callable[[str], "str | None"]

_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True)
class Sentence:
    """One CoNLL-U sentence restricted to its syntactic words (integer IDs), ready for a POS tagger."""

    words: list[str]
    upos: list[str]  # column 4: universal POS (17 tags)
    xpos: list[str]  # column 5: language-specific POS (PTB tags for English EWT)
    source: str = ""  # file the sentence came from
    line: int = 0  # 1-based line where the sentence block starts (its first comment or token)
    word_lines: list[int] = field(default_factory=list)  # the line of each word, for errors about one word


# --------------------------------------------------------------------------------------------------
# Low-level: opening, sniffing, decoding


def logical_suffix(path: Path) -> str:
    """The format suffix with any compression suffix removed: ``train.tsv.gz`` → ``.tsv``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def is_archive(path: Path) -> bool:
    """Whether ``path`` names a tar or zip archive (by name; contents are checked when read)."""
    name = path.name.lower()
    return name.endswith(_TAR_SUFFIXES) or name.endswith(".zip")


def open_binary(path: str | Path) -> BinaryIO:
    """Open a file for binary reading, transparently decompressing ``.gz``/``.bz2``/``.xz``.

    Raises `DataError` for a missing file, so callers never see a bare ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a regular file", path=path)
    opener = _COMPRESSED.get(path.suffix.lower())
    return opener(path, "rb") if opener else open(path, "rb")  # noqa: SIM115 - caller closes


def _check_head(head: bytes, path: Path | str) -> None:
    if not head:
        raise DataError("empty file", path=path)
    if b"\x00" in head[:BINARY_PROBE_BYTES]:
        raise DataError(
            f"looks binary (NUL bytes in the first {BINARY_PROBE_BYTES} bytes), expected text "
            "(is it UTF-16, an archive or a compressed file without a .gz suffix?)",
            path=path,
        )


def _decode_error(bad_byte: bytes, column: int, encoding: str, path: Path | str, line: int) -> DataError:
    hint = (
        " (cp1252/latin-1 files need encoding cp1252)" if encoding.replace("_", "-").startswith("utf") else ""
    )
    return DataError(
        f"not valid {encoding} text (byte 0x{bad_byte.hex()} at column {column}); "
        f"re-save it as {encoding}{hint}",
        path=path,
        line=line,
    )


def iter_lines(
    path: str | Path, encoding: str = "utf-8", *, keepends: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a text file (compressed or not), streaming.

    Raises `DataError` for a missing, empty or binary file and for the first line that does not
    decode, naming the file and line. A UTF-8 byte-order mark is dropped. Line ends (``\\n`` or
    ``\\r\\n``) are removed unless ``keepends``.
    """
    path = Path(path)
    try:
        with open_binary(path) as f:
            _check_head(f.read(BINARY_PROBE_BYTES), path)
            f.seek(0)
            for number, raw in enumerate(f, start=1):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as err:
                    raise _decode_error(
                        raw[err.start : err.start + 1], err.start + 1, encoding, path, number
                    ) from None
                if number == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield number, (text if keepends else text.rstrip("\r\n"))
    except (OSError, EOFError, lzma.LZMAError) as err:
        # gzip.BadGzipFile is an OSError; a truncated stream is an EOFError.
        raise DataError(f"cannot read: {_one_line(err)}", path=path) from None


def iter_input_lines(
    path: str | Path, *, stdin: BinaryIO | None = None, keep_bad: bool = False
) -> Iterator[tuple[int, str | None]]:
    """``(line_number, text)`` of one-item-a-line input (texts to label, queries): a file, gzip too, or
    ``stdin`` when ``path`` is ``-``.

    Unlike `iter_lines`, an empty input is no error (nothing to do), and with ``keep_bad`` a line that
    is not UTF-8 comes as ``(line_number, None)``, so that a batch can report it and go on; without
    it, that line is a `DataError` naming it. A binary file or a corrupt gzip stream is a `DataError`.
    """
    where = "<stdin>" if str(path) == "-" else str(path)
    try:
        yield from _input_lines(path, where, stdin, keep_bad)
    except (OSError, EOFError) as err:  # a corrupt or truncated gzip stream
        raise DataError(f"cannot read: {_one_line(err)}", path=where) from None


def _input_lines(path, where: str, stdin: BinaryIO | None, keep_bad: bool) -> Iterator[tuple[int, str | None]]:
    import contextlib
    import sys

    with contextlib.ExitStack() as stack:
        if str(path) == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
        else:
            stream = stack.enter_context(open_binary(path))
            head = stream.peek(BINARY_PROBE_BYTES)[:BINARY_PROBE_BYTES] if hasattr(stream, "peek") else b""
            if b"\x00" in head:
                raise DataError("looks binary (NUL bytes near the start), expected text, one item a line", path=path)
        for number, raw in enumerate(stream, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                if keep_bad:
                    yield number, None
                    continue
                raise DataError("not valid UTF-8", path=where, line=number) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text.rstrip("\r\n")


def decode_text(data: bytes, encoding: str, source: str) -> str:
    """Decode a whole record (an archive member); on failure report the line of the first bad byte."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise _decode_error(data[err.start : err.start + 1], column, encoding, source, line) from None


def iter_archive_members(
    path: str | Path, pattern: str | re.Pattern
) -> Iterator[tuple[str, re.Match, bytes]]:
    """Yield ``(member_name, match, data)`` for each file member of a tar or zip whose name matches.

    Tar archives (any compression) are read in stream mode: one pass, nothing extracted to disk, only
    one member in memory at a time. Members that do not match ``pattern`` are passed over unread
    (archives hold READMEs, URL lists and vocabularies next to the data).
    """
    path = Path(path)
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a regular file", path=path)
    if path.stat().st_size == 0:
        raise DataError("empty file", path=path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    match = None if info.is_dir() else regex.search(info.filename)
                    if match:
                        yield info.filename, match, zf.read(info)
            return
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                match = regex.search(member.name) if member.isfile() else None
                if match:
                    extracted = tf.extractfile(member)
                    yield member.name, match, extracted.read() if extracted else b""
    except tarfile.ReadError as err:
        raise DataError(f"not a readable tar or zip archive ({_one_line(err)})", path=path) from None
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, tarfile.TarError) as err:
        raise DataError(f"cannot read archive: {_one_line(err)}", path=path) from None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


# --------------------------------------------------------------------------------------------------
# Labelled formats


def _label(raw: str, label_fn: LabelFn | None, path: Path | str, line: int) -> str:
    if not raw:
        raise DataError("row without a label", path=path, line=line)
    if label_fn is None:
        return raw
    name = label_fn(raw)
    if name is None:
        raise DataError(f"unknown label {raw!r}", path=path, line=line)
    return name


def _text(raw: str, path: Path | str, line: int) -> str:
    text = raw.strip()
    if not text:
        raise DataError("empty text", path=path, line=line)
    return text


def find_columns(
    header: list[str], path: Path | str, text_column: str | None = None, label_column: str | None = None
) -> tuple[int, int]:
    """Indices of the text and label columns in a header row.

    Explicit names (from a corpus definition) must be present; otherwise the first of `TEXT_COLUMNS`
    and `LABEL_COLUMNS` found is used (case-insensitive). Raises `DataError` listing the columns
    found, because "no text column" alone does not tell the user what to rename.
    """
    lowered = [h.strip().lower() for h in header]

    def pick(explicit: str | None, candidates: tuple[str, ...], what: str) -> int:
        for name in (explicit,) if explicit else candidates:
            if name.lower() in lowered:
                return lowered.index(name.lower())
        wanted = repr(explicit) if explicit else "one of " + "/".join(candidates)
        found = ", ".join(repr(h.strip()) for h in header)
        raise DataError(
            f"header has no {what} column (wanted {wanted}; columns found: {found})", path=path, line=1
        )

    return pick(text_column, TEXT_COLUMNS, "text"), pick(label_column, LABEL_COLUMNS, "label")


def read_delimited(
    path: str | Path,
    *,
    delimiter: str,
    encoding: str = "utf-8",
    text_column: str | None = None,
    label_column: str | None = None,
    split_on_last_tab: bool = False,
    label_fn: LabelFn | None = None,
) -> Iterator[Example]:
    """Read a TSV or CSV file with a header row naming a text and a label column.

    TSV rows are split on tabs without quote handling (the GLUE convention: quotes are text); with
    ``split_on_last_tab`` a row is split on its last tabs only, which SST-2 relies on. CSV goes
    through the `csv` module, so quoted fields may hold commas and newlines (``line`` is then the
    record's first line). Every row must have as many fields as the header.
    """
    path = Path(path)
    tsv = delimiter == "\t"
    rows = _tsv_rows(path, encoding, split_on_last_tab) if tsv else _csv_rows(path, encoding, delimiter)
    try:
        _, header = next(rows)
    except StopIteration:  # pragma: no cover - iter_lines raises on an empty file first
        raise DataError("empty file", path=path) from None
    text_i, label_i = find_columns(header, path, text_column, label_column)
    n_cols = len(header)
    count = 0
    for line, fields in rows:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line: no record
        if len(fields) != n_cols:
            what = "row without a label: " if len(fields) < n_cols and len(fields) <= label_i else ""
            sep = "tab" if tsv else repr(delimiter)
            raise DataError(
                f"{what}expected {n_cols} {sep}-separated columns "
                f"({', '.join(h.strip() for h in header)}), found {len(fields)}",
                path=path,
                line=line,
            )
        label = _label(fields[label_i].strip(), label_fn, path, line)
        yield Example(text=_text(fields[text_i], path, line), label=label, source=str(path), line=line)
        count += 1
    if count == 0:
        raise DataError("no data rows after the header", path=path)


def _tsv_rows(path: Path, encoding: str, split_on_last_tab: bool) -> Iterator[tuple[int, list[str]]]:
    lines = iter_lines(path, encoding)
    try:
        first_line, header_text = next(lines)
    except StopIteration:  # pragma: no cover
        return
    header = header_text.split("\t")
    yield first_line, header
    max_split = len(header) - 1
    for line, text in lines:
        yield line, (text.rsplit("\t", max_split) if split_on_last_tab else text.split("\t"))


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader((text for _, text in iter_lines(path, encoding, keepends=True)), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(f"malformed CSV: {_one_line(err)}", path=path, line=reader.line_num) from None


def read_fasttext(
    path: str | Path, *, encoding: str = "utf-8", label_fn: LabelFn | None = None
) -> Iterator[Example]:
    """Read fastText supervised lines: ``__label__<name> <text>`` (one label per line)."""
    path = Path(path)
    count = 0
    for line, raw in iter_lines(path, encoding):
        if not raw.strip():
            continue
        head, _, rest = raw.strip().partition(" ")
        if not head.startswith(FASTTEXT_PREFIX) or head == FASTTEXT_PREFIX:
            raise DataError(
                f"malformed fastText line: expected '{FASTTEXT_PREFIX}<label> <text>'", path=path, line=line
            )
        if rest.lstrip().startswith(FASTTEXT_PREFIX):
            raise DataError(
                "malformed fastText line: more than one label (multi-label is not supported)",
                path=path,
                line=line,
            )
        label = _label(head[len(FASTTEXT_PREFIX) :], label_fn, path, line)
        yield Example(text=_text(rest, path, line), label=label, source=str(path), line=line)
        count += 1
    if count == 0:
        raise DataError("no fastText lines (only blank lines)", path=path)


def read_lines(path: str | Path, *, label: str, encoding: str = "utf-8") -> Iterator[Example]:
    """One text per line, all with one ``label`` (MR: the file is the label); blank lines hold no record."""
    path = Path(path)
    count = 0
    for line, raw in iter_lines(path, encoding):
        text = raw.strip()
        if text:
            yield Example(text=text, label=label, source=str(path), line=line)
            count += 1
    if count == 0:
        raise DataError("no text lines (only blank lines)", path=path)


def read_archive_examples(
    path: str | Path, *, member_pattern: str, encoding: str = "utf-8", label_fn: LabelFn | None = None
) -> Iterator[tuple[dict[str, str | None], Example]]:
    """Read one example per archive member (IMDB); split and label come from the member path.

    ``member_pattern`` is a regex with named groups ``label`` and optionally ``split`` (and ``id``, which
    callers use to order examples). The text is kept raw apart from stripping (HTML ``<br />`` stays: the
    tokenizer replaces it). Yields ``(groups, example)`` with the pattern's named groups.
    """
    path = Path(path)
    count = 0
    for name, match, data in iter_archive_members(path, member_pattern):
        source = f"{path}:{name}"
        groups = match.groupdict()
        if b"\x00" in data[:BINARY_PROBE_BYTES]:
            raise DataError("looks binary (NUL bytes), expected text", path=source)
        label = _label(groups.get("label") or "", label_fn, source, 1)
        yield (
            groups,
            Example(
                text=_text(decode_text(data, encoding, source), source, 1), label=label, source=source, line=1
            ),
        )
        count += 1
    if count == 0:
        raise DataError(f"no archive member matches {member_pattern!r}", path=path)


def iter_archive_texts(
    path: str | Path, *, member_pattern: str = r"\.txt$", encoding: str = "utf-8", whole_members: bool = True
) -> Iterator[str]:
    """Stream texts from matching archive members: one per member, or one per non-blank line."""
    path = Path(path)
    count = 0
    for name, _, data in iter_archive_members(path, member_pattern):
        source = f"{path}:{name}"
        if b"\x00" in data[:BINARY_PROBE_BYTES]:
            raise DataError("looks binary (NUL bytes), expected text", path=source)
        text = decode_text(data, encoding, source)
        for piece in [text] if whole_members else text.splitlines():
            piece = piece.strip()
            if piece:
                count += 1
                yield piece
    if count == 0:
        raise DataError(f"no text in archive members matching {member_pattern!r}", path=path)


def iter_plain_lines(path: str | Path, encoding: str = "utf-8") -> Iterator[str]:
    """Stream the non-blank, stripped lines of a plain-text file: one document per line."""
    for _, raw in iter_lines(path, encoding):
        text = raw.strip()
        if text:
            yield text


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
DELIMITED_SUFFIXES = (".tsv", ".csv")


def read_jsonl_texts(path: str | Path, text_field: str = "text", encoding: str = "utf-8") -> Iterator[str]:
    """Stream the ``text_field`` of every JSON-lines record (blank lines skipped, empty texts too).

    A line that is not a JSON object, lacks the field or holds a non-string there is a `DataError`
    naming the file and line: a corpus for training is fixed, not skipped around.
    """
    for number, raw in iter_lines(path, encoding):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as err:
            raise DataError(f"not valid JSON: {_one_line(err)}", path=path, line=number) from None
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object per line, got {type(record).__name__}", path=path, line=number)
        if text_field not in record:
            fields = ", ".join(map(repr, list(record)[:10])) or "none"
            raise DataError(f"no {text_field!r} field (fields: {fields}); set data.text_field", path=path,
                            line=number)
        text = record[text_field]
        if not isinstance(text, str):
            raise DataError(f"field {text_field!r} is {type(text).__name__}, not a string", path=path, line=number)
        if text.strip():
            yield text


def _delimited_rows(path: Path, encoding: str = "utf-8") -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """``(header, the rows after it)`` of a user's TSV (tab-split) or CSV (quoted) file, by suffix."""
    tsv = logical_suffix(path) == ".tsv"
    rows = _tsv_rows(path, encoding, False) if tsv else _csv_rows(path, encoding, ",")
    try:
        _, header = next(rows)
    except StopIteration:  # pragma: no cover - iter_lines raises on an empty file first
        raise DataError("empty file", path=path) from None
    return header, rows


def delimited_header(path: str | Path) -> list[str]:
    """The header row of a user's TSV/CSV file, parsed as its rows are."""
    return _delimited_rows(Path(path))[0]


def read_text_column(path: str | Path, text_column: str | None = None, encoding: str = "utf-8") -> Iterator[str]:
    """Stream the text column of a TSV/CSV file with a header row (labelled or not).

    The column is ``text_column`` when given, else the first of `TEXT_COLUMNS` in the header. Every
    row must have as many fields as the header (`DataError` with the file and line otherwise).
    """
    path = Path(path)
    tsv = logical_suffix(path) == ".tsv"
    header, rows = _delimited_rows(path, encoding)
    lowered = [h.strip().lower() for h in header]
    wanted = (text_column,) if text_column else TEXT_COLUMNS
    column = next((lowered.index(c.lower()) for c in wanted if c.lower() in lowered), None)
    if column is None:
        found = ", ".join(repr(h.strip()) for h in header)
        what = repr(text_column) if text_column else "one of " + "/".join(TEXT_COLUMNS)
        raise DataError(f"header has no text column (wanted {what}; columns found: {found}); set data.text_column",
                        path=path, line=1)
    for line, fields in rows:
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(header):
            sep = "tab" if tsv else "comma"
            raise DataError(f"expected {len(header)} {sep}-separated columns, found {len(fields)}", path=path,
                            line=line)
        if fields[column].strip():
            yield fields[column]


def sniff_labelled_format(path: str | Path) -> str:
    """Tell a user's labelled file apart by content: ``fasttext``, ``tsv`` or ``csv``.

    fastText wins when the first non-blank line starts with ``__label__`` (whatever the suffix);
    otherwise ``.tsv``/``.csv`` suffixes decide, then a tab or comma in the header line.
    """
    path = Path(path)
    first = None
    for _, raw in iter_lines(path):
        if raw.strip():
            first = raw
            break
    if first is None:
        raise DataError("empty file (only blank lines)", path=path)
    if first.lstrip().startswith(FASTTEXT_PREFIX):
        return "fasttext"
    suffix = logical_suffix(path)
    if suffix in (".tsv", ".csv"):
        return suffix[1:]
    if "\t" in first:
        return "tsv"
    if "," in first:
        return "csv"
    raise DataError(
        "cannot tell the format: the first line is not a fastText line (__label__X text) "
        "nor a TSV/CSV header naming a text and a label column",
        path=path,
        line=1,
    )


def read_user_labelled(path: str | Path) -> Iterator[Example]:
    """Read a user's labelled file (TSV/CSV with header, or fastText), detected by `sniff_labelled_format`."""
    fmt = sniff_labelled_format(path)
    if fmt == "fasttext":
        return read_fasttext(path)
    return read_delimited(path, delimiter="\t" if fmt == "tsv" else ",")


# --------------------------------------------------------------------------------------------------
# CoNLL-U

_RANGE_ID = re.compile(r"^\d+-\d+$")
_EMPTY_NODE_ID = re.compile(r"^\d+\.\d+$")
CONLLU_COLUMNS = 10


def read_conllu(path: str | Path) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file, keeping integer-ID words with their UPOS and XPOS.

    Comment lines (``#``), multiword-token ranges (``19-20``) and empty nodes (``8.1``) are passed
    over: a tagger labels syntactic words, and the range's parts follow as ordinary lines. A last
    sentence without a trailing blank line still counts. A line without exactly 10 tab-separated
    columns, or with an ID that is none of the three forms, raises `DataError` naming the line.
    """
    path = Path(path)
    source = str(path)
    words: list[str] = []
    upos: list[str] = []
    xpos: list[str] = []
    lines: list[int] = []
    start = 0
    count = 0
    for line, raw in iter_lines(path, "utf-8"):
        if not raw.strip():
            if words:
                yield Sentence(words, upos, xpos, source, start, lines)
                count += 1
            words, upos, xpos, lines, start = [], [], [], [], 0
            continue
        if start == 0:
            start = line
        if raw.startswith("#"):
            continue
        cols = raw.split("\t")
        if len(cols) != CONLLU_COLUMNS:
            raise DataError(
                f"malformed CoNLL-U line: expected {CONLLU_COLUMNS} tab-separated columns, found {len(cols)}",
                path=path,
                line=line,
            )
        token_id = cols[0]
        if token_id.isdigit():
            words.append(cols[1])
            upos.append(cols[3])
            xpos.append(cols[4])
            lines.append(line)
        elif not (_RANGE_ID.match(token_id) or _EMPTY_NODE_ID.match(token_id)):
            raise DataError(f"malformed CoNLL-U line: bad token ID {token_id!r}", path=path, line=line)
    if words:
        yield Sentence(words, upos, xpos, source, start, lines)
        count += 1
    if count == 0:
        raise DataError("no sentences (only comments or blank lines)", path=path)
