"""Training for sequence classifiers and taggers: the shared loop pieces, the two loops, metrics."""

from nlp_pipeline.training.classifier import train_classifier
from nlp_pipeline.training.loop import TrainConfig, TrainResult
from nlp_pipeline.training.metrics import classification_metrics, tagging_metrics
from nlp_pipeline.training.tagger import train_tagger

__all__ = [
    "TrainConfig",
    "TrainResult",
    "classification_metrics",
    "tagging_metrics",
    "train_classifier",
    "train_tagger",
]
