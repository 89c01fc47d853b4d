"""Classifier inference: class probabilities for encoded documents, and raw texts labelled by a saved model.

The batched scoring itself (`nlp_pipeline.models.scoring.predict_logits`) is shared with training,
which scores its dev split with it.

`Predictor` bundles what inference needs — the model, its vocabulary, its labels, and the tokenizer
and truncation it was trained with (read from the saved ``config.json``), and the phrases of its
vectors (``phrases.json``) — so that new text goes through exactly the preprocessing the training
data did.

>>> predictor = Predictor.load("runs/sentiment/model")          # doctest: +SKIP
>>> predictor.predict(["A gorgeous, witty film."])[0]["label"]  # doctest: +SKIP
'positive'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import DataError
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE
from nlp_pipeline.models.classifier import SequenceClassifier
from nlp_pipeline.models.classifier_io import load_classifier
from nlp_pipeline.models.model_io import CONFIG_FILE
from nlp_pipeline.models.scoring import iter_logits, predict_logits
from nlp_pipeline.text.phrases import PhraseModel, apply_phrases, load_phrases
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
from nlp_pipeline.text.vocab import Vocab


def predict_proba(model: nn.Module, ids: list[list[int]], batch_size: int = EVAL_BATCH_SIZE,
                  max_length: int | None = None, device: str | torch.device | None = None) -> np.ndarray:
    """Class probabilities ``[N, C]`` (float32, rows in input order) for encoded documents.

    Runs in eval mode under `torch.inference_mode` on ``device`` (default: where the model already is;
    otherwise the model is moved there) and restores the model's train/eval mode afterwards.
    ``max_length`` must match the one used in training, or long documents are read differently.
    """
    if device is None:
        target = _model_device(model)
    else:
        target = resolve_device(device)
        model.to(target)
    return probabilities(predict_logits(model, ids, batch_size, max_length, target))


def probabilities(logits: torch.Tensor) -> np.ndarray:
    """Class probabilities ``[N, C]`` (float32) of a classifier's logits."""
    return torch.softmax(logits, dim=1).numpy().astype(np.float32, copy=False)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


class Predictor:
    """Tokenize → encode → classify, with the settings saved alongside the model."""

    def __init__(self, model: SequenceClassifier, vocab: Vocab, labels: list[str], tokenizer: Tokenizer,
                 max_length: int | None = None, device: str | torch.device = "auto", batch_size: int = EVAL_BATCH_SIZE,
                 phrases: PhraseModel | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.vocab = vocab
        self.labels = list(labels)
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.phrases = phrases  # the vectors' collocations (new_york), applied after tokenization

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
        return cls(model, vocab, config["labels"], tokenizer, config.get("max_length"), target,
                   phrases=load_phrases(directory))

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        """The model's words for each text: its tokenizer, then the phrases its vectors were trained with."""
        return list(apply_phrases(self.phrases, self.tokenizer.pipe(texts)))

    def predict_proba(self, texts: list[str]) -> list[list[float]]:
        """Class probabilities per text, in ``self.labels`` order."""
        ids = [self.vocab.encode(tokens) for tokens in self.tokenize(texts)]
        probs = predict_proba(self.model, ids, self.batch_size, self.max_length, self.device)
        return probs.tolist()

    def predict(self, texts: list[str], on_batch: Callable[[list[int], list[dict[str, Any]]], None] | None = None
                ) -> list[dict[str, Any]]:
        """``[{"text", "label", "probabilities": {label: p}}]``, one dict per input text, in order.

        ``on_batch(indices into texts, their answers)`` is called as each scored batch is done, so a server
        can answer the texts of a batch while the next one is scored."""
        texts = list(texts)
        ids = [self.vocab.encode(tokens) for tokens in self.tokenize(texts)]
        results: list[dict[str, Any]] = [{} for _ in texts]
        for indices, logits in iter_logits(self.model, ids, self.batch_size, self.max_length, self.device):
            answers = []
            for i, row in zip(indices, probabilities(logits).tolist()):
                best = max(range(len(row)), key=row.__getitem__)
                results[i] = {"text": texts[i], "label": self.labels[best],
                              "probabilities": dict(zip(self.labels, row))}
                answers.append(results[i])
            if on_batch is not None:
                on_batch(indices, answers)
        return results
