"""The one reader layer: bytes on disk → lines, text records, `Example`s and `Sentence`s, streaming.

Every read goes through `_raw_lines` (or `iter_archive_members` for archives), which is where the
checks that protect every format live: the file exists, its compression (gzip, bz2, xz: by magic
bytes, else by suffix) is undone on the fly, it is not binary (NUL bytes, or mostly bytes that are
not text, in its first KB), and a broken compressed stream names the line it reached. Decoding is
done line by line, so a bad byte is reported with its line number, and nothing holds a whole file.

Two families of readers sit on it:

- the *training* readers (`read_delimited`, `read_fasttext`, `read_lines`, `read_conllu`, archives),
  which raise `DataError` with file and line at the first bad record: a training set with a broken
  row is a mistake to fix;
- `read_records`, which turns the user's *text inputs* (plain text one document a line, JSON lines,
  CSV/TSV with a header, fastText lines, CoNLL-U; found by `find_files` in files, folders and globs)
  into `Record`s for every consumer: ``run``'s path text sources, ``process``, ``predict --file`` and
  query files (`iter_input_lines`). Its one error policy is a parameter: ``raise`` (a `DataError`
  naming file and line) or ``collect`` (a bad record comes back as a `Rejection` and the stream goes
  on, which ``process`` needs over millions of documents). Both accept exactly the same records.

Readers never skip a record silently: they only pass over lines that hold no record by definition
(blank lines, CoNLL-U comments, multiword-token ranges and empty nodes), and ``collect`` reports
even those, so that every line is accounted for. An input that cannot be read as a whole (binary,
corrupt compression, a CSV without its text column) raises `InputError` under either policy.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import glob
import gzip
import json
import lzma
import re
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple

from nlp_pipeline.data.types import Example
from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.settings import TextSources, default_of

BINARY_PROBE_BYTES = 1024  # NUL bytes (or mostly non-text bytes) in this many leading bytes → binary, not text
BINARY_NOISE = 0.3  # share of undecodable bytes and control characters in the probe above which a file is binary
MAX_RECORD_BYTES = 16 << 20  # a longer line is not a text record; it is rejected without being held in memory
EXCERPT_CHARS = 120  # how much of a rejected record a `Rejection` repeats
FASTTEXT_PREFIX = "__label__"
# Header names accepted for user TSV/CSV files, in order of preference (matched case-insensitively).
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document", "comment", "body", "tweet", "utterance")
LABEL_COLUMNS = ("label", "labels", "sentiment", "class", "category", "target", "polarity")

# Maps a raw label value to its canonical name, or None when the value is not in the corpus's label set.
LabelFn = Callable[[str], "str | None"]

_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_COMPRESSED = {".gz": "gz", ".bz2": "bz2", ".xz": "xz"}
_MAGIC = re.compile(rb"(\x1f\x8b)|(BZh[1-9]1AY&SY)|(\xfd7zXZ\x00)")  # gzip, bz2, xz stream headers
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)  # gzip.BadGzipFile is an OSError; truncated: EOFError


class InputError(DataError):
    """A whole input cannot be read (missing, binary, corrupt compression, no text column), whatever the policy."""


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


def compression(path: str | Path) -> str | None:
    """``gz``, ``bz2`` or ``xz`` by the stream's magic bytes (a gzipped file without ``.gz`` is still
    read), else by suffix (so a ``.gz`` that is not gzip is reported, not read as text); None if neither."""
    try:
        with open(path, "rb") as f:
            match = _MAGIC.match(f.read(10))
    except OSError:
        match = None  # reported when the file is opened for reading
    if match:
        return ("gz", "bz2", "xz")[match.lastindex - 1]
    return _COMPRESSED.get(Path(path).suffix.lower())


def open_binary(path: str | Path) -> BinaryIO:
    """Open a file for binary reading, transparently decompressing gzip, bz2 and xz (see `compression`).

    Raises `InputError` for a missing file, so callers never see a bare ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found" if not path.exists() else "not a regular file", path=path)
    kind = compression(path)
    return _OPENERS[kind](path, "rb") if kind else open(path, "rb")  # noqa: SIM115 - caller closes


def binary_reason(head: bytes, encoding: str = "utf-8") -> str | None:
    """Why ``head`` is not text: NUL bytes, or mostly bytes that do not decode or are control characters.

    A text file with a few bad bytes (cp1252 accents in a UTF-8 file) stays text and its bad lines are
    reported one by one; a binary file would otherwise become thousands of "lines" of noise.
    """
    if b"\x00" in head:
        return "NUL bytes"
    text = head.decode(encoding, "replace")
    noise = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v"))
    return "mostly bytes that are not text" if noise > BINARY_NOISE * max(len(text), 1) else None


def _raw_lines(path: str | Path, *, stream: BinaryIO | None = None, start: int = 0, end: int | None = None,
               first_line: int = 1, max_bytes: int | None = None, encoding: str = "utf-8",
               ) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes without the line end)`` of a file (or of ``stream``), streaming.

    ``start``/``end`` read a byte range of an uncompressed file whose first line is ``first_line`` (a
    split input). A line longer than ``max_bytes`` comes as ``None`` and is skipped in bounded pieces,
    never held. A UTF-8 byte-order mark is dropped. Raises `InputError` for a missing or binary file
    (checked on its first KB even when reading a later range) and for a broken compressed stream,
    naming the line reached.
    """
    where = "<stdin>" if stream is not None else path
    number = first_line - 1
    try:
        with contextlib.ExitStack() as stack:
            f = stream if stream is not None else stack.enter_context(open_binary(path))
            if stream is None:
                if why := binary_reason(f.read(BINARY_PROBE_BYTES), encoding):
                    raise InputError(f"looks binary ({why} in the first {BINARY_PROBE_BYTES} bytes), expected text "
                                     "(is it UTF-16, an archive, or compressed other than gzip/bz2/xz?)", path=path)
                f.seek(start)
            pos = start
            while end is None or pos < end:
                raw = f.readline(max_bytes + 1 if max_bytes else -1)
                if not raw:
                    break
                pos += len(raw)
                number += 1
                if max_bytes and len(raw) > max_bytes and not raw.endswith(b"\n"):
                    while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pos += len(rest)
                    pos += len(rest)
                    yield number, None
                    continue
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                yield number, raw.rstrip(b"\r\n")
    except _READ_ERRORS as err:
        raise InputError(f"cannot read: {_one_line(err)}", path=where, line=number + 1) from None


def _decode_error(data: bytes, err: UnicodeDecodeError, column: int, encoding: str, path: Path | str,
                  line: int) -> DataError:
    hint = " (cp1252/latin-1 files need encoding cp1252)" if encoding.replace("_", "-").startswith("utf") else ""
    return DataError(f"not valid {encoding} text (byte 0x{data[err.start:err.start + 1].hex()} at column {column}); "
                     f"re-save it as {encoding}{hint}", path=path, line=line)


def iter_lines(path: str | Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a text file (compressed or not), line ends removed.

    Raises `DataError` for a missing, empty or binary file and for the first line that does not
    decode, naming the file and line.
    """
    path = Path(path)
    number = 0
    for number, raw in _raw_lines(path, encoding=encoding):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            raise _decode_error(raw, err, err.start + 1, encoding, path, number) from None
        yield number, text
    if number == 0:
        raise DataError("empty file", path=path)


def decode_text(data: bytes, encoding: str, source: str) -> str:
    """Decode a whole record (an archive member) that is not binary; else report the line of the first bad byte."""
    if b"\x00" in data[:BINARY_PROBE_BYTES]:
        raise DataError("looks binary (NUL bytes), expected text", path=source)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise _decode_error(data, err, column, encoding, source, line) from None


def iter_archive_members(path: str | Path, pattern: str | re.Pattern) -> Iterator[tuple[str, re.Match, bytes]]:
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
# Text inputs: finding files, sniffing formats, reading records under one error policy

FORMATS = ("auto", "text", "jsonl", "csv")  # what a user may ask for; fasttext, conllu and archive are sniffed
SUFFIX_FORMATS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                  ".csv": "csv", ".tsv": "csv", ".conllu": "conllu"}
# A folder contributes files with these suffixes (compressed too); ``.json`` only when named, because a
# ``.json`` file among data is more often one document (metadata, a config) than JSON lines.
FOLDER_SUFFIXES = tuple(s for s in SUFFIX_FORMATS if s != ".json")
BLANK = ("empty text", "empty line")  # rejections of lines that hold no record: skipped under ``raise``
Errors = Literal["raise", "collect"]


class Record(NamedTuple):
    """One document: the line it starts on, its id (``<file name>:<line>`` unless an id field gives one), its text."""

    line: int
    id: str | int
    text: str


class Rejection(NamedTuple):
    """One line or row that holds no readable record, with why (and an excerpt): ``collect``'s report."""

    line: int
    error: str
    excerpt: str = ""


@dataclass(frozen=True)
class ReadOptions:
    """How records are found in text inputs (a batch shard's fingerprint includes them)."""

    format: str = "auto"  # auto (by suffix, then by content: fastText lines, archives), text, jsonl or csv
    text_field: str = default_of(TextSources, "text_field")  # JSON lines: the field holding the text
    id_field: str | None = None  # JSON lines field / CSV column holding the id (default: <file name>:<line>)
    # CSV/TSV: the text column (default: the first of TEXT_COLUMNS in the header)
    text_column: str | None = default_of(TextSources, "text_column")

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"unknown input format {self.format!r}; valid: {', '.join(FORMATS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def find_files(items: Iterable[str | Path], exclude: str | Path | None = None) -> list[Path]:
    """Files, folders and globs → the input files, in the order given; one rule for every command.

    A folder is searched recursively (sorted; hidden files and folders left out) for files with a
    `FOLDER_SUFFIXES` suffix, compressed or not, so a README or an image beside the data is not read;
    a file named directly or by a glob is read whatever its name. A path that does not exist, a glob
    that matches nothing and a folder without text files are `DataError`s naming them: a typo must not
    quietly shrink a corpus. A file reached twice is read once; files under ``exclude`` (an output
    folder inside an input folder) are left out.
    """
    items = list(items)
    out = Path(exclude).expanduser().resolve() if exclude is not None else None
    files: list[Path] = []
    seen: set[Path] = set()
    for item in items:
        for f in _expand(str(item)):
            resolved = f.resolve()
            if resolved not in seen and not (out is not None and resolved.is_relative_to(out)):
                seen.add(resolved)
                files.append(f)
    if not files:
        raise DataError(f"no input files in {', '.join(map(str, items)) or '(nothing given)'}")
    return files


def _expand(item: str) -> list[Path]:
    path = Path(item).expanduser()
    if path.is_dir():
        return _folder_files(path)
    if path.exists():
        if not path.is_file():
            raise DataError("not a regular file", path=path)
        return [path]
    if glob.has_magic(item):
        matches = [Path(m) for m in sorted(glob.glob(str(path), recursive=True))]
        if not matches:
            raise DataError("no file matches this pattern", path=item)
        return [f for m in matches if m.is_dir() or m.is_file() for f in (_folder_files(m) if m.is_dir() else [m])]
    raise DataError("file not found", path=path)


def _folder_files(folder: Path) -> list[Path]:
    files = sorted(f for f in folder.rglob("*") if f.is_file() and logical_suffix(f) in FOLDER_SUFFIXES
                   and not any(part.startswith(".") for part in f.relative_to(folder).parts))
    if not files:
        raise DataError(f"folder has no text files ({', '.join(FOLDER_SUFFIXES)}; gz, bz2, xz too)", path=folder)
    return files


def file_format(path: Path, fmt: str = "auto") -> str:
    """The format a file is read in: ``archive`` for a tar/zip; else ``fmt`` unless ``auto``; else by its
    suffix (`SUFFIX_FORMATS`, compression removed, ``text`` for any other), and a text file whose first
    non-blank line starts with ``__label__`` is ``fasttext``, whose labels are not text."""
    if is_archive(path):
        return "archive"
    if fmt != "auto":
        return fmt
    fmt = SUFFIX_FORMATS.get(logical_suffix(path), "text")
    if fmt == "text":
        with contextlib.suppress(DataError):  # unreadable: reported when it is read
            return "fasttext" if (_first_line(path) or "").lstrip().startswith(FASTTEXT_PREFIX) else fmt
    return fmt


def _first_line(path: Path) -> str | None:
    """The first non-blank line of a text file (at most 64 KB of it), None if there is none; `InputError`s."""
    for _, raw in _raw_lines(path, max_bytes=1 << 16):
        if raw is None or raw.strip():
            return None if raw is None else raw.decode("utf-8", "replace")
    return None


def read_records(path: str | Path, options: ReadOptions | None = None, *, errors: Errors = "raise",
                 fmt: str | None = None, label: str | None = None, start: int = 0, end: int | None = None,
                 first_line: int = 1, stdin: BinaryIO | None = None) -> Iterator[Record | Rejection]:
    """Every document of one text input, in order, as `Record`s; what is wrong with a line per ``errors``.

    ``errors="raise"``: a bad record is a `DataError` naming the file and line, and lines that hold no
    record (blank lines, empty texts) are passed over. ``errors="collect"``: both come back as
    `Rejection`s and reading goes on, so records + rejections account for every line. Bad records:
    bytes that are not UTF-8, a line above `MAX_RECORD_BYTES`, JSON that is not an object or lacks a
    string text field (or the id field), a CSV/TSV row with the wrong number of fields or bad quoting,
    a fastText line without a label. Under either policy an input that cannot be read as a whole raises
    `InputError`.

    Formats (`file_format`): ``text`` (one document a line, stripped), ``fasttext`` (the same without its
    ``__label__`` words), ``jsonl`` (the ``text_field`` of each line's object), ``csv`` (the text column of
    a CSV, or of a TSV split on tabs with quotes kept as text; a quoted CSV field may span lines),
    ``conllu`` (one sentence a record, words joined by spaces), ``archive`` (the lines of a tar/zip's
    ``.txt`` members, under ``raise`` only: they have no single numbering to report lines by). ``start``,
    ``end`` and ``first_line`` read a byte range of an uncompressed line-based file; ``path`` ``-`` reads
    ``stdin`` as plain text. Ids are ``<label>:<line>`` (``label`` defaults to the file name).
    """
    options = options or ReadOptions()
    where = "<stdin>" if str(path) == "-" else str(path)
    fmt = fmt or ("text" if stdin is not None else file_format(Path(path), options.format))
    label = label or Path(where).name
    if fmt == "archive":
        items = _archive_records(Path(path), label, errors)
    elif fmt == "conllu":
        items = _conllu_records(Path(path), label)
    else:
        lines = _raw_lines(path, stream=stdin, start=start, end=end, first_line=first_line, max_bytes=MAX_RECORD_BYTES)
        if fmt == "csv":
            items = _table_records(lines, where, options, label, logical_suffix(Path(where)) == ".tsv")
        elif fmt == "jsonl":
            items = _json_records(_decoded(lines), options, label)
        else:
            items = _text_records(_decoded(lines), label, fmt == "fasttext")
    for item in items:
        if isinstance(item, Record) or errors == "collect":
            yield item
        elif item.error not in BLANK:
            raise DataError(item.error, path=where, line=item.line)


def iter_input_lines(path: str | Path, *, stdin: BinaryIO | None = None, keep_bad: bool = False,
                     format: str = "text") -> Iterator[tuple[int, str | None]]:
    """``(line_number, text)`` of one-item-a-line input (texts to label, queries): `read_records` of a file
    (``format`` ``text`` by default) or of ``stdin`` when ``path`` is ``-``; blank lines are passed over.

    An empty input is no error (nothing to do). With ``keep_bad`` a line that cannot be read comes as
    ``(line_number, None)``, so that a batch can report it and go on; without it, it is a `DataError`
    naming it. A binary file or a corrupt compressed stream is a `DataError`.
    """
    stdin = (stdin or sys.stdin.buffer) if str(path) == "-" else None
    for item in read_records(path, ReadOptions(format), errors="collect" if keep_bad else "raise", stdin=stdin):
        if isinstance(item, Record):
            yield item.line, item.text
        elif item.error not in BLANK:
            yield item.line, None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


_OVERLONG = f"record longer than {MAX_RECORD_BYTES:,} bytes"


def _decoded(lines: Iterable[tuple[int, bytes | None]]) -> Iterator[tuple[int, str | Rejection]]:
    for line, raw in lines:
        if raw is None:
            yield line, Rejection(line, _OVERLONG)
            continue
        try:
            yield line, raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield line, Rejection(line, f"not valid UTF-8 text (byte 0x{raw[err.start:err.start + 1].hex()} at "
                                        f"column {err.start + 1})", _excerpt(raw.decode("utf-8", "replace")))


def _text_records(lines: Iterable[tuple[int, str | Rejection]], label: str,
                  fasttext: bool) -> Iterator[Record | Rejection]:
    for line, text in lines:
        if isinstance(text, Rejection):
            yield text
            continue
        text = text.strip()
        if fasttext and text:
            if not (labels := _FASTTEXT_LABELS.match(text)):
                yield Rejection(line, f"malformed fastText line: expected '{FASTTEXT_PREFIX}<label> <text>'",
                                _excerpt(text))
                continue
            text = text[labels.end():]
        yield Record(line, f"{label}:{line}", text) if text else Rejection(line, "empty text")


_FASTTEXT_LABELS = re.compile(rf"(?:{FASTTEXT_PREFIX}\S+(?:\s+|$))+")


def _json_records(lines: Iterable[tuple[int, str | Rejection]], options: ReadOptions,
                  label: str) -> Iterator[Record | Rejection]:
    name, id_name = options.text_field, options.id_field
    for line, text in lines:
        if isinstance(text, Rejection) or not text.strip():
            yield text if isinstance(text, Rejection) else Rejection(line, "empty line")
            continue
        try:
            obj = json.loads(text)
        except ValueError as err:
            yield Rejection(line, f"not valid JSON: {_one_line(err)}", _excerpt(text))
            continue
        if not isinstance(obj, dict):
            yield Rejection(line, f"expected a JSON object per line, got {type(obj).__name__}", _excerpt(text))
        elif name not in obj:
            fields = ", ".join(map(repr, list(obj)[:10])) or "none"
            yield Rejection(line, f"no {name!r} field (fields: {fields}); set data.text_field or --text-field",
                            _excerpt(text))
        elif not isinstance(obj[name], str):
            yield Rejection(line, f"field {name!r} is {type(obj[name]).__name__}, not a string", _excerpt(text))
        elif not obj[name].strip():
            yield Rejection(line, "empty text", _excerpt(text))
        elif id_name is None:
            yield Record(line, f"{label}:{line}", obj[name])
        elif isinstance(ident := obj.get(id_name), bool) or not isinstance(ident, str | int):
            what = "no" if ident is None else f"a {type(ident).__name__} (not a string or integer) in"
            yield Rejection(line, f"{what} {id_name!r} field", _excerpt(text))
        else:
            yield Record(line, ident, obj[name])


_SURROGATE = re.compile("[\udc80-\udcff]")  # what surrogateescape leaves for bytes that are not UTF-8


def _rows(texts: Iterable[str], delimiter: str, last_tab: bool = False) -> Iterator[tuple[int, list[str] | str]]:
    """``(first line, fields)`` of each row of lines that end in ``\n``; ``(line, error)`` for a CSV row that
    does not parse. TSV is split on tabs with quotes kept as text (the GLUE convention), on its last tabs
    only with ``last_tab`` (SST-2 texts hold tabs); CSV is parsed strictly, a quoted field may span lines."""
    if delimiter == "\t":
        n_split = -1
        for line, text in enumerate(texts, start=1):
            fields = text.rstrip("\n").rsplit("\t", n_split) if last_tab else text.rstrip("\n").split("\t")
            n_split = len(fields) - 1 if line == 1 else n_split
            yield line, fields
        return
    reader = csv.reader(texts, delimiter=delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            yield start, next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield start, f"malformed CSV: {_one_line(err)}"


def _table_records(lines: Iterable[tuple[int, bytes | None]], where: str, options: ReadOptions, label: str,
                   tsv: bool) -> Iterator[Record | Rejection]:
    """CSV/TSV with a header row. Lines are decoded with surrogateescape so that a CSV row holding bytes
    that are not UTF-8 is still parsed (a quoted field can span lines), then rejected as a whole."""
    # An overlong line becomes a NUL-marked row the loop below rejects (csv cannot parse it).
    texts = ("\x00overlong\n" if raw is None else raw.decode("utf-8", "surrogateescape") + "\n" for _, raw in lines)
    rows = _rows(texts, "\t" if tsv else ",")
    line, header = next(rows, (0, []))
    if isinstance(header, str):
        raise InputError(header, path=where, line=line)
    if not header:
        return
    text_idx = _pick_column(header, options.text_column, TEXT_COLUMNS, "text", where,
                            "; set data.text_column or --text-column")
    id_idx = _pick_column(header, options.id_field, (), "id", where) if options.id_field else None
    sep = "tab" if tsv else "comma"
    for line, row in rows:
        if isinstance(row, str):
            yield Rejection(line, row)
            continue
        joined = ("\t" if tsv else ",").join(row)
        if row == ["\x00overlong"]:
            yield Rejection(line, _OVERLONG)
        elif _SURROGATE.search(joined):
            shown = joined.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            yield Rejection(line, "not valid UTF-8 text", _excerpt(shown))
        elif not row or (len(row) == 1 and not row[0].strip()):
            yield Rejection(line, "empty line")
        elif len(row) != len(header):
            yield Rejection(line, f"expected {len(header)} {sep}-separated columns, found {len(row)}", _excerpt(joined))
        elif not row[text_idx].strip():
            yield Rejection(line, "empty text", _excerpt(joined))
        elif id_idx is not None and not row[id_idx].strip():
            yield Rejection(line, f"empty {options.id_field!r} column", _excerpt(joined))
        else:
            yield Record(line, row[id_idx] if id_idx is not None else f"{label}:{line}", row[text_idx])


def _conllu_records(path: Path, label: str) -> Iterator[Record]:
    """A CoNLL-U file's sentences as texts. A malformed line breaks the sentence structure around it, so
    it fails the whole input (`InputError`) under either policy."""
    try:
        for s in read_conllu(path):
            yield Record(s.line, f"{label}:{s.line}", " ".join(s.words))
    except InputError:
        raise
    except DataError as err:
        raise InputError(err.message, path=err.path, line=err.line) from None


def _archive_records(path: Path, label: str, errors: Errors) -> Iterator[Record]:
    if errors == "collect":
        raise InputError("a tar or zip archive, whose lines have no single numbering to report by; extract it "
                         "(text, JSON lines, CSV/TSV and CoNLL-U files are read)", path=path)
    for n, text in enumerate(iter_archive_texts(path, whole_members=False), start=1):
        yield Record(n, f"{label}:{n}", text)


# --------------------------------------------------------------------------------------------------
# Labelled formats


def _label(raw: str, label_fn: LabelFn | None, path: Path | str, line: int) -> str:
    if not raw:
        raise DataError("row without a label", path=path, line=line)
    if label_fn is None:
        return raw
    if (name := label_fn(raw)) is None:
        raise DataError(f"unknown label {raw!r}", path=path, line=line)
    return name


def _text(raw: str, path: Path | str, line: int) -> str:
    if not (text := raw.strip()):
        raise DataError("empty text", path=path, line=line)
    return text


def _pick_column(header: list[str], explicit: str | None, candidates: tuple[str, ...], what: str,
                 path: Path | str, hint: str = "") -> int:
    """The index of column ``explicit`` (exact, else case-insensitive), else of the first of ``candidates``.

    Raises `InputError` listing the columns found, because "no text column" alone does not tell the
    user what to rename.
    """
    if explicit in header:
        return header.index(explicit)
    lowered = [h.strip().lower() for h in header]
    for name in (explicit,) if explicit else candidates:
        if name.strip().lower() in lowered:
            return lowered.index(name.strip().lower())
    wanted = repr(explicit) if explicit else "one of " + "/".join(candidates)
    found = ", ".join(repr(h.strip()) for h in header)
    raise InputError(f"header has no {what} column (wanted {wanted}; columns found: {found}){hint}", path=path, line=1)


def read_delimited(path: str | Path, *, delimiter: str, encoding: str = "utf-8", text_column: str | None = None,
                   label_column: str | None = None, split_on_last_tab: bool = False,
                   label_fn: LabelFn | None = None) -> Iterator[Example]:
    """Read a TSV or CSV file with a header row naming a text and a label column.

    TSV rows are split on tabs without quote handling (the GLUE convention: quotes are text); with
    ``split_on_last_tab`` a row is split on its last tabs only, which SST-2 relies on. CSV goes
    through the `csv` module, so quoted fields may hold commas and newlines (``line`` is then the
    record's first line). Every row must have as many fields as the header.
    """
    path = Path(path)
    header, rows = _delimited_rows(path, delimiter, encoding, split_on_last_tab)
    text_i = _pick_column(header, text_column, TEXT_COLUMNS, "text", path)
    label_i = _pick_column(header, label_column, LABEL_COLUMNS, "label", path)
    n_cols = len(header)
    count = 0
    for line, fields in rows:
        if isinstance(fields, str):
            raise DataError(fields, path=path, line=line)
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line: no record
        if len(fields) != n_cols:
            what = "row without a label: " if len(fields) < n_cols and len(fields) <= label_i else ""
            sep = "tab" if delimiter == "\t" else repr(delimiter)
            raise DataError(f"{what}expected {n_cols} {sep}-separated columns "
                            f"({', '.join(h.strip() for h in header)}), found {len(fields)}", path=path, line=line)
        label = _label(fields[label_i].strip(), label_fn, path, line)
        yield Example(text=_text(fields[text_i], path, line), label=label, source=str(path), line=line)
        count += 1
    if count == 0:
        raise DataError("no data rows after the header", path=path)


def _delimited_rows(path: Path, delimiter: str, encoding: str = "utf-8",
                   last_tab: bool = False) -> tuple[list[str], Iterator[tuple[int, list[str] | str]]]:
    """``(header, the rows after it)`` of a TSV/CSV file (`_rows`); a header that does not parse is a `DataError`."""
    rows = _rows((text + "\n" for _, text in iter_lines(path, encoding)), delimiter, last_tab)
    line, header = next(rows)  # iter_lines raises on an empty file
    if isinstance(header, str):
        raise DataError(header, path=path, line=line)
    return header, rows


def read_fasttext(path: str | Path, *, encoding: str = "utf-8", label_fn: LabelFn | None = None) -> Iterator[Example]:
    """Read fastText supervised lines: ``__label__<name> <text>`` (one label per line)."""
    path = Path(path)
    count = 0
    for line, raw in iter_lines(path, encoding):
        if not raw.strip():
            continue
        head, _, rest = raw.strip().partition(" ")
        if not head.startswith(FASTTEXT_PREFIX) or head == FASTTEXT_PREFIX:
            raise DataError(f"malformed fastText line: expected '{FASTTEXT_PREFIX}<label> <text>'", path=path,
                            line=line)
        if rest.lstrip().startswith(FASTTEXT_PREFIX):
            raise DataError("malformed fastText line: more than one label (multi-label is not supported)", path=path,
                            line=line)
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


def read_archive_examples(path: str | Path, *, member_pattern: str, encoding: str = "utf-8",
                          label_fn: LabelFn | None = None) -> Iterator[tuple[dict[str, str | None], Example]]:
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
        label = _label(groups.get("label") or "", label_fn, source, 1)
        yield groups, Example(text=_text(decode_text(data, encoding, source), source, 1), label=label, source=source,
                              line=1)
        count += 1
    if count == 0:
        raise DataError(f"no archive member matches {member_pattern!r}", path=path)


def iter_archive_texts(path: str | Path, *, member_pattern: str = r"\.txt$", encoding: str = "utf-8",
                       whole_members: bool = True) -> Iterator[str]:
    """Stream texts from matching archive members: one per member, or one per non-blank line."""
    path = Path(path)
    count = 0
    for name, _, data in iter_archive_members(path, member_pattern):
        source = f"{path}:{name}"
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


def delimited_header(path: str | Path) -> list[str]:
    """The header row of a user's TSV (tab-split) or CSV (quoted) file, by suffix, parsed as its rows are."""
    return _delimited_rows(Path(path), "\t" if logical_suffix(Path(path)) == ".tsv" else ",")[0]


def sniff_labelled_format(path: str | Path) -> str:
    """Tell a user's labelled file apart by content: ``fasttext``, ``tsv`` or ``csv``.

    fastText wins when the first non-blank line starts with ``__label__`` (whatever the suffix);
    otherwise ``.tsv``/``.csv`` suffixes decide, then a tab or comma in the header line.
    """
    path = Path(path)
    first = _first_line(path)
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
    raise DataError("cannot tell the format: the first line is not a fastText line (__label__X text) "
                    "nor a TSV/CSV header naming a text and a label column", path=path, line=1)


def read_user_labelled(path: str | Path) -> Iterator[Example]:
    """Read a user's labelled file (TSV/CSV with header, or fastText), detected by `sniff_labelled_format`."""
    fmt = sniff_labelled_format(path)
    return read_fasttext(path) if fmt == "fasttext" else read_delimited(path, delimiter="\t" if fmt == "tsv" else ",")


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
    words, upos, xpos, lines = [], [], [], []  # of the sentence being read: lines are each word's line
    start = count = 0
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
            raise DataError(f"malformed CoNLL-U line: expected {CONLLU_COLUMNS} tab-separated columns, found "
                            f"{len(cols)}", path=path, line=line)
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
