"""Sequence classifiers (RNN / GRU / LSTM / BiLSTM over word vectors), their files, and inference."""

from nlp_pipeline.models.classifier import (
    EMBEDDING_MODES,
    ENCODERS,
    POOLINGS,
    ClassifierConfig,
    SequenceClassifier,
    build_embedding_matrix,
)
from nlp_pipeline.models.io import load_classifier, save_classifier
from nlp_pipeline.models.predict import Predictor

__all__ = [
    "EMBEDDING_MODES",
    "ENCODERS",
    "POOLINGS",
    "ClassifierConfig",
    "Predictor",
    "SequenceClassifier",
    "build_embedding_matrix",
    "load_classifier",
    "save_classifier",
]
