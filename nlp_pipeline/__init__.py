"""nlp-pipeline: raw text corpus → tokens → word2vec vectors → RNN/LSTM/BiLSTM models, one cached stage at a time.

The public API lives in the sub-packages; the CLI (`nlp_pipeline.cli`) is a thin layer over it:

- `nlp_pipeline.data`: corpus definitions (``corpora/*.yaml``), file resolution and readers.
- `nlp_pipeline.text`: spaCy tokenization and vocabularies.
- `nlp_pipeline.embeddings`: word2vec training, vector I/O and intrinsic evaluation.
- `nlp_pipeline.models` / `nlp_pipeline.inference` / `nlp_pipeline.training`: sequence classifiers and taggers,
  prediction with saved ones, and their training loops (each layer imports only the ones before it;
  `nlp_pipeline.device` is below all three).
- `nlp_pipeline.engine`: stages, fingerprints and the artifact cache.
- `nlp_pipeline.pipelines`: the pipelines that chain the stages (``run sentiment`` …).
"""

__version__ = "0.1.0"
