"""Save and load trained taggers as shareable files (no pickle): a model folder (see `model_io`).

A saved tagger is a folder of four files:

- ``model.safetensors``: the ``state_dict`` tensors;
- ``config.json``: ``{"format": "nlp-pipeline-tagger", "model": <TaggerConfig>, "tags": [...],
  "lowercase_words": bool, "tokenizer": {...}, **meta}``: what inference needs besides the weights;
- ``vocab.json``: the word list, row-aligned with the word table;
- ``chars.json``: the character list, row-aligned with the character table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import ConfigError, DataError, read_json
from nlp_pipeline.models.model_io import CONFIG_FILE, VOCAB_FILE, load_weights, write_model_folder
from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
from nlp_pipeline.text.vocab import Vocab

CHARS_FILE = "chars.json"
FORMAT = "nlp-pipeline-tagger"
FORMAT_VERSION = 1


def save_tagger(directory: str | Path, model: SequenceTagger, vocab: Vocab, char_vocab: Vocab, tags: list[str],
                lowercase_words: bool, meta: dict[str, Any]) -> None:
    """Write the four files into ``directory`` (created). ``meta`` should hold ``"tokenizer"`` settings."""
    config = model.config
    if len(vocab) != config.vocab_size or len(char_vocab) != config.char_vocab_size or len(tags) != config.num_tags:
        raise ValueError("vocab, char vocab or tag list does not match the model's config")
    fields = {"tags": list(tags), "lowercase_words": lowercase_words}
    directory = write_model_folder(directory, model, config, vocab, FORMAT, FORMAT_VERSION, fields, meta)
    char_vocab.save(directory / CHARS_FILE)


def load_tagger(directory: str | Path, device: str | torch.device = "cpu"
                ) -> tuple[SequenceTagger, dict[str, Any], Vocab, Vocab]:
    """Rebuild a tagger saved by `save_tagger`, in eval mode: ``(model, config_json, vocab, char_vocab)``."""
    directory = Path(directory)
    config_path = directory / CONFIG_FILE
    payload = read_json(config_path, "model config")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        hint = " (a sentiment classifier: use `predict`)" if found == "nlp-pipeline-classifier" else ""
        raise DataError(f"not a tagger: format is {found!r}, expected {FORMAT!r}{hint}", path=config_path)
    tags = payload.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DataError("'tags' must be a list of strings", path=config_path)
    try:
        config = TaggerConfig.from_dict(payload["model"])
    except (ConfigError, TypeError, KeyError) as err:
        raise DataError(f"invalid model config: {err}", path=config_path) from None
    vocab = Vocab.load(directory / VOCAB_FILE)
    char_vocab = Vocab.load(directory / CHARS_FILE)
    for what, size, expected in (("vocabulary", len(vocab), config.vocab_size),
                                 ("character list", len(char_vocab), config.char_vocab_size),
                                 ("tag list", len(tags), config.num_tags)):
        if size != expected:
            raise DataError(f"{what} has {size} entries but {CONFIG_FILE} says {expected}", path=directory)
    model = load_weights(SequenceTagger(config), directory)
    model.to(resolve_device(device)).eval()
    return model, payload, vocab, char_vocab
