"""The sentiment pipeline: tokenize → (pretrain_text → embed) → train → evaluate.

This module is where a `SentimentConfig` is read: each step's ``params`` function turns the config
into that stage's parameter object, and the wiring says which artifacts feed which stage.
"""

from __future__ import annotations

from nlp_pipeline.config import SentimentConfig
from nlp_pipeline.engine import Pipeline, Step
from nlp_pipeline.pipelines.common import VECTOR_STEPS, corpus_ref, runtime, uses_vectors, vector_steps
from nlp_pipeline.pipelines.declared import Column, Declared, vectors_label
from nlp_pipeline.stages import evaluate, tokenize, train
from nlp_pipeline.stages.evaluate import EvaluateParams
from nlp_pipeline.stages.tokenize import TokenizeParams
from nlp_pipeline.stages.train import TrainParams


def tokenize_params(cfg: SentimentConfig) -> TokenizeParams:
    d, t = cfg.data, cfg.tokenize
    return TokenizeParams(dev_fraction=d.dev_fraction, test_fraction=d.test_fraction, seed=d.seed,
                          labels=tuple(d.labels) if d.labels is not None else None,
                          min_label_count=d.min_label_count, lowercase=t.lowercase, strip_html=t.strip_html)


def train_params(cfg: SentimentConfig) -> TrainParams:
    m, t = cfg.model, cfg.train
    return TrainParams(
        encoder=m.encoder, embedding_mode=m.embedding_mode, hidden_size=m.hidden_size, num_layers=m.num_layers,
        dropout=m.dropout, embedding_dropout=m.embedding_dropout, pooling=m.pooling,
        random_embedding_dim=None if uses_vectors(cfg) else cfg.embed.vector_size,
        epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, embedding_lr_scale=t.embedding_lr_scale,
        weight_decay=t.weight_decay, clip_norm=t.clip_norm, patience=t.patience, max_length=t.max_length,
        vocab_min_count=t.vocab_min_count, vocab_from_vectors=t.vocab_from_vectors, seed=t.seed,
    )


PIPELINE = Pipeline(
    name="sentiment",
    steps=(
        Step(tokenize.STAGE, tokenize_params, inputs={"corpus": lambda c: corpus_ref(c.data.corpus, c.data.data_dir)}),
        *vector_steps(),
        Step(train.STAGE, train_params, inputs={"tokens": "tokenize", "vectors": VECTOR_STEPS}),
        Step(evaluate.STAGE, lambda c: EvaluateParams(), inputs={"tokens": "tokenize", "model": "train"}),
    ),
    runtime=runtime,
    train_step="train",
    evaluate_step="evaluate",
)

DECLARED = Declared(
    pipeline=PIPELINE,
    name_keys=(("model.encoder", "{}"), ("model.embedding_mode", "{}")),
    columns=(
        Column("model", lambda v: v.config["model"]["encoder"]),
        Column("embeddings", vectors_label),
        Column("mode", lambda v: v.config["model"]["embedding_mode"]),
        Column("dev acc", lambda v: v.pct("dev", "accuracy")),
        Column("dev F1", lambda v: v.pct("dev", "macro_f1")),
        Column("test acc", lambda v: v.pct("test", "accuracy")),
        Column("test F1", lambda v: v.pct("test", "macro_f1")),
        Column("best ep", lambda v: v.train.get("best_epoch")),
        Column("train time", lambda v: f"{v.train.get('train_seconds', 0):.0f}s"),
    ),
)
