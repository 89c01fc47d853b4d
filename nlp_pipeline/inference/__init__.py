"""Inference with saved models: `Predictor` / `TaggerPredictor`, and `LanguageModel` (generation and perplexity).

Built on the models, beside training: the batching and the batched scoring that inference and
training share live in `nlp_pipeline.models` (`batching`, `scoring`), so training never imports
inference, and loading a model to predict never imports the training code (or scikit-learn).
"""

from nlp_pipeline.inference.classifier import Predictor, predict_proba
from nlp_pipeline.inference.language_model import LanguageModel
from nlp_pipeline.inference.tagger import TaggerPredictor, predict_tags
from nlp_pipeline.models.batching import EVAL_BATCH_SIZE, bucketed_batches, pad_batch

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
