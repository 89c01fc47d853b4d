"""The folder every saved model is: weights, config and vocabulary, none of them pickled.

Classifiers (`classifier_io`), taggers (`tagger_io`) and language models (`language_model_io`) all
save through `write_model_folder` and load their weights with `load_weights`; each of those modules
adds its own format name, fields and checks.

- ``model.safetensors``: the ``state_dict`` tensors (loading a pickle runs arbitrary code, so a
  model downloaded from someone else must never be one);
- ``config.json``: ``{"format", "format_version", "model": <the architecture's config>, **fields, **meta}``;
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

from nlp_pipeline.errors import DataError
from nlp_pipeline.text.vocab import Vocab

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"


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
