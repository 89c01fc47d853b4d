"""Batch inputs: paths, globs and folders → input shards → a stream of records, one bad record at a time.

Unlike the training readers (`nlp_pipeline.data.readers`), which stop at the first bad line because a
training set with a broken row is a mistake to fix, a batch job over millions of documents must go
on: a record that cannot be read becomes a `Rejection` naming its line, and the stream continues.
Only a whole input that cannot be read (a binary file, a corrupt gzip stream, a CSV without the text
column) raises `InputError`, which fails that one shard.

Everything streams: lines are read one at a time (at most `MAX_RECORD_BYTES` each), gzip is
decompressed on the fly, and nothing holds a whole file. A large uncompressed text or JSON-lines file
is cut into byte-range shards at line boundaries (`plan_shards`) so that several workers can share it.

>>> from pathlib import Path; import tempfile
>>> folder = Path(tempfile.mkdtemp()); _ = (folder / "a.txt").write_text("good film\\n\\nbad film\\n")
>>> [shard] = plan_shards(build_sources(expand_inputs([str(folder)])), ReadOptions())
>>> [r.id if isinstance(r, Record) else r.error for r in iter_records(shard, ReadOptions())]
['a.txt:1', 'empty text', 'a.txt:3']
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO, NamedTuple

from nlp_pipeline.errors import ConfigError, DataError

FORMATS = ("auto", "text", "jsonl", "csv")
# Format by the suffix left once ``.gz`` is removed; anything else is plain text, one document a line.
SUFFIX_FORMATS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                  ".csv": "csv", ".tsv": "csv"}
GZIP_MAGIC = b"\x1f\x8b"
HEAD_BYTES = 1024  # NUL bytes among the first KB (after decompression) → a binary file, not text
BINARY_NOISE = 0.3  # or when more than this share of its first KB is undecodable bytes or control characters
MAX_RECORD_BYTES = 16 << 20  # a longer line is rejected and skipped without being held in memory
EXCERPT_CHARS = 120  # how much of a rejected record the errors file repeats
RESERVED_NAMES = ("errors.jsonl", "summary.json")  # files of the output folder that are not shards
_SURROGATE = re.compile("[\udc80-\udcff]")  # what surrogateescape leaves for bytes that are not UTF-8


class InputError(DataError):
    """A whole input cannot be read (binary, corrupt compression, no text column): its shard fails."""


class Record(NamedTuple):
    """One document to process: where it came from and its text."""

    line: int
    id: str | int
    text: str


class Rejection(NamedTuple):
    """One record that could not be read, reported in the errors file and skipped."""

    line: int
    error: str
    excerpt: str = ""


@dataclass(frozen=True)
class ReadOptions:
    """How records are found in the inputs. Part of each shard's fingerprint: a change redoes the shard."""

    format: str = "auto"  # auto (by suffix: .jsonl/.ndjson/.json, .csv/.tsv, else text), text, jsonl or csv
    text_field: str = "text"  # JSON lines: the field holding the text
    id_field: str | None = None  # JSON lines field / CSV column holding the id (default: <file name>:<line>)
    text_column: str = "text"  # CSV: the header name of the text column

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"unknown input format {self.format!r}; valid: {', '.join(FORMATS)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Source:
    """One input file as found when the run was planned."""

    path: str  # as the user gave it (or as a folder or glob expanded to it): what reports show
    abspath: str  # absolute, resolved: what workers open (a Dask worker's current folder may differ)
    format: str  # text, jsonl or csv
    compressed: bool  # gzip, by suffix or by magic bytes
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Shard:
    """A unit of work with its own output file: a whole input, or a line-aligned byte range of one."""

    source: Source
    name: str  # output file name in the output folder
    label: str  # prefix of generated ids: "<label>:<line>"
    part: int = 0  # 0-based part of a split input
    parts: int = 1
    start: int = 0  # byte range [start, end) of an uncompressed input; end None = to the end
    end: int | None = None
    first_line: int = 1  # line number of the range's first line (set by `number_lines` before reading)

    def identity(self) -> dict:
        """What, besides the task and read options, decides this shard's output."""
        s = self.source
        return {"path": s.abspath, "size": s.size, "mtime_ns": s.mtime_ns, "format": s.format,
                "compressed": s.compressed, "start": self.start, "end": self.end}


# --------------------------------------------------------------------------------------------------
# Finding the inputs


def expand_inputs(inputs: Iterable[str | Path], out_dir: str | Path | None = None) -> list[Path]:
    """Files, folders (recursively, hidden names left out) and globs → the input files, in the order given.

    A path that does not exist, or a glob that matches nothing, is a `ConfigError` naming it: a typo
    must not quietly shrink a batch. Files under ``out_dir`` are left out (a folder input may hold it),
    and a file reached twice is read once.
    """
    out = Path(out_dir).resolve() if out_dir is not None else None
    files: list[Path] = []
    for item in inputs:
        item = str(item)
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(f for f in path.rglob("*") if f.is_file() and not _hidden(f.relative_to(path)))
        elif path.exists():
            if not path.is_file():
                raise ConfigError("input is not a regular file", path=path)
            found = [path]
        elif glob.has_magic(item):
            found = []
            for match in sorted(glob.glob(str(path), recursive=True)):
                m = Path(match)
                if m.is_dir():
                    found += sorted(f for f in m.rglob("*") if f.is_file() and not _hidden(f.relative_to(m)))
                elif m.is_file():
                    found.append(m)
            if not found:
                raise ConfigError(f"no file matches {item!r}")
        else:
            raise ConfigError("input not found", path=path)
        files += found
    seen: set[Path] = set()
    unique = []
    for f in files:
        r = f.resolve()
        if r in seen or (out is not None and r.is_relative_to(out)):
            continue
        seen.add(r)
        unique.append(f)
    if not unique:
        raise ConfigError(f"no input files in {', '.join(map(str, inputs)) or '(nothing given)'}")
    return unique


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def build_sources(paths: Iterable[Path], options: ReadOptions | None = None) -> list[Source]:
    """Stat each file and settle its format and compression (gzip by ``.gz`` or by its magic bytes)."""
    options = options or ReadOptions()
    sources = []
    for path in paths:
        st = path.stat()
        compressed = path.suffix.lower() == ".gz"
        if not compressed:
            try:
                with open(path, "rb") as f:
                    compressed = f.read(2) == GZIP_MAGIC
            except OSError:
                pass  # reported when the shard is read, with the other shards still running
        fmt = options.format
        if fmt == "auto":
            fmt = SUFFIX_FORMATS.get(_logical_suffix(path), "text")
        sources.append(Source(str(path), str(path.resolve()), fmt, compressed, st.st_size, st.st_mtime_ns))
    return sources


def _logical_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).suffix


def _stem(path: Path) -> str:
    """``reviews.jsonl.gz`` → ``reviews``; an unknown suffix stays (``notes.md`` → ``notes.md``)."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in SUFFIX_FORMATS else name


def plan_shards(sources: list[Source], options: ReadOptions, split_bytes: int = 0) -> list[Shard]:
    """One shard per input, named after it; inputs above ``split_bytes`` are cut into line-aligned parts.

    Output names are ``<stem>.jsonl`` (``reviews.txt.gz`` → ``reviews.jsonl``). When two inputs would
    get the same name (``a/x.txt`` and ``b/x.txt``, or ``x.txt`` and ``x.csv``) both get a suffix from
    a hash of their full path, so the names do not depend on which other inputs are in the run, and
    their ids use the path instead of the bare file name. Only uncompressed text and JSON-lines inputs
    are split (``split_bytes`` > 0): a gzip stream cannot be entered in the middle, and a quoted CSV
    field may hold a newline, so a byte offset is not a record boundary there.
    """
    stems = [_stem(Path(s.path)) for s in sources]
    counts = Counter(stems)
    shards = []
    for source, stem in zip(sources, stems, strict=True):
        label = Path(source.path).name
        if counts[stem] > 1 or f"{stem}.jsonl" in RESERVED_NAMES:
            stem = f"{stem}-{hashlib.sha1(source.abspath.encode()).hexdigest()[:8]}"
            label = source.path
        splittable = split_bytes > 0 and not source.compressed and source.format in ("text", "jsonl")
        bounds = _split_points(Path(source.abspath), source.size, split_bytes) if splittable else [0]
        if len(bounds) == 1:
            shards.append(Shard(source, f"{stem}.jsonl", label))
            continue
        n = len(bounds)
        for k, start in enumerate(bounds):
            end = bounds[k + 1] if k + 1 < n else None
            shards.append(Shard(source, f"{stem}-{k + 1:05d}-of-{n:05d}.jsonl", label, k, n, start, end))
    return shards


def _split_points(path: Path, size: int, split_bytes: int) -> list[int]:
    """Byte offsets of line starts about ``split_bytes`` apart (seeks only; the file is not read through)."""
    if size <= split_bytes:
        return [0]
    bounds = [0]
    try:
        with open(path, "rb") as f:
            while bounds[-1] + split_bytes < size:
                f.seek(bounds[-1] + split_bytes)
                while (chunk := f.readline(1 << 20)) and not chunk.endswith(b"\n"):
                    pass  # the rest of a (long) line, in bounded pieces
                if f.tell() >= size:
                    break
                bounds.append(f.tell())
    except OSError:
        return [0]  # unreadable: one shard, whose reading reports the error
    return bounds


def number_lines(shards: list[Shard]) -> list[Shard]:
    """Set ``first_line`` of split parts: one pass per split file counting newlines up to its last needed part.

    Line numbers make ids and error reports meaningful (``reviews.txt:120553``); counting is
    memchr-fast (GB/s), a small fraction of processing the same bytes.
    """
    todo: dict[str, list[int]] = {}
    for shard in shards:
        if shard.start > 0:
            todo.setdefault(shard.source.abspath, []).append(shard.start)
    lines_at: dict[tuple[str, int], int] = {}
    for path, starts in todo.items():
        starts = sorted(set(starts))
        count = pos = 0
        try:
            with open(path, "rb") as f:
                for start in starts:
                    while pos < start:
                        chunk = f.read(min(4 << 20, start - pos))
                        if not chunk:
                            break
                        count += chunk.count(b"\n")
                        pos += len(chunk)
                    lines_at[(path, start)] = count + 1
        except OSError:
            pass  # the shard's own read reports it
    return [replace(s, first_line=lines_at.get((s.source.abspath, s.start), s.first_line)) for s in shards]


# --------------------------------------------------------------------------------------------------
# Reading records


def _open(source: Source) -> BinaryIO:
    return gzip.open(source.abspath, "rb") if source.compressed else open(source.abspath, "rb")  # noqa: SIM115


def _raw_lines(shard: Shard) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes without the line end)`` of the shard's lines; ``None`` for an overlong line.

    Raises `InputError` for an input that is binary or whose (compressed) stream breaks, naming the
    line reached.
    """
    number = shard.first_line - 1
    try:
        with _open(shard.source) as f:
            if shard.start == 0 and (why := _binary(f.read(HEAD_BYTES))):
                raise InputError(f"looks binary ({why} in the first {HEAD_BYTES} bytes), expected text",
                                 path=shard.source.path)
            f.seek(shard.start)
            pos = shard.start
            while shard.end is None or pos < shard.end:
                raw = f.readline(MAX_RECORD_BYTES + 1)
                if not raw:
                    break
                pos += len(raw)
                number += 1
                if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                    while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                        pos += len(rest)
                    pos += len(rest)
                    yield number, None
                    continue
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # UTF-8 byte-order mark
                yield number, raw.rstrip(b"\r\n")
    except (OSError, EOFError, zlib.error) as err:
        # gzip.BadGzipFile is an OSError; a truncated gzip stream is an EOFError.
        message = " ".join(str(err).split()) or type(err).__name__
        raise InputError(f"cannot read: {message}", path=shard.source.path, line=number + 1) from None


def _binary(head: bytes) -> str | None:
    """Why ``head`` is not text: NUL bytes, or mostly bytes that are neither UTF-8 nor printable.

    A text file with a few bad bytes (cp1252 accents) stays text, and its bad lines are rejected one
    by one; a binary file would otherwise become thousands of rejected "lines" of noise.
    """
    if b"\x00" in head:
        return "NUL bytes"
    text = head.decode("utf-8", "replace")
    noise = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\v"))
    return "mostly bytes that are not UTF-8 text" if noise > BINARY_NOISE * max(len(text), 1) else None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _decode(raw: bytes) -> str | Rejection:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return Rejection(0, f"not valid UTF-8 (byte 0x{raw[err.start:err.start + 1].hex()} at column "
                            f"{err.start + 1})", _excerpt(raw.decode("utf-8", "replace")))


_OVERLONG = f"record longer than {MAX_RECORD_BYTES:,} bytes"


def iter_records(shard: Shard, options: ReadOptions) -> Iterator[Record | Rejection]:
    """Every line (text, JSON lines) or row (CSV) of the shard, in order, as a `Record` or a `Rejection`.

    Rejected: bytes that are not UTF-8, an empty or blank text, a line that is not a JSON object, a
    missing or non-string text field, a missing id, a CSV row with the wrong number of fields or bad
    quoting. Every line is accounted for, so records + rejections = lines read.
    """
    fmt = shard.source.format
    if fmt == "csv":
        yield from _csv_records(shard, options)
        return
    for line, raw in _raw_lines(shard):
        if raw is None:
            yield Rejection(line, _OVERLONG)
            continue
        text = _decode(raw)
        if isinstance(text, Rejection):
            yield text._replace(line=line)
        elif fmt == "jsonl":
            yield _json_record(line, text, shard, options)
        elif not text.strip():
            yield Rejection(line, "empty text")
        else:
            yield Record(line, f"{shard.label}:{line}", text)


def _json_record(line: int, text: str, shard: Shard, options: ReadOptions) -> Record | Rejection:
    if not text.strip():
        return Rejection(line, "empty line")
    try:
        obj = json.loads(text)
    except ValueError as err:
        return Rejection(line, f"malformed JSON: {err}", _excerpt(text))
    if not isinstance(obj, dict):
        return Rejection(line, f"not a JSON object but a {type(obj).__name__}", _excerpt(text))
    value = obj.get(options.text_field)
    if value is None:
        return Rejection(line, f"no {options.text_field!r} field", _excerpt(text))
    if not isinstance(value, str):
        return Rejection(line, f"field {options.text_field!r} is a {type(value).__name__}, not a string",
                         _excerpt(text))
    if not value.strip():
        return Rejection(line, "empty text", _excerpt(text))
    if options.id_field is None:
        return Record(line, f"{shard.label}:{line}", value)
    ident = obj.get(options.id_field)
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        what = "no" if ident is None else f"a {type(ident).__name__} (not a string or integer) in"
        return Rejection(line, f"{what} {options.id_field!r} field", _excerpt(text))
    return Record(line, ident, value)


def _csv_records(shard: Shard, options: ReadOptions) -> Iterator[Record | Rejection]:
    """CSV/TSV with a header row. Lines are decoded with surrogateescape so that a row holding bytes that
    are not UTF-8 is still parsed (a quoted field can span lines) and then rejected as a whole."""
    at = {"line": shard.first_line - 1}

    def lines() -> Iterator[str]:
        for line, raw in _raw_lines(shard):
            at["line"] = line
            # An overlong line becomes a NUL-marked row the loop below rejects (csv cannot parse it).
            yield "\x00overlong\n" if raw is None else raw.decode("utf-8", "surrogateescape") + "\n"

    delimiter = "\t" if _logical_suffix(Path(shard.source.path)) == ".tsv" else ","
    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise InputError(f"unreadable CSV header: {err}", path=shard.source.path, line=at["line"]) from None
    text_idx = _column(header, options.text_column, shard, "text")
    id_idx = _column(header, options.id_field, shard, "id") if options.id_field else None
    while True:
        start = at["line"] + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield Rejection(start, f"bad CSV row: {err}")
            continue
        joined = delimiter.join(row)
        if row == ["\x00overlong"]:
            yield Rejection(start, _OVERLONG)
        elif _SURROGATE.search(joined):
            yield Rejection(start, "not valid UTF-8", _excerpt(joined.encode("utf-8", "surrogateescape")
                                                               .decode("utf-8", "replace")))
        elif not row:
            yield Rejection(start, "empty line")
        elif len(row) != len(header):
            yield Rejection(start, f"bad CSV row: {len(row)} fields, the header has {len(header)}", _excerpt(joined))
        elif not row[text_idx].strip():
            yield Rejection(start, "empty text", _excerpt(joined))
        elif id_idx is not None and not row[id_idx].strip():
            yield Rejection(start, f"empty {options.id_field!r} column", _excerpt(joined))
        else:
            yield Record(start, row[id_idx] if id_idx is not None else f"{shard.label}:{start}", row[text_idx])


def _column(header: list[str], name: str | None, shard: Shard, what: str) -> int:
    """Index of the header column ``name`` (exact, else case-insensitive); a missing one fails the input."""
    if name in header:
        return header.index(name)
    lowered = [h.strip().lower() for h in header]
    if name and name.strip().lower() in lowered:
        return lowered.index(name.strip().lower())
    raise InputError(f"no {name!r} {what} column in the CSV header (columns: {', '.join(header)}); "
                     f"choose one with --{what}-{'column' if what == 'text' else 'field'}",
                     path=shard.source.path, line=shard.first_line)
