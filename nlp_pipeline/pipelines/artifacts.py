"""Finding artifacts for users: ``cache ls`` and model references (a folder, a key or ``latest``)."""

from __future__ import annotations

import time
from pathlib import Path

from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.engine.cache import folder_size
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.reports.tables import format_table


def resolve_model(ref: str, cache_dir: str | Path | None = None) -> Path:
    """A model folder path, a train-artifact key prefix, or ``latest`` → the model folder."""
    path = Path(ref)
    if path.is_dir():
        return path
    store = ArtifactCache(cache_dir)
    if ref == "latest":
        art = store.latest("train")
        if art is None:
            raise ConfigError(f"no trained model in the cache ({store.artifacts_dir}); run a pipeline first")
        return art.path
    matches = [a for a in store.find(ref) if a.stage == "train"]
    if len(matches) == 1:
        return matches[0].path
    if not matches:
        raise ConfigError(f"{ref!r} is neither a model folder nor the key of a trained model in {store.artifacts_dir}")
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
