"""Label raw texts with a saved classifier.

`Predictor` bundles what inference needs — the model, its vocabulary, its labels, and the tokenizer
and truncation it was trained with (read from the saved ``config.json``) — so that new text goes
through exactly the preprocessing the training data did.

>>> predictor = Predictor.load("runs/sentiment/model")          # doctest: +SKIP
>>> predictor.predict(["A gorgeous, witty film."])[0]["label"]  # doctest: +SKIP
'positive'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.errors import DataError
from nlp_pipeline.models.classifier import SequenceClassifier
from nlp_pipeline.models.io import CONFIG_FILE, load_classifier
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.device import resolve_device
from nlp_pipeline.training.trainer import EVAL_BATCH_SIZE, predict_proba


class Predictor:
    """Tokenize → encode → classify, with the settings saved alongside the model."""

    def __init__(
        self,
        model: SequenceClassifier,
        vocab: Vocab,
        labels: list[str],
        tokenizer: Tokenizer,
        max_length: int | None = None,
        device: str | torch.device = "auto",
        batch_size: int = EVAL_BATCH_SIZE,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        self.labels = list(labels)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "auto") -> Predictor:
        """Load a folder written by `nlp_pipeline.models.save_classifier`."""
        target = resolve_device(device)
        model, config, vocab = load_classifier(directory, device=target)
        tokenizer_config = config.get("tokenizer")
        if not isinstance(tokenizer_config, dict):
            raise DataError("no 'tokenizer' settings saved with the model", path=Path(directory) / CONFIG_FILE)
        try:
            tokenizer = Tokenizer(TokenizerConfig(**tokenizer_config))
        except TypeError as err:
            raise DataError(f"invalid 'tokenizer' settings: {err}", path=Path(directory) / CONFIG_FILE) from None
        return cls(model, vocab, config["labels"], tokenizer, config.get("max_length"), target)

    def predict_proba(self, texts: list[str]) -> list[list[float]]:
        """Class probabilities per text, in ``self.labels`` order."""
        ids = [self.vocab.encode(tokens) for tokens in self.tokenizer.pipe(texts)]
        probs = predict_proba(self.model, ids, self.batch_size, self.max_length, self.device)
        return probs.tolist()

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """``[{"text", "label", "probabilities": {label: p}}]``, one dict per input text, in order."""
        texts = list(texts)
        results = []
        for text, row in zip(texts, self.predict_proba(texts)):
            best = max(range(len(row)), key=row.__getitem__)
            results.append(
                {
                    "text": text,
                    "label": self.labels[best],
                    "probabilities": dict(zip(self.labels, row)),
                }
            )
        return results
