"""train_lm: the lm_data stream (+ word vectors) → a language model (``model.safetensors``, ``config.json``,
``vocab.json``, ``history.json``; what training recorded: ``trace.json``, ``grad_norms.png``,
``gradient_flow.png`` over the held-out text, the clipped share and the curve also in the metadata).

Forward or backward (``direction``): the backward model reads every document right to left. The
embedding starts from word2vec vectors when they are given (``embedding_init: word2vec``), else
at random. Trained with truncated BPTT (`nlp_pipeline.training.language_model`); on the CPU the
weights are a function of the seed alone, whether or not the build was killed and resumed from a checkpoint.
With ``report.tensorboard``, the trace and the gradient flow also go to the report's TensorBoard run as
training goes (`nlp_pipeline.stages.common.live_events`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.stages.common import live_events, training_diagnostics, training_nondeterminism

# embedding_init reaches the key as the vectors input (or its absence) and embedding_dim, which is the
# vectors' size with them (None here) and the setting without.
TrainLMParams = settings.stage_params("TrainLMParams", settings.LMArchitecture, settings.LMTraining,
                                      exclude=("embedding_init",), derived={"embedding_dim": (int | None, None)})


def build(params: TrainLMParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.models.embedding import build_embedding_matrix
    from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel, fit_cutoffs
    from nlp_pipeline.models.language_model_io import save_language_model
    from nlp_pipeline.reports.plots import plot_lm_curve
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.gradient_flow import language_model_flow
    from nlp_pipeline.training.language_model import LMTrainConfig, in_reading_order, train_language_model
    from nlp_pipeline.training.loop import seed_everything

    p = params
    data: Artifact = inputs["data"]
    vectors: Artifact | None = inputs.get("vectors")
    vocab = Vocab.load(data.file("vocab.json"))
    train_ids, train_offsets = np.load(data.file("train.npy")), np.load(data.file("train_offsets.npy"))
    heldout_ids, heldout_offsets = np.load(data.file("heldout.npy")), np.load(data.file("heldout_offsets.npy"))
    train_ids = in_reading_order(train_ids, train_offsets, p.direction)
    heldout_ids = in_reading_order(heldout_ids, heldout_offsets, p.direction)
    kv = None
    if vectors is not None:
        from nlp_pipeline.embeddings import load_vectors

        kv = load_vectors(vectors.path)
    dim = kv.vector_size if kv is not None else p.embedding_dim
    cutoffs = fit_cutoffs(p.cutoffs, len(vocab)) if p.output == "adaptive" else p.cutoffs
    if p.output == "adaptive" and cutoffs != p.cutoffs:
        ctx.log(f"  adaptive softmax clusters at {list(cutoffs)} (lm.cutoffs {list(p.cutoffs)} reach past the "
                f"{len(vocab):,}-word vocabulary)")
    config = LanguageModelConfig(
        vocab_size=len(vocab), embedding_dim=dim, cell=p.cell, hidden_size=p.hidden_size, num_layers=p.num_layers,
        dropout=p.dropout, embedding_dropout=p.embedding_dropout, output=p.output, cutoffs=cutoffs,
        tie_weights=p.tie_weights, direction=p.direction, nonlinearity=p.nonlinearity,
    )
    seed_everything(p.seed)  # the initial weights are drawn here: seed first
    model = RNNLanguageModel(config)
    coverage = None
    if kv is not None:
        import torch

        matrix, coverage = build_embedding_matrix(vocab, kv, dim, seed=p.seed)
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(matrix))
        ctx.log(f"  embedding from the word vectors: {coverage:.1%} of the vocabulary found")
    n_params = sum(t.numel() for t in model.parameters())
    ctx.log(f"  {p.direction} {p.cell} language model: {p.num_layers} x {p.hidden_size}, embedding {dim}, "
            f"{p.output} softmax over {len(vocab):,} words, {n_params / 1e6:.1f}M parameters")
    train_cfg = LMTrainConfig(**{n: getattr(p, n) for n in settings.LMTraining.model_fields}, device=ctx.runtime.device,
                              num_threads=ctx.runtime.num_threads)
    with live_events(ctx, STAGE.name) as events:
        result = train_language_model(model, train_ids, train_offsets, heldout_ids, train_cfg, progress=ctx.progress,
                                      log=ctx.log, partial=ctx.partial, events=events)
        flow = language_model_flow(model, heldout_ids, next(model.parameters()).device)
        if events is not None:
            events.finish(result.trace, flow)
    diagnostics = training_diagnostics(ctx.out_dir, result.trace, flow, title=f"{p.direction} {p.cell} language model")
    meta = {"tokenizer": data.metadata.get("tokenizer"), "data": f"{data.stage}:{data.key}",
            "vectors": f"{vectors.stage}:{vectors.key}" if vectors is not None else None}
    save_language_model(ctx.out_dir, model.cpu(), vocab, meta)
    (ctx.out_dir / "history.json").write_text(json.dumps(result.history, indent=2))
    plot_lm_curve(result.history, ctx.out_dir / "learning_curve.png", unigram=data.metadata.get("unigram_heldout_ppl"),
                  title=f"{p.direction} {p.cell} {p.num_layers}x{p.hidden_size}")
    return {"direction": p.direction, "parameters": n_params, "vocab_size": len(vocab),
            "embedding_coverage": round(coverage, 4) if coverage is not None else None,
            "tokens_trained": result.tokens_trained,
            "epochs_trained": result.history[-1]["epoch"] if result.history else 0,
            "train_seconds": result.seconds, "tokens_per_second": result.tokens_per_second, "best": result.best,
            "heldout_ppl": result.best.get("heldout_ppl"),
            "unigram_heldout_ppl": data.metadata.get("unigram_heldout_ppl"), "history": result.history,
            **diagnostics}


def summary(art: Artifact) -> str:
    p, m = art.manifest.get("params", {}), art.metadata
    return (f"{p.get('direction')} {p.get('cell')} {p.get('num_layers')}x{p.get('hidden_size')}, "
            f"held-out ppl {m.get('heldout_ppl')}")


STAGE = Stage(name="train_lm", version="2",  # 2: the trace, gradient flow, nonlinearity
              params=TrainLMParams, build=build, inputs=("data",),
              optional_inputs=("vectors",), summary=summary, nondeterministic=training_nondeterminism,
              describe=lambda p: f"{p.direction} {p.cell} language model ({p.num_layers}x{p.hidden_size}, "
                                 f"bptt {p.bptt})")
