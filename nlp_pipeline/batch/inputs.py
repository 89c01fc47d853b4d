"""Batch inputs: the input files of a `process` run → shards, units of work with their own output file.

Finding, sniffing and reading the files is the data layer's (`nlp_pipeline.data.readers`: `find_files`,
`file_format`, `read_records`), so ``process`` accepts exactly the files and records that ``run``'s
text sources do. What is particular to a batch lives here: each input is stat-ed and fingerprinted
when the run is planned, named after its file in the output folder, and a large uncompressed
line-based input is cut into byte-range shards at line boundaries so that several workers can share
it. Records are read under the ``collect`` policy: a bad record is a `Rejection` naming its line and
the stream goes on; only an input that cannot be read as a whole raises `InputError`, failing its shard.

>>> from pathlib import Path; import tempfile
>>> folder = Path(tempfile.mkdtemp()); _ = (folder / "a.txt").write_text("good film\\n\\nbad film\\n")
>>> [shard] = plan_shards(build_sources(find_files([folder])), ReadOptions())
>>> [r.id if isinstance(r, Record) else r.error for r in iter_records(shard, ReadOptions())]
['a.txt:1', 'empty text', 'a.txt:3']
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from nlp_pipeline.data.readers import (
    SUFFIX_FORMATS,
    InputError,
    ReadOptions,
    Record,
    Rejection,
    compression,
    file_format,
    find_files,
    read_records,
)

__all__ = ["InputError", "ReadOptions", "Record", "Rejection", "Shard", "Source", "build_sources", "find_files",
           "iter_records", "number_lines", "plan_shards"]

RESERVED_NAMES = ("errors.jsonl", "summary.json")  # files of the output folder that are not shards
SPLITTABLE = ("text", "fasttext", "jsonl")  # formats where a line start is a record start


@dataclass(frozen=True)
class Source:
    """One input file as found when the run was planned."""

    path: str  # as the user gave it (or as a folder or glob expanded to it): what reports show
    abspath: str  # absolute, resolved: what workers open (a Dask worker's current folder may differ)
    format: str  # as `file_format` settled it: text, fasttext, jsonl, csv, conllu or archive
    compressed: bool  # gzip, bz2 or xz, by magic bytes or suffix
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


def build_sources(paths: Iterable[Path], options: ReadOptions | None = None) -> list[Source]:
    """Stat each file and settle its format and compression now, so that every shard of it agrees."""
    options = options or ReadOptions()
    sources = []
    for path in paths:
        st = path.stat()
        sources.append(Source(str(path), str(path.resolve()), file_format(path, options.format),
                              compression(path) is not None, st.st_size, st.st_mtime_ns))
    return sources


def _stem(path: Path) -> str:
    """``reviews.jsonl.gz`` → ``reviews``; an unknown suffix stays (``notes.md`` → ``notes.md``)."""
    name = path.stem if path.suffix.lower() in (".gz", ".bz2", ".xz") else path.name
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix.lower() in SUFFIX_FORMATS else name


def plan_shards(sources: list[Source], options: ReadOptions, split_bytes: int = 0) -> list[Shard]:
    """One shard per input, named after it; inputs above ``split_bytes`` are cut into line-aligned parts.

    Output names are ``<stem>.jsonl`` (``reviews.txt.gz`` → ``reviews.jsonl``). When two inputs would
    get the same name (``a/x.txt`` and ``b/x.txt``, or ``x.txt`` and ``x.csv``) both get a suffix from
    a hash of their full path, so the names do not depend on which other inputs are in the run, and
    their ids use the path instead of the bare file name. Only uncompressed line-based inputs are split
    (``split_bytes`` > 0): a compressed stream cannot be entered in the middle, and a quoted CSV field
    may hold a newline, so a byte offset is not a record boundary there.
    """
    stems = [_stem(Path(s.path)) for s in sources]
    counts = Counter(stems)
    shards = []
    for source, stem in zip(sources, stems, strict=True):
        label = Path(source.path).name
        if counts[stem] > 1 or f"{stem}.jsonl" in RESERVED_NAMES:
            stem = f"{stem}-{hashlib.sha1(source.abspath.encode()).hexdigest()[:8]}"
            label = source.path
        splittable = split_bytes > 0 and not source.compressed and source.format in SPLITTABLE
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


def iter_records(shard: Shard, options: ReadOptions) -> Iterator[Record | Rejection]:
    """Every record of the shard, in order, as a `Record` or a `Rejection` (records + rejections = lines read)."""
    return read_records(shard.source.abspath, options, errors="collect", fmt=shard.source.format, label=shard.label,
                        start=shard.start, end=shard.end, first_line=shard.first_line)
