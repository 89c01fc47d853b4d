"""What the pipeline declarations share: corpus inputs, the word-vector steps, execution settings.

Both pipelines get their vectors the same way, trained (pretrain_text → embed) or the user's own
(import_vectors), from the same config sections (``data``, ``tokenize``, ``embed``), so those steps
are declared once, here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp_pipeline.engine import DataRef, Runtime, Step
from nlp_pipeline.stages import embed, import_vectors, pretrain_text
from nlp_pipeline.stages.embed import EmbedParams
from nlp_pipeline.stages.import_vectors import ImportVectorsParams
from nlp_pipeline.stages.pretrain_text import PretrainTextParams


def _spec_path(name: str) -> Path | None:
    from nlp_pipeline.data import list_corpora, load_spec

    corpus = name.partition(":")[0]
    return load_spec(corpus).path if corpus in list_corpora() else None


def _data_id(name: str, spec: Path | None) -> str:
    # A user path is identified by its content (the files' hashes), not by where it lives.
    return name if spec is not None else "user:" + Path(name).name


def corpus_ref(name: str, data_dir: str | None) -> DataRef:
    """A labelled or tagged corpus as a stage input: its resolved files, identified by content."""
    from nlp_pipeline.data import corpus_files

    spec = _spec_path(name)
    return DataRef(_data_id(name, spec), name, tuple(corpus_files(name, data_dir=data_dir)), data_dir, spec)


def source_ref(source: str, data_dir: str | None, text_field: str = "text", text_column: str | None = None) -> DataRef:
    """A pretraining text source (``imdb_unsup``, ``imdb:train``, a path or glob) as a stage input.

    A user's JSON-lines or CSV files are read with ``text_field`` / ``text_column``; those settings
    are part of the input (its key) only where such a file is among the source's files.
    """
    from nlp_pipeline.data import source_files
    from nlp_pipeline.data.datasets import text_options

    spec = _spec_path(source)
    files = tuple(source_files(source, data_dir=data_dir))
    options = text_options(list(files), text_field, text_column) if spec is None else ()
    return DataRef(_data_id(source, spec), source, files, data_dir, spec, options)


def corpus_of(source: str) -> str | None:
    """The labelled (or tagged) corpus whose evaluation splits a pretraining source could leak into.

    A user's labelled or CoNLL-U file given as a source is such a corpus itself: its dev and test
    examples (carved as this run carves) are held out of the pretraining text.
    """
    from nlp_pipeline.data import is_labelled_file, is_tagged_corpus, list_corpora

    if source == "imdb_unsup":
        return "imdb"
    if source.partition(":")[0] in list_corpora():
        return source.partition(":")[0] if ":" in source else None
    if is_labelled_file(source) or is_tagged_corpus(source):
        return source
    return None


def dedup_corpora(cfg: Any) -> list[str]:
    """``data.dedup_against``, or by default the run's corpus plus every corpus the text comes from."""
    if cfg.data.dedup_against is not None:
        return sorted(set(cfg.data.dedup_against))
    names = {c for s in cfg.data.text if (c := corpus_of(s))}
    names.add(cfg.data.corpus)
    return sorted(names)


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
        return EmbedParams.of(e, batch_words=None)
    from nlp_pipeline.embeddings.native import planned_kernel
    from nlp_pipeline.embeddings.torch_engine import DEFAULT_BATCH_WORDS, DEFAULT_MAX_ROW_UPDATES

    kernel = planned_kernel(e.kernel, cfg.runtime.device)
    rows = DEFAULT_MAX_ROW_UPDATES[e.sg] if e.max_row_updates is None else e.max_row_updates
    return EmbedParams.of(e, batch_words=e.batch_words or DEFAULT_BATCH_WORDS[e.sg], max_row_updates=rows,
                          skip_saturated=e.skip_saturated,
                          kernel="native" if kernel == "native" else None)


def random_embedding_dim(cfg: Any) -> int | None:
    """Without vectors, the embedding size is ``embed.vector_size``."""
    return None if uses_vectors(cfg) else cfg.embed.vector_size


# The models read their vectors from whichever of these ran.
VECTOR_STEPS = ("embed", "import_vectors")


def text_sources(cfg: Any) -> tuple[DataRef, ...]:
    """``data.text`` as stage inputs (a user's JSON-lines or CSV files read with ``data.text_field`` /
    ``data.text_column``)."""
    d = cfg.data
    return tuple(source_ref(s, d.data_dir, d.text_field, d.text_column) for s in d.text)


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


def uses_language_models(cfg: Any) -> bool:
    """Whether the encoder starts from language models (``model.init: lm``)."""
    model = getattr(cfg, "model", None)
    return model is not None and model.init == "lm"


def lm_ref(index: int) -> Callable[[Any], DataRef | None]:
    """The ``index``-th folder of ``model.lm`` (resolved by the runner: forward, then backward) as an
    input identified by its files' content; None when the config has no such model."""

    def ref(cfg: Any) -> DataRef | None:
        if not uses_language_models(cfg) or index >= len(cfg.model.lm):
            return None
        from nlp_pipeline.models.language_model_io import FILES

        folder = Path(cfg.model.lm[index]).expanduser()
        return DataRef(f"train_lm:{folder.name}", str(folder), tuple(folder / f for f in FILES))

    return ref


def finetune_step(task_step: str) -> Step:
    """ULMFiT's second step, when ``model.lm_finetune_tokens`` > 0: the language models read the
    task's own training text (``task_step``'s artifact) before the encoder starts from them."""
    from nlp_pipeline.stages import finetune_lm
    from nlp_pipeline.stages.finetune_lm import FinetuneLMParams

    return Step(
        finetune_lm.STAGE,
        lambda c: FinetuneLMParams.of(c.model, c.tokenize, c.train),
        when=lambda c: uses_language_models(c) and c.model.lm_finetune_tokens > 0,
        inputs={"task": task_step, "lm_forward": lm_ref(0), "lm_backward": lm_ref(1)},
    )


def lm_inputs() -> dict:
    """The training stages' language-model inputs (each absent unless ``model.init: lm``)."""
    return {"lm_forward": lm_ref(0), "lm_backward": lm_ref(1), "finetuned_lm": "finetune_lm"}


def runtime(cfg: Any) -> Runtime:
    """The ``runtime`` section every pipeline has, resolved once per command: ``auto`` becomes
    ``cuda:0`` or ``cpu`` (a device that is not there is an error before any stage runs), 0 threads
    all cores, for torch, the word2vec workers and the tokenizer's processes alike."""
    from nlp_pipeline.device import resolve_device, resolve_threads

    resolved = resolve_device(cfg.runtime.device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = type(resolved)("cuda", 0)
    threads = cfg.runtime.threads if cfg.runtime.threads > 0 else (os.cpu_count() or 1)
    return Runtime(device=str(resolved), workers=threads, num_threads=resolve_threads(cfg.runtime.threads),
                   n_process=threads)
