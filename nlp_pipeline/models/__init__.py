"""Sequence classifiers and taggers (RNN / GRU / LSTM / BiLSTM over word vectors), their inputs and files.

The bottom model layer: it imports only `nlp_pipeline.device`, `text` and `errors`; inference and
training build on it.
"""

from nlp_pipeline.models.classifier import POOLINGS, ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.classifier_io import load_classifier, save_classifier
from nlp_pipeline.models.embedding import EMBEDDING_MODES, build_embedding_matrix, extend_vocabulary
from nlp_pipeline.models.encoder import ENCODERS, RecurrentEncoder
from nlp_pipeline.models.tagger import CHAR_ENCODERS, SequenceTagger, TaggerConfig
from nlp_pipeline.models.tagger_encoding import EncodedSentences, TaggerEncoder
from nlp_pipeline.models.tagger_io import load_tagger, save_tagger

__all__ = [
    "CHAR_ENCODERS",
    "EMBEDDING_MODES",
    "ENCODERS",
    "POOLINGS",
    "ClassifierConfig",
    "EncodedSentences",
    "RecurrentEncoder",
    "SequenceClassifier",
    "SequenceTagger",
    "TaggerConfig",
    "TaggerEncoder",
    "build_embedding_matrix",
    "extend_vocabulary",
    "load_classifier",
    "load_tagger",
    "save_classifier",
    "save_tagger",
]
