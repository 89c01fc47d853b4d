"""Text processing: spaCy tokenization and vocabularies."""

from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig

__all__ = ["Tokenizer", "TokenizerConfig"]
