"""Corpus registry: ``corpora/*.yaml`` → `CorpusSpec`.

A corpus definition is data, not code, so adding a corpus (or pointing at a new mirror) never means
editing a reader. The loader is strict: unknown keys, wrong types and missing checksums raise
`ConfigError` naming the YAML file and key, because a silently ignored typo (``sha265:``) would turn
off verification without anyone noticing.

Example::

    >>> from nlp_pipeline.data import list_corpora, load_spec
    >>> "sst2" in list_corpora()
    True
    >>> load_spec("sst2").labels
    ['negative', 'positive']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.shipped import shipped_dir

KINDS = ("labelled", "unlabelled", "tagged")
FORMATS = ("tsv", "csv", "lines", "fasttext", "tar_members", "conllu")
SOURCES = ("mirror", "gensim")
_SPLIT_NAMES = ("train", "dev", "test")
# Reader settings each format understands; anything else in `reader:` is a typo and is rejected.
READER_KEYS = {"tsv": ("header", "text_column", "label_column", "split_on_last_tab"),
               "csv": ("header", "text_column", "label_column"), "lines": (), "fasttext": (),
               "tar_members": ("member_pattern",), "conllu": ()}


def corpora_dir() -> Path:
    """Where the corpus YAMLs live: ``$NLP_PIPELINE_CORPORA_DIR``, else the shipped definitions (the
    checkout's ``corpora/``, or the installed package's copy: `nlp_pipeline.shipped.shipped_dir`).

    The override points a run at definitions of one's own without editing the shipped ones.
    """
    env = os.environ.get("NLP_PIPELINE_CORPORA_DIR")
    return Path(env) if env else shipped_dir("corpora")


@dataclass(frozen=True)
class DownloadSpec:
    """Where to fetch a file from and what the fetched bytes must hash to.

    ``name`` may differ from the mirror file's name: IMDB's mirror archive is built locally, so a
    fresh machine fetches the official tarball, which holds the same member paths.
    """

    url: str
    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class FileSpec:
    """One file a corpus reads, with the checksum that every copy of it must match."""

    name: str  # file name inside <mirror>/ (and in the user cache)
    bytes: int
    sha256: str
    split: str | None = None  # the split this file holds, when the corpus has one file per split
    label: str | None = None  # the label of every line, when the corpus has one file per label (MR)
    download: DownloadSpec | None = None  # None: no verified download exists (resolution refuses)


@dataclass(frozen=True)
class CorpusSpec:
    """A parsed ``corpora/<name>.yaml``. See ``corpora/sst2.yaml`` for what each field means."""

    name: str
    description: str
    kind: str  # labelled | unlabelled | tagged
    format: str  # reader name, one of FORMATS
    license: str
    citation: str
    homepage: str
    mirror: str  # folder under the data mirror / user cache
    encoding: str
    labels: list[str]
    label_map: dict[str, str]
    splits: list[str]
    files: list[FileSpec]
    reader: dict = field(default_factory=dict)
    source: str = "mirror"  # mirror | gensim (bundled sample, resolved by gensim's datapath)
    path: Path | None = None  # the YAML it came from, for error messages

    def file(self, name: str) -> FileSpec:
        """The `FileSpec` called ``name``; `ConfigError` listing the valid names otherwise."""
        for f in self.files:
            if f.name == name:
                return f
        raise ConfigError(f"corpus {self.name!r} has no file {name!r}; its files: "
                          f"{', '.join(f.name for f in self.files)}", path=self.path)

    def map_label(self, raw: str) -> str | None:
        """Raw label value → canonical name, or None when it is not in the label set."""
        name = self.label_map.get(raw, raw)
        return name if name in self.labels else None


def list_corpora() -> list[str]:
    """Names of the registered corpora (``corpora/*.yaml`` stems), sorted."""
    folder = corpora_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_spec(name: str | Path) -> CorpusSpec:
    """Load a corpus definition by registered name, or from a path to a YAML file of the same schema.

    Raises `ConfigError` listing the valid names when ``name`` is not registered.
    """
    text = str(name)
    if text.endswith((".yaml", ".yml")) or isinstance(name, Path):
        path = Path(name)
        if not path.is_file():
            raise ConfigError("corpus definition not found", path=path)
        return _load_spec_file(path.resolve(), path.stat().st_mtime_ns)
    path = corpora_dir() / f"{text}.yaml"
    if not path.is_file():
        valid = ", ".join(list_corpora()) or f"(none: {corpora_dir()} has no *.yaml)"
        raise ConfigError(f"unknown corpus {text!r}; registered corpora: {valid}")
    return _load_spec_file(path, path.stat().st_mtime_ns)


_REQUIRED = ("name", "description", "kind", "format", "license", "citation", "homepage", "mirror", "files")
_OPTIONAL = ("encoding", "labels", "label_map", "splits", "reader", "source")
_FILE_KEYS = ("name", "bytes", "sha256", "url", "split", "label", "download")
_DOWNLOAD_KEYS = ("url", "name", "bytes", "sha256")


@lru_cache(maxsize=64)
def _load_spec_file(path: Path, _mtime_ns: int) -> CorpusSpec:
    # Cached on (path, mtime) because resolvers call load_spec repeatedly; editing the YAML invalidates it.
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        reason = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ConfigError(f"invalid YAML: {reason}", path=path, line=None if line is None else line + 1) from None
    if not isinstance(raw, dict):
        raise ConfigError("a corpus definition must be a mapping of keys", path=path)
    _check_keys(raw, _REQUIRED, _OPTIONAL, path, "")
    if raw["name"] != path.stem and path.parent == corpora_dir():
        raise ConfigError(f"name {raw['name']!r} must equal the file name {path.stem!r}", path=path)
    spec_kwargs = {k: raw[k] for k in _REQUIRED if k != "files"}
    for key in ("name", "description", "license", "citation", "homepage", "mirror"):
        _expect(spec_kwargs[key], str, path, key)
    _choice(raw["kind"], KINDS, path, "kind")
    _choice(raw["format"], FORMATS, path, "format")
    source = raw.get("source", "mirror")
    _choice(source, SOURCES, path, "source")
    encoding = raw.get("encoding", "utf-8")
    try:
        "".encode(encoding)
    except LookupError:
        raise ConfigError(f"encoding: unknown codec {encoding!r}", path=path) from None
    labels = [str(x) for x in _expect(raw.get("labels") or [], list, path, "labels")]
    label_map = {str(k): str(v) for k, v in _expect(raw.get("label_map") or {}, dict, path, "label_map").items()}
    for raw_value, mapped in label_map.items():
        if mapped not in labels:
            raise ConfigError(f"label_map.{raw_value}: {mapped!r} is not in labels {labels}", path=path)
    splits = [str(x) for x in _expect(raw.get("splits") or [], list, path, "splits")]
    for s in splits:
        _choice(s, _SPLIT_NAMES, path, "splits")
    if raw["kind"] == "labelled" and len(labels) < 2:
        raise ConfigError("a labelled corpus needs at least two labels", path=path)
    files = [_parse_file(f, i, path, labels, splits) for i, f in enumerate(_expect(raw["files"], list, path, "files"))]
    if not files:
        raise ConfigError("files: at least one file is required", path=path)
    reader = _check_reader(_expect(raw.get("reader") or {}, dict, path, "reader"), raw["format"], path)
    return CorpusSpec(**spec_kwargs, encoding=encoding, labels=labels, label_map=label_map, splits=splits, files=files,
                      reader=reader, source=source, path=path)


def _parse_file(raw: object, index: int, path: Path, labels: list[str], splits: list[str]) -> FileSpec:
    where = f"files[{index}]"
    raw = _expect(raw, dict, path, where)
    _check_keys(raw, ("name", "bytes", "sha256"), ("url", "split", "label", "download"), path, where + ".")
    _check_sha(raw["sha256"], path, where)
    d = None
    if "download" in raw:
        d = _expect(raw["download"], dict, path, where + ".download")
        _check_keys(d, _DOWNLOAD_KEYS, (), path, where + ".download.")
        _check_sha(d["sha256"], path, where + ".download")
    elif "url" in raw:
        d = raw  # a plain `url` serves exactly the mirror's bytes: same name, size and checksum
    download = None if d is None else DownloadSpec(url=str(d["url"]), name=str(d["name"]), bytes=int(d["bytes"]),
                                                   sha256=d["sha256"])
    split, label = raw.get("split"), raw.get("label")
    if split is not None and split not in splits:
        raise ConfigError(f"{where}.split: {split!r} is not in splits {splits}", path=path)
    if label is not None and label not in labels:
        raise ConfigError(f"{where}.label: {label!r} is not in labels {labels}", path=path)
    return FileSpec(name=str(raw["name"]), bytes=int(raw["bytes"]), sha256=raw["sha256"], split=split, label=label,
                    download=download)


def _check_reader(reader: dict, fmt: str, path: Path) -> dict:
    _check_keys(reader, (), READER_KEYS[fmt], path, "reader.")
    if reader.get("header", True) is not True:
        raise ConfigError("reader.header: only files with a header row are supported", path=path)
    if fmt == "tar_members":
        pattern = reader.get("member_pattern")
        if not isinstance(pattern, str):
            raise ConfigError("reader.member_pattern: required for format tar_members", path=path)
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigError(f"reader.member_pattern: invalid regex ({err})", path=path) from None
    return reader


def _check_keys(raw: dict, required: tuple, optional: tuple, path: Path, prefix: str) -> None:
    if unknown := sorted(set(raw) - set(required) - set(optional)):
        raise ConfigError(f"unknown key {prefix}{unknown[0]}; valid keys: {', '.join(required + optional)}", path=path)
    if missing := [k for k in required if k not in raw]:
        raise ConfigError(f"missing key {prefix}{missing[0]}", path=path)


def _check_sha(value: object, path: Path, where: str) -> None:
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ConfigError(f"{where}.sha256: expected 64 lower-case hex digits, got {value!r}", path=path)


def _expect(value, kind: type, path: Path, key: str):
    if not isinstance(value, kind):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {type(value).__name__}", path=path)
    return value


def _choice(value: object, options: tuple, path: Path, key: str) -> None:
    if value not in options:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(options)}", path=path)
