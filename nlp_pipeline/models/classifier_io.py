"""Save and load trained classifiers as files that are safe to share.

The weight and file helpers (`write_model_folder`, `save_weights`, `load_weights`, the file names)
are shared with `tagger_io` and `language_model_io`.

A saved classifier is a folder of three files, none of them pickled (loading a pickle runs arbitrary
code, so a model downloaded from someone else must never be one):

- ``model.safetensors``: the ``state_dict`` tensors;
- ``config.json``: ``{"model": <ClassifierConfig>, "labels": [...], **meta}``, where ``meta`` carries
  what inference needs besides the weights (the tokenizer config, ``max_length``, provenance);
- ``vocab.json``: the token list, row-aligned with the embedding table.

The architecture is rebuilt from ``config.json`` alone (nanoGPT-style), then the weights are loaded
strictly, so a mismatch between files is reported instead of producing a half-initialised model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import ConfigError, DataError, read_json
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.text.vocab import Vocab

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
FORMAT = "nlp-pipeline-classifier"
FORMAT_VERSION = 1


def save_classifier(
    directory: str | Path,
    model: SequenceClassifier,
    config: ClassifierConfig,
    vocab: Vocab,
    labels: list[str],
    meta: dict[str, Any],
) -> None:
    """Write ``model.safetensors``, ``config.json`` and ``vocab.json`` into ``directory`` (created).

    ``meta`` must be JSON-serialisable and should include ``"tokenizer"`` (a `TokenizerConfig` dict)
    and ``"max_length"``, which `inference.Predictor` needs to read new text the way the
    model was trained on.
    """
    if len(vocab) != config.vocab_size:
        raise ValueError(f"vocab has {len(vocab)} entries but config.vocab_size is {config.vocab_size}")
    if len(labels) != config.num_classes:
        raise ValueError(f"{len(labels)} labels but config.num_classes is {config.num_classes}")
    write_model_folder(directory, model, config, vocab, FORMAT, FORMAT_VERSION, {"labels": list(labels)}, meta)


def write_model_folder(directory: str | Path, model: torch.nn.Module, config: Any, vocab: Vocab, format_name: str,
                       format_version: int, fields: dict[str, Any], meta: dict[str, Any]) -> Path:
    """The files every saved model has (classifier, tagger, language model): ``model.safetensors``,
    ``config.json`` = ``{"format", "format_version", "model": config, **fields, **meta}`` and
    ``vocab.json``. ``meta`` may not use the keys the format itself writes. The JSON is built before
    any file is written, so a value that is not JSON leaves no folder half-written."""
    reserved = ({"format", "format_version", "model"} | set(fields)) & set(meta)
    if reserved:
        raise ValueError(f"meta may not use the reserved key(s) {sorted(reserved)}")
    payload = {"format": format_name, "format_version": format_version, "model": config.to_dict(), **fields, **meta}
    config_text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory, format_name)
    (directory / CONFIG_FILE).write_text(config_text, encoding="utf-8")
    vocab.save(directory / VOCAB_FILE)
    return directory


def load_classifier(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[SequenceClassifier, dict[str, Any], Vocab]:
    """Rebuild a classifier saved by `save_classifier`, in eval mode on ``device``.

    Returns ``(model, config_json, vocab)`` where ``config_json`` is the whole ``config.json``
    (``"model"``, ``"labels"`` and the saved ``meta`` keys). A missing or corrupt file raises
    `DataError` naming it.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    payload = _read_config(config_path)
    try:
        config = ClassifierConfig.from_dict(payload["model"])
    except (ConfigError, TypeError) as err:
        raise DataError(f"invalid model config: {err}", path=config_path) from None
    labels = payload["labels"]
    if len(labels) != config.num_classes:
        raise DataError(f"{len(labels)} labels but model.num_classes is {config.num_classes}", path=config_path)

    vocab_path = directory / VOCAB_FILE
    vocab = Vocab.load(vocab_path)
    if len(vocab) != config.vocab_size:
        raise DataError(
            f"vocabulary has {len(vocab)} entries but {CONFIG_FILE} says vocab_size {config.vocab_size}",
            path=vocab_path,
        )

    model = load_weights(SequenceClassifier(config), directory)
    model.to(resolve_device(device)).eval()
    return model, payload, vocab


def save_weights(model: torch.nn.Module, directory: Path, format_name: str) -> None:
    """``model.safetensors`` from the state dict (on the CPU, contiguous): no pickle, safe to share."""
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS_FILE), metadata={"format": format_name})


def load_weights(model: torch.nn.Module, directory: Path) -> torch.nn.Module:
    """Load ``model.safetensors`` strictly into ``model`` (rebuilt from its config); `DataError` on mismatch."""
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise DataError("model weights file not found", path=weights_path)
    try:
        state = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise DataError(f"cannot read model weights: {err}", path=weights_path) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"weights do not match {CONFIG_FILE}: {detail}", path=weights_path) from None
    return model


def _read_config(path: Path) -> dict[str, Any]:
    payload = read_json(path, "model config")
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise DataError("not a classifier config: expected a JSON object with a 'model' object", path=path)
    labels = payload.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise DataError("'labels' must be a list of strings", path=path)
    return payload
