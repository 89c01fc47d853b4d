"""The language-model pipeline: pretrain_text → lm_data → (embed | import_vectors) → train_lm → evaluate_lm.

This module is where an `LMConfig` is read. The pretraining text is gathered and deduplicated as
in ``run embeddings`` (the same step, `embeddings.PRETRAIN_STEP`: no dev or test document of the corpora the text comes
from is ever seen); lm_data then holds a slice of it out for perplexity, and word2vec, when the
embedding starts from it, trains on the language model's training documents only.
"""

from __future__ import annotations

from nlp_pipeline.config import LMConfig
from nlp_pipeline.engine import Pipeline, Step
from nlp_pipeline.pipelines.declared import Column, Declared, vectors_label
from nlp_pipeline.pipelines.embeddings import PRETRAIN_STEP
from nlp_pipeline.pipelines.runtime import runtime
from nlp_pipeline.pipelines.vectors import VECTOR_STEPS, embed_params, imports_vectors, trains_vectors, vectors_ref
from nlp_pipeline.reports.results import VariantResult
from nlp_pipeline.stages import embed, evaluate_lm, import_vectors, lm_data, train_lm
from nlp_pipeline.stages.evaluate_lm import EvaluateLMParams
from nlp_pipeline.stages.import_vectors import ImportVectorsParams
from nlp_pipeline.stages.lm_data import LMDataParams
from nlp_pipeline.stages.train_lm import TrainLMParams


def lm_data_params(cfg: LMConfig) -> LMDataParams:
    return LMDataParams.of(cfg.data, cfg.lm)


def train_lm_params(cfg: LMConfig) -> TrainLMParams:
    m = cfg.lm
    return TrainLMParams.of(m, embedding_dim=None if cfg.uses_vectors() else m.embedding_dim,
                            cutoffs=m.cutoffs if m.output == "adaptive" else ())


def evaluate_lm_params(cfg: LMConfig) -> EvaluateLMParams:
    return EvaluateLMParams.of(cfg.generate)


PIPELINE = Pipeline(
    name="lm",
    steps=(
        PRETRAIN_STEP,
        Step(lm_data.STAGE, lm_data_params, inputs={"text": "pretrain_text"}),
        Step(embed.STAGE, embed_params, when=trains_vectors, inputs={"text": "lm_data"}),
        Step(import_vectors.STAGE, lambda c: ImportVectorsParams.of(c.tokenize),
             when=imports_vectors, inputs={"file": vectors_ref}),
        Step(train_lm.STAGE, train_lm_params, inputs={"data": "lm_data", "vectors": VECTOR_STEPS}),
        Step(evaluate_lm.STAGE, evaluate_lm_params, inputs={"model": "train_lm", "data": "lm_data"}),
    ),
    runtime=runtime,
    train_step="train_lm",
    evaluate_step="evaluate_lm",
)


def rank(v: VariantResult) -> float:
    """Lowest held-out perplexity first (the table sorts descending)."""
    ppl = v.metrics.get("heldout_ppl")
    return -ppl if ppl is not None else float("-inf")


def _embedding(v: VariantResult) -> str:
    return f"random {v.config['lm']['embedding_dim']}d" if v.embeddings is None else vectors_label(v)


DECLARED = Declared(
    pipeline=PIPELINE,
    name_keys=(("lm.direction", "{}"), ("lm.cell", "{}")),
    columns=(
        Column("direction", lambda v: v.config["lm"]["direction"]),
        Column("model", lambda v: f"{v.config['lm']['cell']} {v.config['lm']['num_layers']}x"
                                  f"{v.config['lm']['hidden_size']}"),
        Column("embedding", _embedding),
        Column("params", lambda v: f"{v.train.get('parameters', 0) / 1e6:.1f}M"),
        Column("tokens", lambda v: f"{v.train.get('tokens_trained', 0):,}"),
        Column("tokens/s", lambda v: f"{v.train.get('tokens_per_second', 0):,}"),
        Column("train time", lambda v: f"{v.train.get('train_seconds', 0):.0f}s"),
        Column("held-out ppl", lambda v: v.metrics.get("heldout_ppl")),
        Column("unigram ppl", lambda v: v.metrics.get("unigram_heldout_ppl")),
    ),
    rank=rank,
)
