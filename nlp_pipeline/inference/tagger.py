"""Tagger inference: tag ids for encoded sentences, and raw or pre-tokenized text tagged by a saved model.

The batched decoding itself (`nlp_pipeline.models.scoring.predict_tags_and_loss`) is shared with
training, which scores its dev split with it.

`TaggerPredictor` bundles what inference needs: the model, its word and character vocabularies, its
tag list, whether words are looked up lower-cased, and the tokenizer for raw text (spaCy's rule-based
English tokenizer, case kept: the character model reads capitals).

>>> tagger = TaggerPredictor.load("runs/tagging/model")        # doctest: +SKIP
>>> tagger.tag(["The cat sat."])[0]["tags"]                     # doctest: +SKIP
['DET', 'NOUN', 'VERB', 'PUNCT']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import DataError
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE
from nlp_pipeline.models.model_io import CONFIG_FILE
from nlp_pipeline.models.scoring import predict_tags_and_loss
from nlp_pipeline.models.tagger import SequenceTagger
from nlp_pipeline.models.tagger_encoding import EncodedSentences, TaggerEncoder
from nlp_pipeline.models.tagger_io import load_tagger
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
from nlp_pipeline.text.vocab import Vocab


def predict_tags(model: SequenceTagger, data: EncodedSentences, batch_size: int = EVAL_BATCH_SIZE,
                 device: str | torch.device | None = None) -> list[list[int]]:
    """Tag ids per sentence, in input order (one id per word; an empty sentence gets none)."""
    if device is None:
        target = next(model.parameters()).device
    else:
        target = resolve_device(device)
        model.to(target)
    predictions, _ = predict_tags_and_loss(model, data, batch_size, target, with_loss=False)
    return predictions


class TaggerPredictor:
    """Tokenize (unless given tokens) → encode → tag, with the settings saved alongside the model."""

    def __init__(self, model: SequenceTagger, vocab: Vocab, char_vocab: Vocab, tags: list[str],
                 lowercase_words: bool, tokenizer: Tokenizer, device: str | torch.device = "auto",
                 batch_size: int = EVAL_BATCH_SIZE) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.encoder = TaggerEncoder(vocab, char_vocab, tags, lowercase_words)
        self.tags = list(tags)
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "auto") -> TaggerPredictor:
        """Load a folder written by `nlp_pipeline.models.tagger_io.save_tagger`."""
        target = resolve_device(device)
        model, config, vocab, char_vocab = load_tagger(directory, device=target)
        try:
            tokenizer = Tokenizer(TokenizerConfig(**config.get("tokenizer", {})))
        except TypeError as err:
            raise DataError(f"invalid 'tokenizer' settings: {err}", path=Path(directory) / CONFIG_FILE) from None
        return cls(model, vocab, char_vocab, config["tags"], bool(config.get("lowercase_words")), tokenizer, target)

    def tag_tokens(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags for already-tokenized sentences, one list per sentence, in order."""
        sentences = [list(s) for s in sentences]
        ids = predict_tags(self.model, self.encoder.encode(sentences), self.batch_size, self.device)
        return [[self.tags[i] for i in row] for row in ids]

    def tag(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """``[{"text", "tokens", "tags"}]`` for raw texts, tokenized with the saved tokenizer settings."""
        texts = list(texts)
        tokens = list(self.tokenizer.pipe(texts))
        return [{"text": t, "tokens": w, "tags": g} for t, w, g in zip(texts, tokens, self.tag_tokens(tokens))]
