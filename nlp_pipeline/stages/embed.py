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
from dataclasses import dataclass, field

from nlp_pipeline.engine import Artifact, BuildContext, Runtime, Stage
from nlp_pipeline.engine.stage import ADDED_LATER
from nlp_pipeline.text.phrases import PHRASES_FILE, carry_phrases


@dataclass(frozen=True)
class EmbedParams:
    engine: str  # gensim | torch
    sg: int  # 1 = skip-gram, 0 = CBOW
    vector_size: int
    window: int
    negative: int
    min_count: int
    sample: float
    epochs: int
    alpha: float
    min_alpha: float
    max_vocab_size: int | None
    seed: int
    # torch engine only (None for gensim), already resolved for the architecture:
    batch_words: int | None = None
    max_row_updates: float | None = None
    skip_saturated: bool | None = None
    # torch on the CPU: "native" (the C kernel) or None (the batched tensor path, all it had before)
    kernel: str | None = field(default=None, metadata={ADDED_LATER: True})

    def word2vec(self, workers: int):
        from nlp_pipeline.embeddings import Word2VecParams

        return Word2VecParams(
            sg=self.sg, vector_size=self.vector_size, window=self.window, negative=self.negative,
            min_count=self.min_count, sample=self.sample, epochs=self.epochs, alpha=self.alpha,
            min_alpha=self.min_alpha, max_vocab_size=self.max_vocab_size, workers=workers, seed=self.seed,
        )


def build(params: EmbedParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.embeddings import intrinsic_scores, save_vectors, train_gensim

    text: Artifact = inputs["text"]
    w2v = params.word2vec(ctx.runtime.workers)
    if params.engine == "torch":
        from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, train_torch

        options = TorchW2VOptions(device=ctx.runtime.device, batch_words=params.batch_words,
                                  max_row_updates=params.max_row_updates, skip_saturated=bool(params.skip_saturated),
                                  kernel=params.kernel or "tensor")
        model = train_torch(text.file("corpus.txt"), w2v, options=options, progress=ctx.progress, log_fn=ctx.log,
                            work_dir=ctx.out_dir)
        kv, info = model.to_keyed_vectors(), model.info
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

    ctx.log(
        f"  vocabulary {info['vocab_size']:,}, {info['words_per_second']:,} words/s; "
        f"WS353 {score(scores['wordsim353']['spearman'])}, SimLex {score(scores['simlex999']['spearman'])}, "
        f"analogy {score(scores['google_analogy']['accuracy'])}"
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


STAGE = Stage(
    name="embed",
    version="2",  # 2: typed params
    params=EmbedParams,
    build=build,
    inputs=("text",),
    describe=describe,
    summary=summary,
    nondeterministic=nondeterministic,
)
