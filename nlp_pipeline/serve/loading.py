"""The artifacts a server answers with: found by reference, verified against their manifests, loaded once.

Models are chosen when the server starts and never by a request, so no request can make the server read
a path it names. Each reference is what the CLI takes everywhere (a folder, a key prefix, ``latest``); a
damaged or missing artifact is a `PipelineError` before anything is served.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_pipeline.engine import short_key
from nlp_pipeline.errors import ConfigError

log = logging.getLogger(__name__)

# The kinds of artifact a server loads, in the order they are listed; each is the stage that builds it.
KINDS = {"classifier": "train", "tagger": "train_tagger", "vectors": "embed", "language_model": "train_lm"}
OPTIONS = {"classifier": "--model", "tagger": "--tagger", "vectors": "--vectors", "language_model": "--lm"}
# What a metric may be in the listing: numbers and small mappings of them; lists (per-epoch histories) are left
# out, so the listing stays small whatever the run recorded.
_SCALARS = (int, float, str, bool, dict)


@dataclass
class Loaded:
    """One loaded artifact: what it is (``kind``), the object that answers (``engine``) and its description."""

    kind: str
    engine: Any
    path: Path
    key: str | None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def short_key(self) -> str | None:
        return short_key(self.key) if self.key else None

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/models`` lists for this artifact."""
        out: dict[str, Any] = {"kind": self.kind, "key": self.key, "short_key": self.short_key,
                               "path": str(self.path)}
        engine = self.engine
        if self.kind == "classifier":
            out.update(labels=list(engine.labels), vocab_size=len(engine.vocab))
        elif self.kind == "tagger":
            out.update(tags=list(engine.tags), vocab_size=len(engine.encoder.vocab))
        elif self.kind == "vectors":
            out.update(vocab_size=len(engine), dim=engine.dim)
        else:
            out.update(vocab_size=len(engine.vocab), direction=engine.model.config.direction)
        out["metrics"] = self.metrics
        return out


@dataclass
class LoadedModels:
    """The artifacts one server answers with, by kind (absent kinds are None)."""

    # field(): `vectors` is also a setting's name, whose default the settings test keeps from being written twice;
    # these are loaded artifacts, not settings.
    classifier: Loaded | None = field(default=None)
    tagger: Loaded | None = field(default=None)
    vectors: Loaded | None = field(default=None)
    language_model: Loaded | None = field(default=None)

    def loaded(self) -> list[Loaded]:
        return [a for a in (self.classifier, self.tagger, self.vectors, self.language_model) if a is not None]

    def kinds(self) -> list[str]:
        return [a.kind for a in self.loaded()]


def _manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a plain vectors file or a folder without a manifest: nothing to describe
        return {}
    return data if isinstance(data, dict) else {}


def _metrics(metadata: Any) -> dict[str, Any]:
    """The metadata's numbers and small mappings (accuracy, perplexity, intrinsic scores); lists left out."""
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in sorted(metadata.items()) if isinstance(v, _SCALARS)}


def _load_one(kind: str, ref: str, cache_dir: str | Path | None, device: str) -> Loaded:
    from nlp_pipeline.pipelines.artifacts import resolve_model, resolve_vectors

    if kind == "vectors":
        from nlp_pipeline.embeddings.query import VectorIndex

        path = resolve_vectors(ref, cache_dir)  # an embed artifact is checked against its manifest
        engine: Any = VectorIndex.load(path)
    else:
        path = resolve_model(ref, cache_dir, stage=KINDS[kind])  # checked against its manifest, as predict does
        if kind == "classifier":
            from nlp_pipeline.inference.classifier import Predictor

            engine = Predictor.load(path, device=device)
        elif kind == "tagger":
            from nlp_pipeline.inference.tagger import TaggerPredictor

            engine = TaggerPredictor.load(path, device=device)
        else:
            from nlp_pipeline.inference.language_model import LanguageModel

            engine = LanguageModel.load(path, device=device)
    _warm_up(kind, engine)
    manifest = _manifest(path) if path.is_dir() else {}
    return Loaded(kind, engine, path, manifest.get("key"), _metrics(manifest.get("metadata")))


def _warm_up(kind: str, engine: Any) -> None:
    """One small call through the model, so that the first request does not pay for what a first call sets up
    (the tokenizer, torch's kernels: measured 0.5 s on the first classification, 1 ms on the next)."""
    if kind == "classifier":
        engine.predict(["warm up"])
    elif kind == "tagger":
        engine.tag(["warm up"])
    elif kind == "vectors":
        if len(engine):
            import numpy as np

            engine.nearest_rows(np.zeros(1, dtype=np.int64), 1)
    else:
        engine.perplexity(["warm up"])


def load_models(model: str | Path | None = None, tagger: str | Path | None = None,
                vectors: str | Path | None = None, lm: str | Path | None = None, *,
                cache_dir: str | Path | None = None, device: str = "auto") -> LoadedModels:
    """Load the artifacts the references name (a folder, a key prefix, ``latest``; vectors also a word2vec
    file or a pipeline name), each verified against its manifest.

    With no reference at all, the ``latest`` of each kind the cache holds is served (what the last runs
    made), and it is an error only when the cache holds none. A reference that names nothing, or a damaged
    artifact, is a `PipelineError`: a server never starts on half of what it was asked to serve.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.serve.memory import bound_onednn_cache

    bound_onednn_cache()  # before the first model runs (its warm-up): oneDNN reads it once
    device = str(resolve_device(device))
    refs = {"classifier": model, "tagger": tagger, "vectors": vectors, "language_model": lm}
    explicit = any(r is not None for r in refs.values())
    found = LoadedModels()
    for kind, ref in refs.items():
        if ref is None and explicit:
            continue
        try:
            loaded = _load_one(kind, str(ref) if ref is not None else "latest", cache_dir, device)
        except ConfigError:
            if explicit:
                raise
            continue  # `latest` of a kind the cache does not hold: serve the others
        setattr(found, kind, loaded)
        log.info("loaded %s %s from %s", kind, loaded.short_key or "-", loaded.path)
    if not found.loaded():
        raise ConfigError("nothing to serve: the cache holds no classifier, tagger, vectors or language model; run a "
                          "pipeline first or give --model, --tagger, --vectors or --lm")
    return found
