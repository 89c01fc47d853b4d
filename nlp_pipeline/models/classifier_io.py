"""Save and load trained classifiers as files that are safe to share.

A saved classifier is a model folder (`nlp_pipeline.models.model_io`: no pickle, the architecture
rebuilt from ``config.json`` and the weights loaded strictly) of three files:

- ``model.safetensors``: the ``state_dict`` tensors;
- ``config.json``: ``{"format": "nlp-pipeline-classifier", "model": <ClassifierConfig>, "labels": [...],
  **meta}``, where ``meta`` carries what inference needs besides the weights (the tokenizer config,
  ``max_length``, provenance);
- ``vocab.json``: the token list, row-aligned with the embedding table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import ConfigError, DataError, read_json
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.model_io import CONFIG_FILE, VOCAB_FILE, load_weights, write_model_folder
from nlp_pipeline.text.vocab import Vocab

FORMAT = "nlp-pipeline-classifier"
FORMAT_VERSION = 1


def save_classifier(directory: str | Path, model: SequenceClassifier, config: ClassifierConfig, vocab: Vocab,
                    labels: list[str], meta: dict[str, Any]) -> None:
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


def _read_config(path: Path) -> dict[str, Any]:
    payload = read_json(path, "model config")
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise DataError("not a classifier config: expected a JSON object with a 'model' object", path=path)
    labels = payload.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise DataError("'labels' must be a list of strings", path=path)
    return payload
