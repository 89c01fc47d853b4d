"""The embeddings pipeline: pretrain_text → (phrases) → embed → evaluate_vectors, on any text.

This module is where an `EmbeddingsConfig` is read. The embed artifact it leaves is what
``--set embed.vectors=<key prefix|latest>`` hands to the sentiment and tagging pipelines.
"""

from __future__ import annotations

from pathlib import Path

from nlp_pipeline.config import EmbeddingsConfig
from nlp_pipeline.engine import DataRef, Pipeline, Step
from nlp_pipeline.pipelines.declared import Column, Declared
from nlp_pipeline.pipelines.inputs import corpus_of, corpus_ref, text_sources
from nlp_pipeline.pipelines.runtime import runtime
from nlp_pipeline.pipelines.vectors import embed_params, pretrain_text_params
from nlp_pipeline.reports.results import VariantResult
from nlp_pipeline.stages import embed, evaluate_vectors, phrases, pretrain_text
from nlp_pipeline.stages.evaluate_vectors import EvaluateVectorsParams
from nlp_pipeline.stages.phrases import PhrasesParams


def held_out(cfg: EmbeddingsConfig) -> list[str]:
    """``data.dedup_against``, or the registered labelled and tagged corpora the sources come from
    (``imdb`` for ``imdb_unsup`` and ``imdb:train``, ``ud_en_ewt`` for itself)."""
    from nlp_pipeline.data import list_corpora, load_spec

    if cfg.data.dedup_against is not None:
        return sorted(set(cfg.data.dedup_against))
    registered = set(list_corpora())
    names = set()
    for source in cfg.data.text:
        corpus = corpus_of(source)
        if corpus is None and source in registered and load_spec(source).kind in ("labelled", "tagged"):
            corpus = source  # all of ud_en_ewt's text, but never its dev and test sentences
        if corpus is not None and corpus.partition(":")[0] in registered:
            names.add(corpus)
    return sorted(names)


def file_ref(path: str, key: str) -> DataRef:
    """An evaluation file as an input, read once now: a malformed line is an error before word2vec
    trains, not after."""
    from nlp_pipeline.embeddings.eval_sets import read_analogies, read_pairs
    from nlp_pipeline.errors import DataError

    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{key}: file not found", path=p)
    (read_pairs if key == "evaluate.pairs" else read_analogies)(p)
    return DataRef(f"file:{p.name}", str(p), (p,))


def phrases_params(cfg: EmbeddingsConfig) -> PhrasesParams:
    return PhrasesParams.of(cfg.phrases)


def evaluate_params(cfg: EmbeddingsConfig) -> EvaluateVectorsParams:
    return EvaluateVectorsParams.of(cfg.evaluate)


# The text sources of ``data.text``, minus the evaluation documents of the corpora they come
# from; shared with the lm pipeline, which reads its text the same way.
PRETRAIN_STEP = Step(pretrain_text.STAGE, pretrain_text_params, inputs={
    "sources": text_sources,
    "held_out": lambda c: tuple(corpus_ref(n, c.data.data_dir) for n in held_out(c)),
})


PIPELINE = Pipeline(
    name="embeddings",
    steps=(
        PRETRAIN_STEP,
        Step(phrases.STAGE, phrases_params, when=lambda c: c.phrases.passes > 0, inputs={"text": "pretrain_text"}),
        Step(embed.STAGE, embed_params, inputs={"text": ("phrases", "pretrain_text")}),
        Step(evaluate_vectors.STAGE, evaluate_params, inputs={
            "vectors": "embed",
            "pairs": lambda c: tuple(file_ref(f, "evaluate.pairs") for f in c.evaluate.pairs),
            "analogies": lambda c: tuple(file_ref(f, "evaluate.analogies") for f in c.evaluate.analogies),
        }),
    ),
    runtime=runtime,
    train_step="embed",
    evaluate_step="evaluate_vectors",
)


def _score(v: VariantResult, name: str) -> str:
    s = v.metrics.get("scores", {}).get(name)
    if not s:
        return ""
    if s["kind"] == "pairs":
        return "" if s.get("spearman") is None else f"{s['spearman']:.3f}"
    return "" if s.get("accuracy") is None else f"{100 * s['accuracy']:.2f}"


STANDARD = ("wordsim353", "simlex999", "google_analogy")


def _your_sets(v: VariantResult) -> str:
    return "; ".join(f"{name} {_score(v, name)}" for name in v.metrics.get("scores", {}) if name not in STANDARD)


def rank(v: VariantResult) -> tuple:
    """Best Google-analogy accuracy first, then SimLex-999 (the other sets are often not scored)."""
    scores = v.metrics.get("scores", {})

    def value(name: str, metric: str) -> float:
        x = scores.get(name, {}).get(metric)
        return -2.0 if x is None else x

    return (value("google_analogy", "accuracy"), value("simlex999", "spearman"))


DECLARED = Declared(
    pipeline=PIPELINE,
    name_keys=(("embed.engine", "{}"), ("embed.sg", lambda sg: "skipgram" if sg else "cbow")),
    columns=(
        Column("engine", lambda v: v.config["embed"]["engine"]),
        Column("model", lambda v: "skip-gram" if v.config["embed"]["sg"] else "CBOW"),
        Column("dim", lambda v: v.config["embed"]["vector_size"]),
        Column("phrases", lambda v: v.config["phrases"]["passes"] or "", optional=True),
        Column("vocab", lambda v: f"{v.train.get('vocab_size', 0):,}"),
        Column("words/s", lambda v: f"{v.train.get('words_per_second') or 0:,}"),
        Column("train time", lambda v: f"{v.train.get('seconds', 0):.0f}s"),
        Column("WS353 ρ", lambda v: _score(v, "wordsim353"), optional=True),
        Column("SimLex ρ", lambda v: _score(v, "simlex999"), optional=True),
        Column("analogy %", lambda v: _score(v, "google_analogy"), optional=True),
        Column("your sets", _your_sets, optional=True),
    ),
    rank=rank,
)
