"""embed: ``corpus.txt`` → word2vec vectors (``vectors.bin`` + ``vectors.npy`` + ``words.txt``) and intrinsic scores.

Trained on phrased text (the phrases stage), the artifact also holds that ``phrases.json``.

Two engines train the same algorithm: gensim's C code and our PyTorch engine. The torch engine's
per-architecture defaults (batch size, row-update cap) are resolved by the pipeline before they reach
these params, so a change of those defaults gives a new key instead of stale vectors.

Bit-reproducible with one worker thread on the CPU; several threads update shared weights without
locks (Hogwild, as in word2vec), and the manifest says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Runtime, Stage
from nlp_pipeline.engine.stage import BUILT_BEFORE
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.text.phrases import PHRASES_FILE, carry_phrases

# The torch engine's per-architecture defaults are resolved by the pipeline before they reach these
# params (batch_words, max_row_updates, skip_saturated; None for gensim), and kernel is the one that
# runs on the run's device ("native", or None for the tensor path). negatives_per_pair arrives True only where
# it changes the training (the torch engine's C kernel, skip-gram).
EmbedParams = settings.stage_params("EmbedParams", settings.Word2Vec, derived={
    "batch_words": (int | None, None), "max_row_updates": (float | None, None), "skip_saturated": (bool | None, None),
    # the tensor path is all there was before the C kernel
    "kernel": (str | None, Field(None, json_schema_extra={BUILT_BEFORE: None}))})


def word2vec_params(params: EmbedParams, workers: int):
    """The engines' `Word2VecParams`: the params' word2vec settings and this run's threads."""
    from nlp_pipeline.embeddings import Word2VecParams

    # the torch engine's, in TorchW2VOptions
    skip = ("kernel", "batch_words", "max_row_updates", "skip_saturated", "negatives_per_pair")
    values = {n: getattr(params, n) for n in settings.Word2Vec.model_fields if n not in skip}
    return Word2VecParams(**values, workers=workers)


def build(params: EmbedParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.embeddings import intrinsic_scores, save_vectors, train_gensim

    text: Artifact = inputs["text"]
    w2v = word2vec_params(params, ctx.runtime.workers)
    if params.engine == "torch":
        from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, train_torch

        options = TorchW2VOptions(device=ctx.runtime.device, batch_words=params.batch_words,
                                  max_row_updates=params.max_row_updates, skip_saturated=bool(params.skip_saturated),
                                  kernel=params.kernel or "tensor", negatives_per_pair=params.negatives_per_pair)
        model = train_torch(text.file("corpus.txt"), w2v, options=options, progress=ctx.progress, log_fn=ctx.log,
                            work_dir=ctx.out_dir)
        kv, info = model.to_keyed_vectors(), model.info
        del model  # its output matrix (vocabulary x dimensions) is not needed to save and score the vectors
    else:
        try:
            kv, info = train_gensim(text.file("corpus.txt"), w2v, total_words=text.metadata.get("tokens"),
                                    progress=ctx.progress, log_fn=ctx.log)
        except RuntimeError as err:  # gensim: "you must first build vocabulary before training the model"
            if "vocabulary" not in str(err):
                raise
            from nlp_pipeline.embeddings.w2v_corpus import min_count_error

            raise min_count_error(text.file("corpus.txt"), params.min_count) from None
    files = save_vectors(kv, ctx.out_dir)
    carry_phrases(text.path / PHRASES_FILE, ctx.out_dir, files)  # trained on phrased text
    scores = intrinsic_scores(kv)
    def score(x: float | None) -> str:
        return "n/a" if x is None else f"{x}"

    analogy = scores["google_analogy"]["accuracy"]
    ctx.log(  # words/s: epochs x corpus words over the whole word2vec time, as the results table shows it
        f"  vocabulary {info['vocab_size']:,}, {info['words_per_second'] or 0:,} words/s ({params.epochs} x "
        f"{info['corpus_words']:,} words in {info['seconds']:.1f}s); WS353 {score(scores['wordsim353']['spearman'])}, "
        f"SimLex {score(scores['simlex999']['spearman'])}, "
        f"analogy {'n/a' if analogy is None else percent(analogy) + '%'}"
    )
    for name, s in scores.items():
        if "unavailable" in s:
            ctx.log(f"  {name}: unavailable ({s['unavailable']})")
    return {**info, "files": files, "intrinsic": scores}


def nondeterministic(params: EmbedParams, runtime: Runtime) -> str | None:
    if params.engine == "torch" and runtime.device.startswith("cuda"):
        return "torch word2vec on CUDA (scatter-adds in a varying order)"
    if runtime.workers > 1:
        return f"{runtime.workers} word2vec worker threads (Hogwild: lock-free shared updates)"
    return None


def describe(params: EmbedParams) -> str:
    return f"word2vec ({'skip-gram' if params.sg else 'CBOW'}, {params.engine})"


def summary(art: Artifact) -> str:
    p, m = art.manifest.get("params", {}), art.metadata
    return (f"{'skip-gram' if p.get('sg') else 'CBOW'} {p.get('vector_size')}d {p.get('engine')}, "
            f"vocab {m.get('vocab_size', 0):,}")


STAGE = Stage(name="embed", version="2",  # 2: typed params
              params=EmbedParams, build=build, inputs=("text",), describe=describe, summary=summary,
              nondeterministic=nondeterministic)
