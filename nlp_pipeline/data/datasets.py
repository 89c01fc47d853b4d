"""Corpora → `LabelledDataset`s, tagged sentences and text streams: what the rest of the pipeline calls.

A *corpus* is a registered name (``corpora/<name>.yaml``) or a path to the user's own labelled data:
a TSV/CSV file with a header naming a text and a label column, a fastText file (``__label__X text``),
optionally gzipped, or a folder holding ``train.*`` and optionally ``dev.*``/``test.*`` in those
formats. Registered names win over same-named relative paths; pass a `Path` (or ``./name``) to force
a path.

Splits: a corpus's own splits are used as they are. A missing dev split is carved from train; a
corpus without any splits (MR, gensim's sample, a single user file) has dev *and* test carved from
all its examples. Carving is stratified by label and seeded, so a given seed always gives the same
split, whatever machine or mirror the bytes came from.

Example::

    >>> from nlp_pipeline.data import load_labelled
    >>> ds = load_labelled("pang_lee_polarity")   # gensim's bundled 200 lines, no download
    >>> ds.labels, {k: len(v) for k, v in ds.splits.items()}
    (['negative', 'positive'], {'train': 160, 'dev': 20, 'test': 20})
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from nlp_pipeline.data.readers import (
    LABEL_COLUMNS,
    SUFFIX_FORMATS,
    ReadOptions,
    Sentence,
    delimited_header,
    find_files,
    is_archive,
    iter_archive_texts,
    iter_plain_lines,
    logical_suffix,
    read_archive_examples,
    read_conllu,
    read_delimited,
    read_fasttext,
    read_lines,
    read_records,
    read_user_labelled,
    sniff_labelled_format,
)
from nlp_pipeline.data.registry import CorpusSpec, list_corpora, load_spec
from nlp_pipeline.data.resolve import resolve_file
from nlp_pipeline.data.types import Example, LabelledDataset
from nlp_pipeline.errors import ConfigError, DataError, excerpt

SPLITS = ("train", "dev", "test")
_SPLIT_ALIASES = {**{s: s for s in SPLITS}, "valid": "dev", "validation": "dev", "val": "dev"}


# --------------------------------------------------------------------------------------------------
# Public API


def corpus_files(corpus: str | Path, data_dir: str | Path | None = None) -> list[Path]:
    """Every file a corpus (registered or a user path) reads, resolved and verified (for fingerprints)."""
    spec, path = _corpus(corpus)
    if spec is not None:
        return [resolve_file(spec, f.name, data_dir) for f in spec.files]
    if path.is_dir():
        return list((tagged_split_files(path) if is_tagged_corpus(path) else _user_split_files(path)).values())
    _require_file(path)
    return [path]


def load_labelled(corpus: str | Path, data_dir: str | Path | None = None, dev_fraction: float = 0.1,
                  test_fraction: float = 0.1, seed: int = 13, labels: list[str] | tuple[str, ...] | None = None,
                  min_label_count: int = 1) -> LabelledDataset:
    """Load a labelled corpus into train / dev / (test) splits, carving missing ones (see module docstring).

    ``corpus`` is a registered name (``"sst2"``, ``"imdb"``, ``"mr"``, ``"pang_lee_polarity"``) or a path to
    user data; ``data_dir`` the folder holding ``<mirror>/<file>`` (it overrides ``$NLP_PIPELINE_DATA_DIR``,
    see `resolve_file`). ``dev_fraction``/``test_fraction`` are the shares of examples (per label) carved
    into dev/test when the corpus lacks them (test only for corpora without any splits), shuffled with
    ``seed``: the same seed gives the same splits. ``labels`` is the label set (and output order) the data
    must use, any other label a `DataError` at its file:line (None: a registered corpus's labels, or those
    of a user file's train split). A label seen fewer than ``min_label_count`` times in training is a
    `DataError` naming its first lines: a stray ``Positive`` or ``maybe`` among ``pos``/``neg`` would
    otherwise become a class.

    ``info`` records the origin, files, which splits are official or carved (from what, which fraction),
    the seed and per-split label counts.
    """
    _check_fractions(dev_fraction, test_fraction)
    spec, path = _corpus(corpus, "labelled")
    if spec is not None:
        files = corpus_files(spec.name, data_dir)
        by_split = _group(_spec_records(spec, data_dir, ordered=True))
        for split in spec.splits:
            if not by_split.get(split):
                raise DataError(f"{spec.name}: no {split} examples found", path=files[0])
        name, origin, fmt = spec.name, "registry", spec.format
        if labels is not None and set(labels) != set(spec.labels):
            raise ConfigError(f"data.labels={list(labels)} differ from corpus {spec.name!r}'s labels "
                              f"{spec.labels}", path=spec.path)
        labels = list(labels) if labels is not None else list(spec.labels)
    else:
        name, fmt = path.name, "user"
        if path.is_dir():
            split_files = _user_split_files(path)
            by_split = {split: list(read_user_labelled(p)) for split, p in split_files.items()}
            files = list(split_files.values())
        else:
            _require_file(path)
            by_split = {None: list(read_user_labelled(path))}
            files = [path]
        # The label set is what training sees: a dev/test label never seen in training is an error
        # (a classifier cannot predict it, and silently dropping the rows would inflate accuracy).
        train_key = "train" if "train" in by_split else None
        declared = labels is not None
        labels = list(labels) if declared else sorted({ex.label for ex in by_split[train_key]})
        for split, exs in by_split.items():
            for ex in exs:
                if ex.label not in labels:
                    where = "data.labels" if declared else "training labels"
                    in_split = f" in the {split} split" if split else ""
                    raise DataError(f"unknown label {excerpt(ex.label)!r}{in_split} ({where}: {', '.join(labels)})",
                                    path=ex.source or path, line=ex.line)
        if len(labels) < 2:
            raise DataError(f"only one label ({labels[0]!r}) in the data; a classifier needs at least two", path=path)
        origin = "path"
    train_examples = by_split.get("train") or by_split.get(None) or []
    _check_label_counts(train_examples, labels, min_label_count, files[0])
    splits, provenance, carved = _assemble(by_split, labels, dev_fraction, test_fraction, seed, files[0])
    info = {"corpus": name, "origin": origin, "format": fmt, "files": [str(f) for f in files], "seed": seed,
            "dev_fraction": dev_fraction, "test_fraction": test_fraction, "splits": provenance, "carved": carved,
            "sizes": {s: len(exs) for s, exs in splits.items()},
            "counts": {s: _label_counts(exs, labels) for s, exs in splits.items()}}
    return LabelledDataset(name=name, labels=labels, splits=splits, info=info)


def load_tagged(corpus: str | Path = "ud_en_ewt", data_dir: str | Path | None = None, dev_fraction: float = 0.0,
                test_fraction: float = 0.0, seed: int = 13) -> dict[str, list[Sentence]]:
    """Load a tagged (CoNLL-U) corpus as ``{split: sentences}``, carving missing splits from train.

    ``corpus`` is a registered tagged corpus, a path to one CoNLL-U file (its sentences are ``train``),
    or a folder of CoNLL-U files whose names say their split (``train.conllu``, ``en_ewt-ud-dev.conllu``:
    see `tagged_split_files`). When there is no dev split and ``dev_fraction > 0``, that share of the
    train sentences (shuffled with ``seed``) becomes dev; likewise test with ``test_fraction`` when
    there is neither dev nor test, so a single file still gives an honest evaluation.
    """
    spec, path = _corpus(corpus, "tagged")
    files = ({f.split or "train": resolve_file(spec, f.name, data_dir) for f in spec.files} if spec is not None
             else tagged_split_files(path))
    splits = {split: list(read_conllu(p)) for split, p in files.items()}
    carve_test = test_fraction > 0 and "dev" not in splits and "test" not in splits
    if ("dev" not in splits and dev_fraction > 0) or carve_test:
        sentences = splits["train"]
        order = list(range(len(sentences)))
        random.Random(seed).shuffle(order)
        n_dev = round(len(order) * dev_fraction) if "dev" not in splits else 0
        n_test = round(len(order) * test_fraction) if carve_test else 0
        if len(order) - n_dev - n_test < 1 or (dev_fraction > 0 and "dev" not in splits and n_dev < 1):
            raise DataError(f"{len(order)} sentences are too few to carve dev/test splits from", path=files["train"])
        if n_dev:
            splits["dev"] = [sentences[i] for i in sorted(order[:n_dev])]
        if n_test:
            splits["test"] = [sentences[i] for i in sorted(order[n_dev : n_dev + n_test])]
        splits["train"] = [sentences[i] for i in sorted(order[n_dev + n_test :])]
    return splits


def check_tags(splits: dict[str, list[Sentence]], tagset: str) -> None:
    """Every word has a ``tagset`` tag: ``_`` or an empty column is a `DataError` at the word's line.

    UD treebanks may leave XPOS as ``_``; a tagger trained on them would learn ``_`` as a class.
    """
    for sentences in splits.values():
        for s in sentences:
            for i, tag in enumerate(getattr(s, tagset)):
                if tag.strip() in ("", "_"):
                    line = s.word_lines[i] if s.word_lines else s.line
                    raise DataError(
                        f"word {i + 1} ({excerpt(s.words[i])!r}) has no {tagset.upper()} tag ({tag!r}); "
                        f"data.tagset={tagset} needs one on every word"
                        + (" (try data.tagset=upos)" if tagset == "xpos" else ""),
                        path=s.source, line=line)


def tagged_split_files(path: Path) -> dict[str, Path]:
    """``{split: file}`` for a user's CoNLL-U file (train) or folder of CoNLL-U files.

    In a folder, each ``.conllu`` file's split is the word ``train``/``dev``/``test`` (or valid,
    validation, val) in its name, delimited by ``-``, ``_`` or ``.``: ``train.conllu`` and UD's
    ``en_ewt-ud-dev.conllu`` both work. Two files for one split, a file naming no split, or no train
    file is a `DataError` naming the folder.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        _require_file(path)
        return {"train": path}
    found: dict[str, Path] = {}
    for p in sorted(path.iterdir()):
        if not p.is_file() or p.name.startswith(".") or ".conllu" not in p.name.lower():
            continue
        words = re.split(r"[-_.]", p.name.lower())
        splits = {_SPLIT_ALIASES[w] for w in words if w in _SPLIT_ALIASES}
        if len(splits) != 1:
            raise DataError(f"cannot tell the split of {p.name}: name it train/dev/test.conllu", path=path)
        split = splits.pop()
        if split in found:
            raise DataError(f"several {split} files ({found[split].name}, {p.name}); keep one", path=path)
        found[split] = p
    if "train" not in found:
        raise DataError("folder has no train CoNLL-U file (e.g. train.conllu)", path=path)
    return {s: found[s] for s in SPLITS if s in found}


def is_tagged_corpus(corpus: str | Path) -> bool:
    """Whether ``corpus`` names a registered tagged corpus or a CoNLL-U file or folder."""
    if isinstance(corpus, str) and corpus in list_corpora():
        return load_spec(corpus).kind == "tagged"
    path = Path(corpus).expanduser()
    if path.is_dir():
        return any(".conllu" in p.name.lower() for p in path.iterdir())
    return ".conllu" in path.name.lower()


def iter_texts(source: str | Path, data_dir: str | Path | None = None, *, text_field: str = "text",
               text_column: str | None = None) -> Iterator[str]:
    """Stream raw texts (one document each) for embedding pretraining; never holds a corpus in memory.

    ``source`` is one of:

    - an unlabelled corpus (``"imdb_unsup"``, ``"lee_background"``): every document;
    - ``"<corpus>:<split>"`` (``"imdb:train"``, ``"sst2:train"``): the texts of that split. An official
      split streams from its file *as published*: ``imdb:train`` is all 25,000 official train reviews,
      including the ones `load_labelled` carves into dev (harmless for unsupervised pretraining). A split
      that exists only after carving (``"mr:train"``, ``"imdb:dev"``) comes from `load_labelled` with its
      default fractions and seed, which is not streamed (these corpora are small or the split is);
    - a labelled or tagged corpus name alone (``"mr"``, ``"ud_en_ewt"``): all its texts (tagged: words
      joined by spaces);
    - a path, folder or glob (``data/*.jsonl.gz``), found by `find_files` and read by `read_records`,
      exactly as ``nlp-pipeline process`` finds and reads its inputs: plain text (one document per
      non-blank line), fastText lines (their text), JSON lines (the ``text_field`` of each record),
      CSV/TSV with a header (its ``text_column``, else the first of `TEXT_COLUMNS`), CoNLL-U (its
      sentences), each gzip/bz2/xz compressed or not; or a ``.tar.gz``/``.zip`` whose ``.txt`` members
      are read line by line. A malformed record is a `DataError` with file and line.

    Unknown names raise `ConfigError` at call time, not at the first ``next()``.
    """
    kind, spec, split, path = _text_source(source)
    if kind == "path":
        return _iter_path_texts(find_files([path]), text_field, text_column)  # files found now
    if kind == "carved":
        ds = load_labelled(spec.name, data_dir)
        return (ex.text for ex in ds.splits[split])
    for f in _source_file_specs(spec, split):
        resolve_file(spec, f.name, data_dir)  # fail now (missing/corrupt file), not mid-stream
    return _spec_texts(spec, data_dir, split)


def source_files(source: str | Path, data_dir: str | Path | None = None) -> list[Path]:
    """The files behind an `iter_texts` source (for cache fingerprints), resolved and verified."""
    kind, spec, split, path = _text_source(source)
    if kind == "path":
        return find_files([path])
    if kind == "carved":
        return corpus_files(spec.name, data_dir)
    return [resolve_file(spec, f.name, data_dir) for f in _source_file_specs(spec, split)]


# --------------------------------------------------------------------------------------------------
# Corpus / source parsing


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or bool(Path(text).suffix) or text.startswith(("~", "."))


def _corpus(corpus: str | Path, kind: str | None = None) -> tuple[CorpusSpec | None, Path]:
    """(spec, None-ish path) for a registered name (of ``kind`` when given), (None, path) for user data;
    ConfigError otherwise."""
    if isinstance(corpus, str) and corpus in list_corpora():
        spec = load_spec(corpus)
        if kind is not None and spec.kind != kind:
            alike = [n for n in list_corpora() if load_spec(n).kind == kind]
            raise ConfigError(f"corpus {spec.name!r} is {spec.kind}, not {kind}; {kind} corpora: {', '.join(alike)}")
        return spec, Path()
    if isinstance(corpus, Path) or _looks_like_path(corpus) or Path(corpus).exists():
        return None, Path(corpus).expanduser()
    raise ConfigError(f"unknown corpus {corpus!r}; registered corpora: {', '.join(list_corpora())} "
                      "(or give a path to a TSV/CSV/fastText file or a folder with train.*)")


def _require_file(path: Path) -> None:
    if not path.exists():
        raise DataError("file not found", path=path)
    if not path.is_file():
        raise DataError("not a regular file", path=path)


def _user_split_files(folder: Path) -> dict[str, Path]:
    """``train.*`` / ``dev.*`` (or valid/validation/val) / ``test.*`` in a user's folder."""
    found: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        split = _SPLIT_ALIASES.get(p.name.split(".")[0].lower())
        if split and p.is_file() and not p.name.startswith("."):
            found.setdefault(split, []).append(p)
    for split, paths in found.items():
        if len(paths) > 1:
            raise DataError(f"several {split} files ({', '.join(p.name for p in paths)}); keep one", path=folder)
    if "train" not in found:
        names = ", ".join(sorted(p.name for p in folder.iterdir())) or "none"
        raise DataError(f"folder has no train.* file (files found: {names})", path=folder)
    return {s: found[s][0] for s in SPLITS if s in found}


def _text_source(source: str | Path) -> tuple[str, CorpusSpec | None, str | None, Path | None]:
    """Classify an `iter_texts` source as ``(kind, spec, split, path)``; kind is path, spec or carved."""
    if isinstance(source, Path):
        return "path", None, None, source.expanduser()
    names = list_corpora()
    name, sep, split = source.partition(":")
    if name in names and (not sep or split):
        spec = load_spec(name)
        if not sep:
            return "spec", spec, None, None
        if split in spec.splits:
            return "spec", spec, split, None
        if spec.kind == "labelled" and split in SPLITS and not (spec.splits and split == "test"):
            return "carved", spec, split, None
        carvable = " (load_labelled carves train, dev, test)" if spec.kind == "labelled" else ""
        have = ", ".join(spec.splits) or f"none{carvable}"
        raise ConfigError(f"corpus {name!r} has no split {split!r}; its splits: {have}")
    if _looks_like_path(source) or Path(source).exists():
        return "path", None, None, Path(source).expanduser()
    raise ConfigError(f"unknown text source {source!r}; use a corpus ({', '.join(names)}), '<corpus>:<split>' "
                      "(e.g. imdb:train), or a path to a .txt file / folder / archive")


def _source_file_specs(spec: CorpusSpec, split: str | None):
    if split is None:
        return list(spec.files)
    per_split = [f for f in spec.files if f.split == split]
    return per_split or list(spec.files)  # archive formats hold every split in one file


# --------------------------------------------------------------------------------------------------
# Reading registered corpora


def _spec_records(spec: CorpusSpec, data_dir: str | Path | None, split: str | None = None,
                  ordered: bool = False) -> Iterator[tuple[str | None, Example]]:
    """Yield ``(split, example)`` for a labelled spec; only ``split``'s examples when given."""
    r, fmt = spec.reader, spec.format
    if fmt == "tar_members":
        records = []
        for f in spec.files:
            path = resolve_file(spec, f.name, data_dir)
            for groups, ex in read_archive_examples(path, member_pattern=r["member_pattern"], encoding=spec.encoding,
                                                    label_fn=spec.map_label):
                if split is not None and groups.get("split") != split:
                    continue
                if not ordered:
                    yield groups.get("split"), ex
                    continue
                # The official tarball and the mirror archive order members differently; sorting by
                # (split, label, numeric id) makes the dataset identical whichever was found.
                key = (groups.get("split") or "", spec.labels.index(ex.label), int(groups.get("id") or 0), ex.source)
                records.append((key, groups.get("split"), ex))
        records.sort(key=lambda rec: rec[0])
        for _, s, ex in records:
            yield s, ex
        return
    for f in spec.files:
        if split is not None and f.split != split:
            continue
        path = resolve_file(spec, f.name, data_dir)
        if fmt in ("tsv", "csv"):
            examples = read_delimited(path, delimiter="\t" if fmt == "tsv" else ",", encoding=spec.encoding,
                                      text_column=r.get("text_column"), label_column=r.get("label_column"),
                                      split_on_last_tab=bool(r.get("split_on_last_tab", False)),
                                      label_fn=spec.map_label)
        elif fmt == "fasttext":
            examples = read_fasttext(path, encoding=spec.encoding, label_fn=spec.map_label)
        elif fmt == "lines":
            if f.label is None:
                raise ConfigError(f"files: {f.name} needs a label (format lines: one label per file)", path=spec.path)
            examples = read_lines(path, label=f.label, encoding=spec.encoding)
        else:
            raise ConfigError(f"format {fmt!r} does not hold labelled examples", path=spec.path)
        for ex in examples:
            yield f.split, ex


def _spec_texts(spec: CorpusSpec, data_dir: str | Path | None, split: str | None) -> Iterator[str]:
    if spec.kind == "labelled":
        for _, ex in _spec_records(spec, data_dir, split):
            yield ex.text
        return
    for f in _source_file_specs(spec, split):
        path = resolve_file(spec, f.name, data_dir)
        if spec.format == "conllu":
            for sentence in read_conllu(path):
                yield " ".join(sentence.words)
        elif spec.format == "tar_members":
            yield from iter_archive_texts(path, member_pattern=spec.reader["member_pattern"], encoding=spec.encoding)
        elif spec.format == "lines":
            yield from iter_plain_lines(path, spec.encoding)
        else:
            raise ConfigError(f"format {spec.format!r} is not supported for unlabelled text", path=spec.path)


def text_options(files: list[Path], text_field: str, text_column: str | None) -> tuple[tuple[str, object], ...]:
    """The read settings that shape what ``files`` give (for a cache key): only those some file uses."""
    formats = {SUFFIX_FORMATS.get(logical_suffix(f)) for f in files}
    options: list[tuple[str, object]] = []
    if "jsonl" in formats:
        options.append(("text_field", text_field))
    if "csv" in formats and text_column is not None:
        options.append(("text_column", text_column))
    return tuple(options)


def is_labelled_file(path: str | Path) -> bool:
    """Whether a user's file holds labelled examples: fastText ``__label__`` lines, or a ``.tsv``/``.csv``
    file whose header names a label column.

    Such a file given as a pretraining source contributes its text column only (never its header or
    labels), and its dev/test examples are held out like any labelled corpus's.
    """
    path = Path(path).expanduser()
    if not path.is_file() or is_archive(path):
        return False
    if logical_suffix(path) in (".tsv", ".csv"):  # labelled when its header names a label column
        try:
            header = delimited_header(path)
        except DataError:
            return False
        return bool({c.strip().lower() for c in header} & set(LABEL_COLUMNS))
    try:
        return sniff_labelled_format(path) == "fasttext"
    except DataError:
        return False


def _iter_path_texts(files: list[Path], text_field: str = "text", text_column: str | None = None) -> Iterator[str]:
    """The texts of a path source's files: `read_records` with the ``raise`` policy, as ``process`` reads them."""
    options = ReadOptions(text_field=text_field, text_column=text_column)
    for f in files:
        for record in read_records(f, options):
            yield record.text


# --------------------------------------------------------------------------------------------------
# Splits


def _check_fractions(dev_fraction: float, test_fraction: float) -> None:
    for key, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ConfigError(f"{key} must be in [0, 1), got {value}")
    if dev_fraction + test_fraction >= 1:
        raise ConfigError(f"dev_fraction + test_fraction must be below 1, got {dev_fraction + test_fraction}")


def _group(records: Iterator[tuple[str | None, Example]]) -> dict[str | None, list[Example]]:
    out: dict[str | None, list[Example]] = {}
    for split, ex in records:
        out.setdefault(split, []).append(ex)
    return out


def _label_counts(examples: list[Example], labels: list[str]) -> dict[str, int]:
    counts = Counter(ex.label for ex in examples)
    return {label: counts.get(label, 0) for label in labels}


def carve(examples: list[Example], fractions: list[tuple[str, float]], labels: list[str],
          seed: int) -> dict[str, list[Example]]:
    """Split ``examples`` into ``train`` plus one split per ``(name, fraction)``, stratified by label.

    Each label's examples are shuffled with one ``random.Random(seed)`` (labels visited in canonical
    order) and the first ``round(n * fraction)`` go to each carved split in turn; the rest stay in train.
    Every split keeps the original order of its examples, so output is deterministic and readable.
    """
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {label: [] for label in labels}
    for i, ex in enumerate(examples):
        by_label[ex.label].append(i)
    assigned: dict[int, str] = {}
    for label in labels:
        indices = by_label[label]
        rng.shuffle(indices)
        start = 0
        for name, fraction in fractions:
            k = int(len(indices) * fraction + 0.5)
            for i in indices[start : start + k]:
                assigned[i] = name
            start += k
    out: dict[str, list[Example]] = {"train": []}
    out.update({name: [] for name, _ in fractions})
    for i, ex in enumerate(examples):
        out[assigned.get(i, "train")].append(ex)
    return out


def _check_label_counts(examples: list[Example], labels: list[str], minimum: int, where: Path) -> None:
    """Every label seen at least ``minimum`` times in training: a rarer one is a typo or a stray class."""
    seen: dict[str, list[Example]] = {lab: [] for lab in labels}
    for ex in examples:
        seen[ex.label].append(ex)
    for label, exs in seen.items():
        if len(exs) >= minimum:
            continue
        if not exs:
            raise DataError(f"label {label!r} never occurs in the training data (data.labels lists it)", path=where)
        lines = ", ".join(str(ex.line) for ex in exs[:5]) + (", …" if len(exs) > 5 else "")
        raise DataError(f"label {excerpt(label)!r} occurs only {len(exs)} time(s) in the training data "
                        f"(line{'s' if len(exs) > 1 else ''} {lines}), fewer than data.min_label_count={minimum}: fix "
                        "those rows, declare the label set with data.labels, or lower data.min_label_count",
                        path=exs[0].source or where, line=exs[0].line)


def _assemble(by_split: dict[str | None, list[Example]], labels: list[str], dev_fraction: float, test_fraction: float,
              seed: int, where: Path) -> tuple[dict[str, list[Example]], dict[str, str], dict[str, dict]]:
    """Official splits as they are, missing ones carved; returns (splits, provenance, carved-info)."""
    if None in by_split:  # no splits at all: carve test and dev from everything
        fractions = [(n, f) for n, f in (("test", test_fraction), ("dev", dev_fraction)) if f > 0]
        pieces = carve(by_split[None], fractions, labels, seed)
        carved = {n: {"from": "all", "fraction": f} for n, f in fractions}
    elif "dev" not in by_split and dev_fraction > 0:
        pieces = carve(by_split["train"], [("dev", dev_fraction)], labels, seed)
        if "test" in by_split:
            pieces["test"] = by_split["test"]
        carved = {"dev": {"from": "train", "fraction": dev_fraction}}
    else:
        pieces, carved = {s: by_split[s] for s in SPLITS if s in by_split}, {}
    for name, how in carved.items():
        if not pieces[name]:
            total = len(by_split.get(None) or by_split["train"])
            raise DataError(f"too few examples ({total}) to carve a {name} split of {how['fraction']:.0%} per label; "
                            f"add examples, lower {name}_fraction to 0, or provide a {name} file", path=where)
    splits = {s: pieces[s] for s in SPLITS if s in pieces}
    provenance = {s: ("carved from " + carved[s]["from"] if s in carved else "official") for s in splits}
    if carved:
        source = "all" if None in by_split else "train"
        provenance["train"] = f"remainder of {source} after carving" if source == "all" else "official minus carved dev"
    for name in carved:
        carved[name]["seed"] = seed
    return splits, provenance, carved
