"""The word-vector steps the task pipelines share, and the settings that choose them.

The sentiment and tagging pipelines get their vectors the same way, trained here (pretrain_text →
embed) or the user's own (import_vectors), from the same config sections (``data``, ``tokenize``,
``embed``), so those steps are declared once, here; the embeddings and lm pipelines reuse the
pretrain_text and embed parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlp_pipeline.engine import DataRef, Step
from nlp_pipeline.pipelines.inputs import corpus_ref, dedup_corpora, text_sources
from nlp_pipeline.stages import embed, import_vectors, pretrain_text
from nlp_pipeline.stages.embed import EmbedParams
from nlp_pipeline.stages.import_vectors import ImportVectorsParams
from nlp_pipeline.stages.pretrain_text import PretrainTextParams


def uses_vectors(cfg: Any) -> bool:
    """Whether the model starts from word vectors (the config says how: its ``uses_vectors``)."""
    return cfg.uses_vectors()


def trains_vectors(cfg: Any) -> bool:
    return uses_vectors(cfg) and cfg.embed.vectors is None


def imports_vectors(cfg: Any) -> bool:
    return uses_vectors(cfg) and cfg.embed.vectors is not None


def vectors_ref(cfg: Any) -> DataRef:
    """``embed.vectors`` as a stage input: a vectors file, or the ``vectors.bin`` of an embed artifact folder.

    The runner first turns a key prefix or ``latest`` into the artifact's folder (it knows the cache:
    `runner.resolve_vector_reference`); here the setting is a path.
    """
    from nlp_pipeline.errors import DataError

    path = Path(cfg.embed.vectors).expanduser()
    if path.is_dir():
        from nlp_pipeline.text.phrases import PHRASES_FILE

        phrases = (path / PHRASES_FILE,) if (path / PHRASES_FILE).is_file() else ()
        return DataRef(f"embed:{path.name}", str(path), (path / "vectors.bin", *phrases))
    if not path.is_file():
        raise DataError("embed.vectors: file not found", path=path)
    return DataRef(f"vectors:{path.name}", str(path), (path,))


def pretrain_text_params(cfg: Any) -> PretrainTextParams:
    return PretrainTextParams.of(cfg.data, cfg.tokenize)


def embed_params(cfg: Any) -> EmbedParams:
    """The torch engine's per-architecture values resolved (a change of them gives a new key), and the
    kernel that will run on this run's device, found without compiling or loading anything."""
    e = cfg.embed
    if e.engine != "torch":
        return EmbedParams.of(e, batch_words=None, negatives_per_pair=False, lr_schedule="linear",
                             init_range="word2vec", streams=1)  # torch's
    from nlp_pipeline.embeddings.native import planned_kernel
    from nlp_pipeline.embeddings.torch_engine import DEFAULT_BATCH_WORDS, DEFAULT_MAX_ROW_UPDATES

    kernel = planned_kernel(e.kernel, cfg.runtime.device)
    rows = DEFAULT_MAX_ROW_UPDATES[e.sg] if e.max_row_updates is None else e.max_row_updates
    return EmbedParams.of(e, batch_words=e.batch_words or DEFAULT_BATCH_WORDS[e.sg], max_row_updates=rows,
                          skip_saturated=e.skip_saturated,
                          # only the C kernel's skip-gram draws per pair: elsewhere the setting changes nothing
                          negatives_per_pair=bool(e.negatives_per_pair and e.sg == 1 and kernel == "native"),
                          kernel="native" if kernel == "native" else None)


def random_embedding_dim(cfg: Any) -> int | None:
    """Without vectors, the embedding size is ``embed.vector_size``."""
    return None if uses_vectors(cfg) else cfg.embed.vector_size


# The models read their vectors from whichever of these ran.
VECTOR_STEPS = ("embed", "import_vectors")


def vector_steps() -> tuple[Step, Step, Step]:
    """pretrain_text → embed when the model uses vectors trained here; import_vectors when it uses yours."""
    return (
        Step(pretrain_text.STAGE, pretrain_text_params, when=trains_vectors, inputs={
            "sources": text_sources,
            "held_out": lambda c: tuple(corpus_ref(n, c.data.data_dir) for n in dedup_corpora(c)),
        }),
        Step(embed.STAGE, embed_params, when=trains_vectors, inputs={"text": "pretrain_text"}),
        Step(import_vectors.STAGE, lambda c: ImportVectorsParams.of(c.tokenize),
             when=imports_vectors, inputs={"file": vectors_ref}),
    )
