"""Inference with saved models: batching, scoring, `Predictor` / `TaggerPredictor`, and `LanguageModel`
(generation and perplexity).

Sits between the models and training: training reuses its batching and dev-split scoring, and
loading a model to predict never imports the training code (or scikit-learn).
"""

from nlp_pipeline.inference.batching import EVAL_BATCH_SIZE, bucketed_batches, pad_batch
from nlp_pipeline.inference.classifier import Predictor, predict_proba
from nlp_pipeline.inference.language_model import LanguageModel
from nlp_pipeline.inference.tagger import TaggerPredictor, predict_tags

__all__ = [
    "EVAL_BATCH_SIZE",
    "LanguageModel",
    "Predictor",
    "TaggerPredictor",
    "bucketed_batches",
    "pad_batch",
    "predict_proba",
    "predict_tags",
]
