"""The tagging pipeline: treebank → (pretrain_text → embed) → train_tagger → evaluate_tagger.

This module is where a `TaggingConfig` is read: each step's ``params`` function turns the config
into that stage's parameter object, and the wiring says which artifacts feed which stage.
"""

from __future__ import annotations

from nlp_pipeline.config import TaggingConfig
from nlp_pipeline.engine import Pipeline, Step
from nlp_pipeline.pipelines.declared import TRAINING_COLUMNS, Column, Declared, model_setting, vectors_label
from nlp_pipeline.pipelines.inputs import corpus_ref
from nlp_pipeline.pipelines.language_models import finetune_step, lm_inputs
from nlp_pipeline.pipelines.runtime import runtime
from nlp_pipeline.pipelines.vectors import VECTOR_STEPS, random_embedding_dim, vector_steps
from nlp_pipeline.stages import evaluate_tagger, train_tagger, treebank
from nlp_pipeline.stages.evaluate_tagger import EvaluateTaggerParams
from nlp_pipeline.stages.train_tagger import TrainTaggerParams
from nlp_pipeline.stages.treebank import TreebankParams


def treebank_params(cfg: TaggingConfig) -> TreebankParams:
    return TreebankParams.of(cfg.data)


def train_tagger_params(cfg: TaggingConfig) -> TrainTaggerParams:
    return TrainTaggerParams.of(cfg.model, cfg.train, cfg.data, cfg.tokenize,
                                random_embedding_dim=random_embedding_dim(cfg))


PIPELINE = Pipeline(
    name="tagging",
    steps=(
        Step(treebank.STAGE, treebank_params, inputs={"corpus": lambda c: corpus_ref(c.data.corpus, c.data.data_dir)}),
        *vector_steps(),
        finetune_step("treebank"),
        Step(train_tagger.STAGE, train_tagger_params,
             inputs={"treebank": "treebank", "vectors": VECTOR_STEPS, **lm_inputs()}),
        Step(evaluate_tagger.STAGE, lambda c: EvaluateTaggerParams.of(c.data),
             inputs={"treebank": "treebank", "model": "train_tagger"}),
    ),
    runtime=runtime,
    train_step="train_tagger",
    evaluate_step="evaluate_tagger",
)

DECLARED = Declared(
    pipeline=PIPELINE,
    name_keys=(("model.encoder", "{}"), ("model.embedding_mode", "{}"), ("model.char_encoder", "char_{}")),
    columns=(
        model_setting("model", "encoder"),
        model_setting("chars", "char_encoder"),
        Column("embeddings", vectors_label),
        model_setting("mode", "embedding_mode"),
        Column("dev acc", lambda v: v.pct("dev", "accuracy")),
        Column("dev unseen acc", lambda v: v.pct("dev", "unseen_accuracy")),
        Column("dev macro-F1", lambda v: v.pct("dev", "macro_f1")),
        Column("test acc", lambda v: v.pct("test", "accuracy"), optional=True),
        *TRAINING_COLUMNS,
        Column("tag tok/s", lambda v: f"{v.metrics.get('dev', {}).get('tokens_per_second') or 0:,}"),
    ),
)
