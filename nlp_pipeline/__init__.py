"""nlp-pipeline: raw text corpus → tokens → word2vec vectors → RNN/LSTM/BiLSTM models, one cached stage at a time.

The public API lives in the sub-packages; the CLI (`nlp_pipeline.cli`) is a thin layer over it:

- `nlp_pipeline.data`: corpus definitions (``corpora/*.yaml``), file resolution and readers.
- `nlp_pipeline.text`: spaCy tokenization and vocabularies.
- `nlp_pipeline.embeddings`: word2vec training, vector I/O and intrinsic evaluation.
- `nlp_pipeline.models` / `nlp_pipeline.inference` / `nlp_pipeline.training`: sequence classifiers and taggers,
  prediction with saved ones, and their training loops (inference and training each build on the
  models, never on each other; `nlp_pipeline.device` is below all three).
- `nlp_pipeline.engine`: stages, keys, the integrity-checked and lock-protected artifact cache, pipelines as
  declared lists of steps.
- `nlp_pipeline.stages`: one module per stage (its parameter type, its build function).
- `nlp_pipeline.pipelines`: the declared pipelines (``run sentiment`` …), the runner, artifact lookup.
"""

__version__ = "0.1.0"
