"""Training for sequence classifiers: device choice, length-bucketed batching, the loop, metrics."""

from nlp_pipeline.training.batching import bucketed_batches, pad_batch
from nlp_pipeline.training.device import resolve_device
from nlp_pipeline.training.metrics import classification_metrics
from nlp_pipeline.training.trainer import TrainConfig, TrainResult, predict_proba, train_classifier

__all__ = [
    "TrainConfig",
    "TrainResult",
    "bucketed_batches",
    "classification_metrics",
    "pad_batch",
    "predict_proba",
    "resolve_device",
    "train_classifier",
]
