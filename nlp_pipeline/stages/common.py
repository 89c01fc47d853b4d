"""Helpers stages share: progress bars that honour ``--quiet``, and what the training stages do alike
(seeded configs, starting from language models, the word table, why CUDA training is not reproducible).

Stage modules never import each other: what two of them need lives here (or, for reading an upstream
artifact's files, in `nlp_pipeline.stages.artifact_files`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nlp_pipeline.engine import Artifact, BuildContext, Runtime
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.text.phrases import PhraseModel, apply_phrases

if TYPE_CHECKING:
    from nlp_pipeline.reports.tensorboard import LiveEvents

T = TypeVar("T")


def progress_bar(iterable: Iterable[T], ctx: BuildContext, desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm bar over documents: on a terminal only (``disable=None``), never with --quiet.

    On a file or a pipe (CI, ``2> log``) every redraw would be written; the stage's log lines say enough there.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="doc", disable=None if ctx.progress else True, leave=False,
                mininterval=0.5)


class _Fields(dict):
    def __missing__(self, key: str) -> None:
        return None


def metadata_summary(template: str, **defaults: Any) -> Callable[[Artifact], str]:
    """A `Stage.summary` (what `cache ls` says) filling ``template`` with the artifact's metadata fields;
    a missing field is its default here, else None."""
    return lambda art: template.format_map(_Fields({**defaults, **art.metadata}))


def split_sizes(unit: str) -> Callable[[Artifact], str]:
    """The reading stages' `Stage.summary`: the corpus and each split's size in ``unit`` (documents, sentences)."""
    def summary(art: Artifact) -> str:
        splits = art.metadata.get("splits", {})
        return f"{art.metadata.get('corpus')}: " + ", ".join(f"{k} {v[unit]:,}" for k, v in splits.items())
    return summary


def split_accuracies(art: Artifact) -> str:
    """The evaluate stages' `Stage.summary`: each split's accuracy."""
    return ", ".join(f"{k} acc {percent(v['accuracy'])}%" for k, v in art.metadata.items() if isinstance(v, dict))


def training_diagnostics(out_dir: Path, trace: dict, flow: dict | None, title: str) -> dict:
    """Write what a training loop recorded besides its history: ``trace.json`` (`nlp_pipeline.training.monitor`)
    and ``grad_norms.png`` from it, and ``gradient_flow.png`` of ``flow`` (one curve; the report draws a grid's
    together); return the metadata every training stage records of them: the share of steps clipped and the
    gradient-flow curve."""
    from nlp_pipeline.reports.plots import GRAD_NORMS_FILE, GRADIENT_FLOW_FILE, plot_grad_norms, plot_gradient_flow
    from nlp_pipeline.reports.tensorboard import TRACE_FILE

    (out_dir / TRACE_FILE).write_text(json.dumps(trace))
    if trace.get("rows"):
        plot_grad_norms(trace, out_dir / GRAD_NORMS_FILE, title=title)
    if flow is not None:
        plot_gradient_flow({title: flow}, out_dir / GRADIENT_FLOW_FILE)
    return {"clipped_fraction": trace.get("clipped_fraction"), "gradient_flow": flow}


@contextlib.contextmanager
def live_events(ctx: BuildContext, stage: str, part: str | None = None) -> Iterator[LiveEvents | None]:
    """The TensorBoard run the training stage ``stage`` writes as it trains, or None without
    ``report.tensorboard`` (``ctx.runtime.events``, set by the runner: in no key, and read by nothing that
    trains). ``part`` names the model of a build that trains several (finetune_lm's ``forward``), whose run
    goes below the variant's. The build's key names the run, so the report knows it is this artifact's.
    Closed on the way out, failure or not; the stage calls `LiveEvents.finish` once the trained model's
    gradient flow is known."""
    if ctx.runtime.events is None:
        yield None
        return
    from nlp_pipeline.reports.tensorboard import LiveEvents, stage_folder

    key = ctx.partial.key if ctx.partial is not None else None
    events = LiveEvents(stage_folder(ctx.runtime.events, stage, part), stage, key, log=ctx.log)
    try:
        yield events
    finally:
        events.close()


def training_summary(ctx: BuildContext, result: Any, vocab_size: int, added: int, coverage: float | None,
                     tokens_covered: dict | None, lm_layers: int | None, title: str = "") -> dict:
    """Write ``history.json`` and `training_diagnostics` and return the metadata both training stages record:
    a `TrainResult`'s summary, the vocabulary, how much of it and of the text has a vector, the layers from
    language models, the clipped share and the gradient flow (``title`` names the model in the plots)."""
    (ctx.out_dir / "history.json").write_text(json.dumps(result.history, indent=2))
    diagnostics = training_diagnostics(ctx.out_dir, result.trace, result.gradient_flow, title)
    return {"best_epoch": result.best_epoch, "best_dev_accuracy": result.best_dev_accuracy,
            "train_seconds": round(result.train_seconds, 2), "tokens_per_second": round(result.tokens_per_second),
            "vocab_size": vocab_size, "vocab_added_from_vectors": added,
            "vector_coverage": None if coverage is None else round(coverage, 4), "epochs_run": len(result.history),
            "token_coverage": tokens_covered,
            **({"layers_from_language_models": lm_layers} if lm_layers is not None else {}), **diagnostics}


def token_coverage(kv: Any, splits: dict[str, list[list[str]]], ctx: BuildContext, top: int = 10,
                   lowercase: bool = False) -> dict | None:
    """Share of each split's tokens that have a vector, and the most frequent training words without one
    (words lower-cased first with ``lowercase``); None without vectors.

    Logged and returned for the metadata: a vectors file that misses a corpus's frequent words (other
    tokenization, other casing) shows here before it shows as a lower accuracy.
    """
    if kv is None:
        return None
    from collections import Counter

    out: dict = {}
    missing: Counter = Counter()
    for split, sentences in splits.items():
        total = known = 0
        for sentence in sentences:
            for word in sentence:
                word = word.lower() if lowercase else word
                total += 1
                if word in kv.key_to_index:
                    known += 1
                elif split == "train":
                    missing[word] += 1
        out[f"{split}_tokens"] = round(known / total, 4) if total else None
    out["most_frequent_without_vector"] = [w for w, _ in missing.most_common(top)]
    shares = ", ".join(f"{split} {100 * out[f'{split}_tokens']:.1f}%" for split in splits
                       if out[f"{split}_tokens"] is not None)
    without = ", ".join(out["most_frequent_without_vector"]) or "none"
    ctx.log(f"  tokens with a vector: {shares}; most frequent training words without one: {without}")
    return out


# What the training stages share (train and train_tagger; train_lm and finetune_lm use
# `training_nondeterminism`). Their params are plain data (`nlp_pipeline.settings.stage_params`: the
# Encoder and Training settings groups, and more); what is done with them is here.

# The classifier's and the tagger's optional inputs: word vectors, language models, fine-tuned language models.
TRAINING_INPUTS = ("vectors", "lm_forward", "lm_backward", "finetuned_lm")


def training_nondeterminism(params: object, runtime: Runtime) -> str | None:
    """Every training stage's `Stage.nondeterministic`: CPU training in one process is a function of the seed;
    CUDA kernels are not, nor are the sums over several processes (the same optimisation, other roundings)."""
    reasons = []
    if runtime.device.startswith("cuda"):
        reasons.append("trained on CUDA (cuDNN's recurrent kernels and scatter-adds are not bit-reproducible)")
    if runtime.processes > 1:
        reasons.append(f"trained by {runtime.processes} processes (each batch's gradient is summed across them: "
                       "equal to one process's to about 1e-6, not bit for bit)")
    return "; ".join(reasons) or None


def train_config(params: Any, runtime: Runtime, **extra: Any):
    """The training loop's `TrainConfig`: the params' Training settings and this run's device and threads."""
    from nlp_pipeline.training.loop import TrainConfig

    return TrainConfig(**{n: getattr(params, n) for n in TrainConfig.model_fields if hasattr(params, n)},
                       device=runtime.device, num_threads=runtime.num_threads, **extra)


def language_models(params: Any, inputs: Mapping, ctx: BuildContext) -> Any:
    """With ``init: lm``, the `EncoderLMs` to start from: the ``finetuned_lm`` artifact's models when
    the language models were fine-tuned on the task's text first, else those the ``lm_forward``
    (and ``lm_backward``) inputs name; None otherwise."""
    if params.init != "lm":
        return None
    from nlp_pipeline.models.lm_transfer import encoder_settings, load_encoder_lms

    finetuned: Artifact | None = inputs.get("finetuned_lm")
    if finetuned is not None:
        folders = [finetuned.path / d for d in ("forward", "backward") if (finetuned.path / d).is_dir()]
        ids = [f"{finetuned.stage}:{finetuned.key}/{f.name}" for f in folders]
    else:
        refs = [r for r in (inputs["lm_forward"], inputs.get("lm_backward")) if r is not None]
        folders, ids = [Path(r.name) for r in refs], [r.id for r in refs]
    lms = load_encoder_lms(folders[0], folders[1] if len(folders) > 1 else None)
    lms.sources = tuple(ids)
    settings = encoder_settings(lms, params.encoder, params.nonlinearity)
    ctx.log(f"  starting from the language model(s) {', '.join(ids)}: {lms.cell} {lms.num_layers} x "
            f"{settings['hidden_size']}, embedding {settings['embedding_dim']}")
    if params.hidden_size != settings["hidden_size"]:
        ctx.log(f"  model.hidden_size {params.hidden_size} follows the language model: {settings['hidden_size']}")
    return lms


def seeded_model(model_class: type, config: Any, matrix: Any, params: Any, lms: Any,
                 ctx: BuildContext) -> tuple[Any, int | None]:
    """``model_class(config)``, built after every generator is seeded (the initial weights are drawn here), its
    gates' forget bias set (``forget_bias``), with the language models' recurrent layers copied into its encoder;
    and how many were (None without them)."""
    from nlp_pipeline.training.loop import seed_everything

    seed_everything(params.seed)
    model = model_class(config, embedding_matrix=matrix)
    if params.forget_bias is not None:  # before the language models' layers, which bring their own
        from nlp_pipeline.models.encoder import set_forget_bias

        set_forget_bias(model.encoder.modules(), params.forget_bias)
    if lms is None:
        return model, None
    from nlp_pipeline.models.lm_transfer import copy_recurrent_layers

    copied = copy_recurrent_layers(model.encoder, lms)
    num_layers = params.num_layers
    extra = f"; {num_layers - copied} more at random" if num_layers > copied else ""
    dropped = f"; the language model's top {lms.num_layers - copied} left out" if lms.num_layers > copied else ""
    ctx.log(f"  encoder layers from the language model(s): {copied}{extra}{dropped}")
    return model, copied


def started_from(vectors: Artifact | None, lms: Any) -> dict:
    """What a trained model's saved metadata says it started from: the vectors' artifact, the language models."""
    return {"vectors": f"{vectors.stage}:{vectors.key}" if vectors is not None else None,
            **({"language_models": list(lms.sources)} if lms is not None else {})}


def word_table(params: Any, vocab: Any, vectors: Artifact | None, lms: Any = None) -> tuple[Any, int, Any, float]:
    """``(vectors or None, embedding size, initial matrix, share of the vocabulary with a vector)``.

    With language models (``lms``), their embedding plays the vectors' part."""
    from nlp_pipeline.embeddings import load_vectors
    from nlp_pipeline.models.embedding import build_embedding_matrix

    if lms is not None:
        from nlp_pipeline.models.lm_transfer import embedding_vectors

        kv = embedding_vectors(lms)
    else:
        kv = load_vectors(vectors.path) if vectors is not None else None
    if kv is None and params.random_embedding_dim is None:
        raise TypeError("random_embedding_dim is required without vectors")
    dim = kv.vector_size if kv is not None else params.random_embedding_dim
    matrix, coverage = build_embedding_matrix(vocab, kv, dim, seed=params.seed)
    return kv, dim, matrix, coverage


def extend_vocabulary(params: Any, model: Any, vocab: Any, kv: Any, ctx: BuildContext) -> tuple[Any, Any, int]:
    """After training: add the vectors' ``vocab_from_vectors`` most frequent words the training set lacks."""
    from nlp_pipeline.models.embedding import extend_vocabulary

    if kv is None or params.vocab_from_vectors <= 0:
        return model, vocab, 0
    model, vocab, added = extend_vocabulary(model, vocab, kv, params.vocab_from_vectors)
    ctx.log(f"  added {added:,} words known only to the vectors (vocabulary now {len(vocab):,})")
    return model, vocab, added


def phrased(split: tuple | None, phrases: PhraseModel | None) -> tuple | None:
    """A ``(token lists, labels)`` split with the vectors' phrases applied (unchanged without them)."""
    if split is None or phrases is None:
        return split
    return (list(apply_phrases(phrases, split[0])), *split[1:])
