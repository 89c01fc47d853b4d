"""The sentiment pipeline: tokenize → (pretrain_text → embed) → train → evaluate.

This module is where a `SentimentConfig` is read: each step's ``params`` function turns the config
into that stage's parameter object, and the wiring says which artifacts feed which stage.
"""

from __future__ import annotations

from nlp_pipeline.config import SentimentConfig
from nlp_pipeline.engine import Pipeline, Step
from nlp_pipeline.pipelines.declared import TRAINING_COLUMNS, Column, Declared, model_setting, vectors_label
from nlp_pipeline.pipelines.inputs import corpus_ref
from nlp_pipeline.pipelines.language_models import finetune_step, lm_inputs
from nlp_pipeline.pipelines.runtime import runtime
from nlp_pipeline.pipelines.vectors import VECTOR_STEPS, random_embedding_dim, vector_steps
from nlp_pipeline.stages import evaluate, tokenize, train
from nlp_pipeline.stages.evaluate import EvaluateParams
from nlp_pipeline.stages.tokenize import TokenizeParams
from nlp_pipeline.stages.train import TrainParams


def tokenize_params(cfg: SentimentConfig) -> TokenizeParams:
    return TokenizeParams.of(cfg.data, cfg.tokenize)


def train_params(cfg: SentimentConfig) -> TrainParams:
    return TrainParams.of(cfg.model, cfg.train, random_embedding_dim=random_embedding_dim(cfg))


PIPELINE = Pipeline(
    name="sentiment",
    steps=(
        Step(tokenize.STAGE, tokenize_params, inputs={"corpus": lambda c: corpus_ref(c.data.corpus, c.data.data_dir)}),
        *vector_steps(),
        finetune_step("tokenize"),
        Step(train.STAGE, train_params, inputs={"tokens": "tokenize", "vectors": VECTOR_STEPS, **lm_inputs()}),
        Step(evaluate.STAGE, lambda c: EvaluateParams.of(), inputs={"tokens": "tokenize", "model": "train"}),
    ),
    runtime=runtime,
    train_step="train",
    evaluate_step="evaluate",
)

DECLARED = Declared(
    pipeline=PIPELINE,
    name_keys=(("model.encoder", "{}"), ("model.embedding_mode", "{}")),
    columns=(
        model_setting("model", "encoder"),
        Column("embeddings", vectors_label),
        model_setting("mode", "embedding_mode"),
        Column("dev acc", lambda v: v.pct("dev", "accuracy")),
        Column("dev F1", lambda v: v.pct("dev", "macro_f1")),
        Column("test acc", lambda v: v.pct("test", "accuracy")),
        Column("test F1", lambda v: v.pct("test", "macro_f1")),
        *TRAINING_COLUMNS,
    ),
)
