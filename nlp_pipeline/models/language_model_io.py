"""Save and load language models as files that are safe to share (no pickle).

A saved language model is a model folder (`model_io`), like a classifier's: ``model.safetensors`` (the state dict),
``config.json`` (``{"format", "model": <LanguageModelConfig>, **meta}``, where ``meta`` holds the
tokenizer settings and provenance) and ``vocab.json``. The model is rebuilt from ``config.json`` and
its weights loaded strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import ConfigError, DataError, read_json
from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
from nlp_pipeline.models.model_io import CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, load_weights, write_model_folder
from nlp_pipeline.text.vocab import Vocab

FORMAT = "nlp-pipeline-language-model"
FORMAT_VERSION = 1
EOS = "<eos>"  # ends every document; index 2 of a language model's vocabulary
FILES = (WEIGHTS_FILE, CONFIG_FILE, VOCAB_FILE)  # what a language model folder holds (its content is its identity)


def save_language_model(directory: str | Path, model: RNNLanguageModel, vocab: Vocab, meta: dict[str, Any]) -> None:
    """Write ``model.safetensors``, ``config.json`` and ``vocab.json`` into ``directory`` (created)."""
    config = model.config
    if len(vocab) != config.vocab_size:
        raise ValueError(f"vocab has {len(vocab)} entries but config.vocab_size is {config.vocab_size}")
    write_model_folder(directory, model, config, vocab, FORMAT, FORMAT_VERSION, {}, meta)


def load_language_model(
    directory: str | Path, device: str | torch.device = "cpu"
) -> tuple[RNNLanguageModel, dict, Vocab]:
    """Rebuild a language model saved by `save_language_model`, in eval mode on ``device``.

    Returns ``(model, config_json, vocab)``; a missing, corrupt or mismatched file is a `DataError`
    naming it.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    payload = read_json(config_path, "model config")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not isinstance(payload.get("model"), dict):
        raise DataError("not a language model: config.json has no 'nlp-pipeline-language-model' format "
                        "(a classifier or tagger folder?)", path=config_path)
    try:
        config = LanguageModelConfig.from_dict(payload["model"])
    except (ConfigError, TypeError) as err:
        raise DataError(f"invalid language model config: {err}", path=config_path) from None
    vocab_path = directory / VOCAB_FILE
    vocab = Vocab.load(vocab_path)
    if len(vocab) != config.vocab_size or vocab.itos[2:3] != [EOS]:
        raise DataError(f"vocabulary has {len(vocab)} entries (and must hold {EOS} third) but {CONFIG_FILE} "
                        f"says vocab_size {config.vocab_size}", path=vocab_path)
    model = load_weights(RNNLanguageModel(config), directory)
    model.to(resolve_device(device)).eval()
    return model, payload, vocab
