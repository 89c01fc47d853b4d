"""finetune_lm: language model(s) + the task's training text → the same models, fine-tuned on that text.

ULMFiT's second step: before a classifier or tagger starts from a language model trained on general
text, the language model reads ``tokens`` tokens of the task's own training documents (sentences,
for a tagger) with truncated BPTT, so its states fit the task's text. The forward model reads the
documents left to right and the backward one right to left, as they were pretrained; the weights
with the lowest perplexity on a held-out twentieth of those documents are kept. Labels are never
read. Writes ``forward/`` (and ``backward/``), each a language-model folder, and their histories and traces
(``trace.json``, ``grad_norms.png``). Each model keeps its own checkpoints (and, once trained, its end state)
until the build commits. With ``report.tensorboard``, each model's trace also goes to a TensorBoard run of
its own as it trains (``.../tensorboard/finetune_lm-<direction>/``: `nlp_pipeline.stages.common.live_events`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, DataRef, Stage
from nlp_pipeline.stages.artifact_files import read_tokenized_split, read_treebank_split
from nlp_pipeline.stages.common import live_events, training_diagnostics, training_nondeterminism

FinetuneLMParams = settings.stage_params("FinetuneLMParams", settings.LMStart, settings.Tokenize, settings.Training,
                                         only=(*settings.LMStart.model_fields, "lowercase", "seed"))


def task_documents(task: Artifact, lowercase: bool) -> list[list[str]]:
    """The training split's token lists of a tokenize artifact (documents) or a treebank one (sentences)."""
    if task.stage == "treebank":
        docs = read_treebank_split(task, "train", "upos")[0]
    else:
        docs = read_tokenized_split(task, "train")[0]
    return [[w.lower() for w in d] for d in docs] if lowercase else docs


def build(params: FinetuneLMParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.models.language_model_io import EOS, load_language_model, save_language_model
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.language_model import (
        LMTrainConfig,
        encode_documents,
        in_reading_order,
        train_language_model,
    )

    docs = task_documents(inputs["task"], params.lowercase)
    order = np.random.default_rng(params.seed).permutation(len(docs))
    n_heldout = max(1, len(docs) // 20)
    heldout_docs = [docs[i] for i in order[:n_heldout]]
    train_docs = [docs[i] for i in order[n_heldout:]]
    out: dict = {}
    for direction in ("forward", "backward"):
        ref: DataRef | None = inputs.get(f"lm_{direction}")
        if ref is None:
            continue
        model, payload, vocab = load_language_model(ref.name)
        eos, unk = vocab.stoi[EOS], Vocab.UNK_INDEX
        train_ids, train_offsets, _ = encode_documents((d for d in train_docs if d), vocab.stoi, eos, unk)
        heldout_ids, heldout_offsets, _ = encode_documents((d for d in heldout_docs if d), vocab.stoi, eos, unk)
        train_ids = in_reading_order(train_ids, train_offsets, direction)
        heldout_ids = in_reading_order(heldout_ids, heldout_offsets, direction)
        ctx.log(f"  fine-tuning the {direction} language model on {params.lm_finetune_tokens:,} tokens of the task's "
                f"{len(train_docs):,} training documents ({len(train_ids):,} tokens)")
        tokens = params.lm_finetune_tokens
        config = LMTrainConfig(epochs=max(1, -(-tokens // max(1, len(train_ids)))), max_tokens=tokens,
                               batch_size=params.lm_finetune_batch_size, bptt=params.lm_finetune_bptt,
                               lr=params.lm_finetune_lr, evaluations=params.lm_finetune_evaluations, seed=params.seed,
                               device=ctx.runtime.device, num_threads=ctx.runtime.num_threads)
        # One partial build per model: a kill while the backward one trains keeps the forward one's result.
        partial = ctx.partial.of_part(direction) if ctx.partial is not None else None
        with live_events(ctx, STAGE.name, direction) as events:
            result = train_language_model(model, train_ids, train_offsets, heldout_ids, config, progress=ctx.progress,
                                          log=ctx.log, budget_setting="model.lm_finetune_tokens", partial=partial,
                                          events=events)
            if events is not None:
                events.finish(result.trace)
        folder = Path(ctx.out_dir) / direction
        meta = {k: v for k, v in payload.items() if k not in ("format", "format_version", "model")}
        save_language_model(folder, model.cpu(), vocab, {**meta, "finetuned_from": ref.id})
        (folder / "history.json").write_text(json.dumps(result.history, indent=2))
        diagnostics = training_diagnostics(folder, result.trace, None, title=f"{direction} language model, fine-tuned")
        out[direction] = {"from": ref.id, "tokens_trained": result.tokens_trained,
                          "heldout_ppl": result.best.get("heldout_ppl"), "tokens_per_second": result.tokens_per_second,
                          "clipped_fraction": diagnostics["clipped_fraction"]}
    return out


STAGE = Stage(name="finetune_lm", version="2",  # 2: the trace
              params=FinetuneLMParams, build=build, inputs=("task", "lm_forward"),
              optional_inputs=("lm_backward",), nondeterministic=training_nondeterminism,
              describe=lambda p: f"fine-tune the language model(s) on {p.lm_finetune_tokens:,} tokens of the task's "
                                 "text",
              summary=lambda art: ", ".join(f"{d} ppl {m.get('heldout_ppl')}" for d, m in art.metadata.items()))
