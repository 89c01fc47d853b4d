"""A trained classifier *or* tagger from one reference, its kind read from the folder itself.

``predict`` and ``tag`` each know which kind they want, so `resolve_model` looks in one stage. Commands
that take either kind (``evaluate model``, ``export model``) look in both ``train`` and ``train_tagger``:
``latest`` is the more recent of the two stages' ``latest``, a key prefix may match in either (two
matches is an error listing them), and a folder says what it holds in its ``config.json`` (``format``).
A language model is named as one, never half-loaded as something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nlp_pipeline.engine import Artifact, ArtifactCache, short_key
from nlp_pipeline.engine.cache import load_manifest
from nlp_pipeline.errors import ConfigError, DataError, read_json
from nlp_pipeline.models.classifier_io import FORMAT as CLASSIFIER_FORMAT
from nlp_pipeline.models.language_model_io import FORMAT as LM_FORMAT
from nlp_pipeline.models.model_io import CONFIG_FILE
from nlp_pipeline.models.tagger_io import FORMAT as TAGGER_FORMAT
from nlp_pipeline.pipelines.artifacts import checked

KIND_OF_FORMAT = {CLASSIFIER_FORMAT: "classifier", TAGGER_FORMAT: "tagger"}
STAGE_OF_KIND = {"classifier": "train", "tagger": "train_tagger"}
MODEL_STAGES = ("train", "train_tagger")
LM_STAGE = "train_lm"
LM_HINT = "`evaluate model` and `export model` take a classifier or a tagger (a language model: `perplexity`)"


@dataclass(frozen=True)
class TrainedModel:
    """A verified classifier or tagger folder, with its manifest when it has one (a cache artifact, or an
    exported copy of one): the manifest names the artifacts it was trained from."""

    path: Path
    kind: str  # classifier | tagger
    manifest: dict | None = None

    @property
    def stage(self) -> str:
        return STAGE_OF_KIND[self.kind]

    @property
    def key(self) -> str | None:
        return self.manifest.get("key") if self.manifest else None

    def describe(self) -> str:
        """``/path (tagger, train_tagger 1a2b3c4d5e)``: what a command says it evaluated or exported."""
        key = f", {self.stage} {short_key(self.key)}" if self.key else ""
        return f"{self.path} ({self.kind}{key})"

    def upstream(self, name: str, cache_dir: str | Path | None = None) -> Artifact | None:
        """The intact cache artifact this model's manifest says it read as input ``name`` (``tokens``,
        ``treebank``), with the same content; None when the manifest or the cache no longer has it."""
        ref = ((self.manifest or {}).get("inputs") or {}).get(name)
        if not isinstance(ref, dict) or not ref.get("stage") or not ref.get("key"):
            return None
        art = ArtifactCache(cache_dir).get(ref["stage"], ref["key"])
        if art is None or (ref.get("digest") and art.digest != ref["digest"]):
            return None
        return art


def folder_kind(path: Path) -> str:
    """``classifier`` or ``tagger``, from the folder's ``config.json``; anything else is a `DataError`."""
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        onnx = " (an ONNX export: give the model it was exported from)" if (path / "model.onnx").is_file() else ""
        raise DataError(f"not a model folder (no {CONFIG_FILE}){onnx}", path=path)
    payload = read_json(config_path, "model config")
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt == LM_FORMAT:
        raise ConfigError(f"{path} is a language model; {LM_HINT}")
    if fmt not in KIND_OF_FORMAT:
        raise DataError(f"not a classifier or tagger: format is {fmt!r}", path=config_path)
    return KIND_OF_FORMAT[fmt]


def resolve_trained_model(ref: str | Path, cache_dir: str | Path | None = None) -> TrainedModel:
    """A model folder, a key prefix of a ``train`` or ``train_tagger`` artifact, or ``latest`` (the newest of
    either) → the verified folder and its kind. A damaged artifact, an ambiguous prefix or a language model
    is an error naming it."""
    path = Path(ref).expanduser()
    if path.is_dir():
        folder = path
    elif path.exists():
        raise DataError("not a model folder (a file)", path=path)
    else:
        folder = _from_cache(str(ref), cache_dir)
    checked(folder)
    manifest, _ = load_manifest(folder)
    return TrainedModel(folder, folder_kind(folder), manifest)


def _from_cache(ref: str, cache_dir: str | Path | None) -> Path:
    store = ArtifactCache(cache_dir)
    if ref == "latest":
        # Each stage's `latest` (what the cache says it names), the more recent of the two.
        found = [a for a in (store.latest(stage) for stage in MODEL_STAGES) if a is not None]
        newest = max(found, key=lambda a: a.manifest.get("created", 0), default=None)
        if newest is None:
            raise ConfigError(f"no classifier or tagger in the cache ({store.artifacts_dir}); run a pipeline first")
        return newest.path
    matches = [a for a in store.find(ref) if a.stage in (*MODEL_STAGES, LM_STAGE)]
    if len(matches) > 1:
        raise ConfigError(f"key prefix {ref!r} is ambiguous: "
                          + ", ".join(f"{a.stage} {a.key}" for a in matches) + "; give more of the key")
    if not matches:
        if "/" in ref or ref.startswith((".", "~")):
            raise DataError("model folder not found", path=ref)
        raise ConfigError(f"{ref!r} is neither a model folder nor the key of a classifier (train) or tagger "
                          f"(train_tagger) in {store.artifacts_dir}")
    if matches[0].stage == LM_STAGE:
        raise ConfigError(f"{ref!r} is a language model ({LM_STAGE} {matches[0].key}); {LM_HINT}")
    return matches[0].path
