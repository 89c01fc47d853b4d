"""Word vectors: training (gensim engine), I/O in word2vec formats, intrinsic evaluation."""

from nlp_pipeline.embeddings.evaluate import intrinsic_scores
from nlp_pipeline.embeddings.gensim_engine import Word2VecParams, train_gensim
from nlp_pipeline.embeddings.vectors_io import load_vectors, save_vectors

__all__ = ["Word2VecParams", "intrinsic_scores", "load_vectors", "save_vectors", "train_gensim"]
