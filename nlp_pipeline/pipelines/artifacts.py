"""Finding artifacts for users: ``cache ls``, model and vectors references (a path, a key or ``latest``), and
the command that uses a run's model.

``latest`` is what the last completed run recorded for the stage (the best variant of a grid: see
`ArtifactCache.record_latest`), and only when no run has recorded one the newest artifact.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from nlp_pipeline.engine import Artifact, ArtifactCache, default_cache_dir, short_key
from nlp_pipeline.engine.cache import folder_size
from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.reports.tables import format_table
from nlp_pipeline.training.checkpoint import about


def checked(path: Path) -> Path:
    """``path`` if it is not an artifact folder, or an intact one; a damaged artifact is a `DataError`.

    A model or vectors folder from the cache (or copied from it) is checked against its manifest
    before anything is loaded from it, as a cache hit is, so a damaged file is never silently used.
    """
    from nlp_pipeline.engine.cache import MANIFEST, verify_folder

    if not (path / MANIFEST).is_file():
        return path
    problem = verify_folder(path)
    if problem:
        raise DataError(f"artifact is damaged ({problem}); re-run the pipeline that built it", path=path)
    return path


def resolve_model(ref: str, cache_dir: str | Path | None = None, stage: str = "train") -> Path:
    """`_resolve_model`, checked: a damaged artifact is an error, never loaded."""
    return checked(_resolve_model(ref, cache_dir, stage))


def _resolve_model(ref: str, cache_dir: str | Path | None = None, stage: str = "train") -> Path:
    """A model folder path, a key prefix of a ``stage`` artifact, or ``latest`` → the model folder.

    ``stage`` is ``train`` for sentiment classifiers, ``train_tagger`` for taggers and ``train_lm`` for
    language models, so ``latest`` never hands a tagger to ``predict`` or a classifier to ``tag``;
    ``latest`` is the model the last completed run recorded (`ArtifactCache.latest`).
    """
    what = {"train_tagger": "tagger", "train_lm": "language model"}.get(stage, "trained model")
    path = Path(ref)
    if path.is_dir():
        return path
    store = ArtifactCache(cache_dir)
    if ref == "latest":
        art = store.latest(stage)
        if art is None:
            raise ConfigError(f"no {what} in the cache ({store.artifacts_dir}); run a pipeline first")
        return art.path
    matches = [a for a in store.find(ref) if a.stage == stage]
    if len(matches) == 1:
        return matches[0].path
    if not matches:
        raise ConfigError(f"{ref!r} is neither a model folder nor the key of a {what} in {store.artifacts_dir}")
    raise ConfigError(f"key prefix {ref!r} is ambiguous: {', '.join(a.key for a in matches)}")


VECTOR_SUFFIXES = (".bin", ".txt", ".vec", ".gz", ".bz2", ".w2v")


def resolve_vectors(ref: str | Path | None = None, cache_dir: str | Path | None = None) -> Path:
    """`_resolve_vectors`, checked: a damaged embed artifact is an error, never loaded."""
    path = _resolve_vectors(ref, cache_dir)
    return checked(path) if path.is_dir() else path


def _resolve_vectors(ref: str | Path | None = None, cache_dir: str | Path | None = None) -> Path:
    """Where to read word vectors from: a word2vec file or an embed artifact folder.

    ``ref`` is, in the order tried: a word2vec text or binary file (``.txt``, ``.vec``, ``.bin``;
    gensim's and fastText's files), an artifact folder holding ``vectors.bin``, ``None`` or
    ``latest`` (the embed artifact the last completed run recorded, else the newest), a pipeline name
    (the one that pipeline's last run recorded, so ``embeddings`` is the best variant of the last ``run
    embeddings``; else the newest it built; else as ``latest``: manifests written before they recorded
    their pipeline), or the key prefix of an embed artifact. A path that does not exist is a
    `DataError` naming it, so a typo in a file name is not reported as an unknown cache key.
    """
    from nlp_pipeline.config import pipeline_names

    if ref is not None and str(ref) != "latest":
        path = Path(ref).expanduser()
        if path.is_file():
            return path
        if path.is_dir():
            if not (path / "vectors.bin").is_file():
                raise DataError("folder holds no vectors.bin (not an embed artifact)", path=path)
            return path
        if path.suffix in VECTOR_SUFFIXES or len(path.parts) > 1:
            raise DataError("vectors file not found", path=path)
    store = ArtifactCache(cache_dir)
    if ref is None or str(ref) == "latest" or str(ref) in pipeline_names():
        pipeline = None if ref is None or str(ref) == "latest" else str(ref)
        found = (store.latest("embed", pipeline) if pipeline else None) or store.latest("embed")
        if found is None:
            raise ConfigError(f"no embed artifact in the cache ({store.artifacts_dir}); run a pipeline "
                              "first or give a word2vec file")
        return found.path
    ref = str(ref)
    matches = [a for a in store if a.stage == "embed" and a.key.startswith(ref)]
    if len(matches) == 1:
        return matches[0].path
    if not matches:
        raise ConfigError(f"{ref!r} is neither a vectors file, an artifact folder, a pipeline name nor the key "
                          f"of an embed artifact in {store.artifacts_dir}")
    raise ConfigError(f"key prefix {ref!r} is ambiguous: {', '.join(a.key for a in matches)}")


def resolve_language_models(refs: list[str], cache_dir: str | Path | None = None, *,
                            bidirectional: bool) -> list[Path]:
    """``model.lm`` → the language-model folders an encoder starts from: the forward one, then (for a
    bidirectional encoder) the backward one.

    ``auto`` is the newest forward ``train_lm`` artifact in the cache and, for a BiLSTM, the newest
    backward one trained on the same text (the same lm_data artifact, so the same vocabulary).
    Otherwise each entry is a folder or a ``train_lm`` key prefix. Damaged artifacts are errors.
    """
    if list(refs) == ["auto"]:
        store = ArtifactCache(cache_dir)
        models = sorted((a for a in store if a.stage == "train_lm"), key=lambda a: a.manifest.get("created", 0),
                        reverse=True)
        forward = next((a for a in models if a.manifest["params"].get("direction") == "forward"), None)
        if forward is None:
            raise ConfigError(f"model.lm=auto: no forward language model in the cache ({store.artifacts_dir}); "
                              "run `nlp-pipeline run lm` first")
        found = [forward]
        if bidirectional:
            data = forward.manifest["inputs"].get("data", {}).get("key")
            backward = next((a for a in models if a.manifest["params"].get("direction") == "backward"
                             and a.manifest["inputs"].get("data", {}).get("key") == data), None)
            if backward is None:
                raise ConfigError("model.lm=auto: a bilstm needs a backward language model trained on the same "
                                  f"text as the newest forward one ({short_key(forward.key)}); run `nlp-pipeline run "
                                  "lm --set lm.direction=backward` with the same settings")
            found.append(backward)
        return [checked(a.path) for a in found]
    need = 2 if bidirectional else 1
    if len(refs) < need:
        raise ConfigError(f"model.lm: a bidirectional encoder needs two language models, forward then backward; "
                          f"got {len(refs)}")
    return [resolve_model(r, cache_dir, stage="train_lm") for r in list(refs)[:need]]


def _summary(art) -> str:
    from nlp_pipeline.pipelines.registry import stages

    stage = stages().get(art.stage)
    try:
        return stage.summary(art) if stage is not None else ""
    except (KeyError, TypeError, ValueError, AttributeError):  # metadata of an older layout: say nothing
        return ""


def list_artifacts(cache_dir: str | Path | None = None, stage: str | None = None) -> str:
    """The ``cache ls`` table (`artifact_records` as text), then the partial builds under their own heading.
    Folders without a well-formed manifest are counted, never a crash."""
    found = artifact_records(cache_dir, stage)
    now = time.time()
    rows = [[a["stage"], short_key(a["key"]), f"{a['bytes'] / 1e6:.1f} MB",
             f"{(now - (a['created'] or now)) / 3600:.1f} h", a["contents"]] for a in found["artifacts"]]
    broken = found["without_manifest"]
    note = (f"\n{broken} folder(s) without a valid manifest: not artifacts (`nlp-pipeline cache verify` names "
            "them; a run rebuilds what it needs)") if broken else ""
    text = (format_table(["stage", "key", "size", "age", "contents"], rows) + f"\n\n{found['cache']}{note}" if rows
            else f"no artifacts in {found['cache']}{note}")
    if found["partial"]:
        partial = [[p["stage"], short_key(p["key"]) + (f" {p['part']}" if p["part"] else ""), p["progress"],
                    f"{p['bytes'] / 1e6:.1f} MB", about(now - p["written"]) if p["written"] else ""]
                   for p in found["partial"]]
        text += ("\n\npartial builds (not artifacts: the same command resumes from them; `cache clear` removes "
                 "them):\n"
                 + format_table(["stage", "key", "progress", "size", "checkpoint age"], partial))
    return text


def verify_artifacts(cache_dir: str | Path | None = None, stage: str | None = None) -> tuple[str, int]:
    """``cache verify``: a line per artifact that is not intact (and a count line); returns (text, damaged)."""
    from nlp_pipeline.engine.verify import verify_cache

    store = ArtifactCache(cache_dir)
    verdicts = verify_cache(store, stage)
    lines = []
    for v in verdicts:
        where = f"{v.stage} [{short_key(v.key)}]"
        if v.problem:
            lines.append(f"damaged: {where}: {v.problem}")
        lines += [f"inconsistent: {where}: {u}" for u in v.upstream]
        lines += [f"note: {where}: {n}" for n in v.notes]
    bad = sum(not v.ok for v in verdicts)
    lines.append(f"{len(verdicts) - bad} of {len(verdicts)} artifact(s) intact in {store.artifacts_dir}"
                 + (f"; {bad} damaged or inconsistent (a run rebuilds what it needs; "
                    "`nlp-pipeline cache clear` removes them)" if bad else ""))
    return "\n".join(lines), bad


def artifact_records(cache_dir: str | Path | None = None, stage: str | None = None) -> dict:
    """``cache ls --json``: every artifact (stage, full key, path, bytes, created, contents), the number
    of folders without a valid manifest, and the partial builds (`partial_records`)."""
    store = ArtifactCache(cache_dir)
    records, broken = [], 0
    for st, key in store.entries():
        if stage and st != stage:
            continue
        manifest, _ = store.read_manifest(st, key)
        if manifest is None:
            broken += 1
            continue
        art = Artifact(st, key, store.folder(st, key), manifest)
        records.append({"stage": st, "key": key, "path": str(art.path), "bytes": folder_size(art.path),
                        "created": manifest.get("created"), "contents": _summary(art)})
    return {"cache": str(store.artifacts_dir), "artifacts": records, "without_manifest": broken,
            "partial": partial_records(store, stage)}


def partial_records(store: ArtifactCache, stage: str | None = None) -> list[dict]:
    """Every partial build (of one stage): stage, full key, path, bytes, and its newest checkpoint's part
    (one of several models a build trains), progress (``epoch 2, batch 140 of 512``) and when it was
    written (None: no checkpoint yet). They are listed, never served: no lookup reads that folder."""
    from nlp_pipeline.training.checkpoint import describe

    records = []
    for st, key, folder in store.partial_entries(stage):
        found = describe(folder) or {}
        records.append({"stage": st, "key": key, "path": str(folder), "bytes": folder_size(folder),
                        "part": found.get("part"), "progress": found.get("progress", "no checkpoint yet"),
                        "position": found.get("position"), "written": found.get("written")})
    return records


def clear_cache(cache_dir: str | Path | None = None, stage: str | None = None) -> dict:
    """``cache clear``: remove the artifacts and the partial builds (of one stage), except builds in
    progress; returns how many of each were removed and the cache."""
    store = ArtifactCache(cache_dir)
    partial = store.clear_partial(stage)
    return {"removed": store.clear(stage), "partial": partial, "cache": str(store.artifacts_dir)}


def cleared_line(cleared: dict) -> str:
    """What `cache clear` says: ``removed 5 artifact(s) and 1 partial build(s) from <cache>``."""
    partial = f" and {cleared['partial']} partial build(s)" if cleared["partial"] else ""
    return f"removed {cleared['removed']} artifact(s){partial} from {cleared['cache']}"


# How a user runs each pipeline's model, by the stage that builds it ({key}: the key as every line shows it).
USE_COMMANDS = {"train": 'predict {key} "some text"', "train_tagger": 'tag {key} "some text"',
                "train_lm": "generate {key} --prompt {prompt}", "embed": "similar -v {key} {word}"}


def vocabulary_word(folder: Path) -> str | None:
    """A word the vectors in ``folder`` (an embed artifact) know, to show a query on: the most frequent one
    of four letters or more (a function word's neighbours say little), else the most frequent one."""
    first = None
    try:
        with open(folder / "words.txt", encoding="utf-8") as fh:
            for line in fh:
                word = line.split("\t", 1)[0]
                first = first or word
                if len(word) >= 4 and word.isalpha():
                    return word
    except OSError:
        return None
    return first


def usage_command(art: Artifact, cache_dir: str | Path | None = None, *, word: str | None = None,
                  prompt: str = "the") -> str | None:
    """The exact command that uses ``art``, a model of the stage it is named by in `USE_COMMANDS`:
    ``nlp-pipeline predict 3f9a0c1d2e4b "some text"``, with ``--cache-dir`` when the cache is not the
    default one (the command would look there), ``word`` (default: one the vectors know) for vectors,
    ``prompt`` for a language model. None for a stage no command uses."""
    template = USE_COMMANDS.get(art.stage)
    if template is None:
        return None
    if art.stage == "embed" and word is None:
        word = vocabulary_word(art.path) or "the"
    command = "nlp-pipeline " + template.format(key=short_key(art.key), word=shlex.quote(word or ""),
                                                prompt=shlex.quote(prompt))
    root = ArtifactCache(cache_dir).root.resolve()
    if root != default_cache_dir().resolve():
        command += f" --cache-dir {shlex.quote(str(root))}"
    return command
