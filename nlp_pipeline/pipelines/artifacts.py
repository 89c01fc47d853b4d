"""Finding artifacts for users: ``cache ls``, model and vectors references (a path, a key or ``latest``)."""

from __future__ import annotations

import time
from pathlib import Path

from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.engine.cache import folder_size
from nlp_pipeline.errors import ConfigError, DataError
from nlp_pipeline.reports.tables import format_table


def resolve_model(ref: str, cache_dir: str | Path | None = None, stage: str = "train") -> Path:
    """A model folder path, a key prefix of a ``stage`` artifact, or ``latest`` → the model folder.

    ``stage`` is ``train`` for sentiment classifiers and ``train_tagger`` for taggers, so ``latest``
    never hands a tagger to ``predict`` or a classifier to ``tag``.
    """
    what = "tagger" if stage == "train_tagger" else "trained model"
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
    """Where to read word vectors from: a word2vec file or an embed artifact folder.

    ``ref`` is, in the order tried: a word2vec text or binary file (``.txt``, ``.vec``, ``.bin``;
    gensim's and fastText's files), an artifact folder holding ``vectors.bin``, ``None`` or
    ``latest`` (the newest embed artifact), a pipeline name (the newest embed artifact whose
    manifest records that pipeline, else the newest embed artifact: today's manifests do not record
    it), or the key prefix of an embed artifact. A path that does not exist is a `DataError` naming
    it, so a typo in a file name is not reported as an unknown cache key.
    """
    from nlp_pipeline.config import PIPELINES_DIR

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
    embeds = [a for a in store if a.stage == "embed"]
    newest = max(embeds, key=lambda a: a.manifest.get("created", 0), default=None)
    if ref is None or str(ref) == "latest" or (PIPELINES_DIR / f"{ref}.yaml").is_file():
        if ref is not None and str(ref) != "latest":
            own = [a for a in embeds if ref in (a.manifest.get("pipeline"), a.metadata.get("pipeline"))]
            newest = max(own, key=lambda a: a.manifest.get("created", 0), default=newest)
        if newest is None:
            raise ConfigError(f"no embed artifact in the cache ({store.artifacts_dir}); run a pipeline "
                              "first or give a word2vec file")
        return newest.path
    ref = str(ref)
    matches = [a for a in embeds if a.key.startswith(ref)]
    if len(matches) == 1:
        return matches[0].path
    if not matches:
        raise ConfigError(f"{ref!r} is neither a vectors file, an artifact folder, a pipeline name nor the key "
                          f"of an embed artifact in {store.artifacts_dir}")
    raise ConfigError(f"key prefix {ref!r} is ambiguous: {', '.join(a.key for a in matches)}")


def _summary(art) -> str:
    m = art.metadata
    if art.stage == "tokenize":
        return f"{m.get('corpus')}: " + ", ".join(f"{k} {v['documents']:,}" for k, v in m.get("splits", {}).items())
    if art.stage == "pretrain_text":
        return f"{m.get('documents', 0):,} docs, {m.get('tokens', 0):,} tokens"
    if art.stage == "embed":
        p = art.manifest.get("params", {})
        return f"{'skip-gram' if p.get('sg') else 'CBOW'} {p.get('vector_size')}d, vocab {m.get('vocab_size', 0):,}"
    if art.stage == "train":
        p = art.manifest.get("params", {}).get("model", {})
        return f"{p.get('encoder')} {p.get('embedding_mode')}, best dev acc {m.get('best_dev_accuracy', 0):.4f}"
    if art.stage == "evaluate":
        return ", ".join(f"{k} acc {v['accuracy']:.4f}" for k, v in m.items() if isinstance(v, dict))
    if art.stage == "treebank":
        return f"{m.get('corpus')}: " + ", ".join(f"{k} {v['sentences']:,}" for k, v in m.get("splits", {}).items())
    if art.stage == "train_tagger":
        p = art.manifest.get("params", {}).get("model", {})
        return (f"{p.get('encoder')} {p.get('embedding_mode')} char {p.get('char_encoder')} "
                f"{m.get('tagset', '').upper()}, best dev acc {m.get('best_dev_accuracy', 0):.4f}")
    if art.stage == "evaluate_tagger":
        return ", ".join(f"{k} acc {v['accuracy']:.4f}" for k, v in m.items() if isinstance(v, dict))
    return ""


def list_artifacts(cache_dir: str | Path | None = None, stage: str | None = None) -> str:
    store = ArtifactCache(cache_dir)
    rows = []
    now = time.time()
    for art in store:
        if stage and art.stage != stage:
            continue
        age_h = (now - art.manifest.get("created", now)) / 3600
        rows.append([art.stage, art.key[:12], f"{folder_size(art.path) / 1e6:.1f} MB", f"{age_h:.1f} h", _summary(art)])
    if not rows:
        return f"no artifacts in {store.artifacts_dir}"
    return format_table(["stage", "key", "size", "age", "contents"], rows) + f"\n\n{store.artifacts_dir}"
