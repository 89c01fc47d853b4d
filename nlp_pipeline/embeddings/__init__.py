"""Word vectors: training (gensim engine), I/O in word2vec formats, intrinsic evaluation, similarity queries."""

from nlp_pipeline.embeddings.eval_sets import evaluate_vectors, read_analogies, read_pairs
from nlp_pipeline.embeddings.evaluate import intrinsic_scores
from nlp_pipeline.embeddings.gensim_engine import Word2VecParams, train_gensim
from nlp_pipeline.embeddings.query import VectorIndex, answer_queries
from nlp_pipeline.embeddings.vectors_io import load_vectors, save_vectors

__all__ = [
    "VectorIndex",
    "Word2VecParams",
    "answer_queries",
    "evaluate_vectors",
    "intrinsic_scores",
    "load_vectors",
    "read_analogies",
    "read_pairs",
    "save_vectors",
    "train_gensim",
]
