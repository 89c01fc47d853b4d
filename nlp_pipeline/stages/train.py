"""train: tokens (+ vectors) → a sequence classifier (``model.safetensors``, ``config.json``, ``vocab.json``,
``history.json``, and the vectors' ``phrases.json`` when they were trained on phrased text), with what training
recorded: ``trace.json`` (loss, learning rate, gradient norms every few steps), ``grad_norms.png`` and
``gradient_flow.png`` (its curve, and the share of clipped steps, also in the metadata).

The model is built after every generator is seeded from ``seed``, so the same params and inputs give
the same weights, byte for byte, on the CPU. Without vectors (``embedding_mode: random``) the
embedding size is ``random_embedding_dim``; with vectors it is theirs. A killed build resumes from its
last checkpoint (``ctx.partial``: `nlp_pipeline.training.checkpoint`) and ends with the same bytes. With
``report.tensorboard``, the trace and the gradient flow also go to the report's TensorBoard run as training
goes (`nlp_pipeline.stages.common.live_events`).
"""

from __future__ import annotations

from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.stages.artifact_files import label_list, read_tokenized_split
from nlp_pipeline.stages.common import (
    TRAINING_INPUTS,
    extend_vocabulary,
    language_models,
    live_events,
    phrased,
    seeded_model,
    started_from,
    token_coverage,
    train_config,
    training_nondeterminism,
    training_summary,
    word_table,
)
from nlp_pipeline.text.phrases import load_phrases

TrainParams = settings.stage_params("TrainParams", settings.Encoder, settings.Pooling, settings.ClassifierTraining,
                                    derived={"random_embedding_dim": (int | None, None)})  # without vectors


def build(params: TrainParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
    from nlp_pipeline.models.classifier_io import save_classifier
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.classifier import train_classifier

    p = params
    tokens: Artifact = inputs["tokens"]
    vectors: Artifact | None = inputs.get("vectors")
    labels = label_list(tokens)
    label_index = {lab: i for i, lab in enumerate(labels)}
    # Vectors trained on phrased text: the classifier sees the same phrases (and saves them for predict).
    phrases = load_phrases(vectors.path) if vectors is not None else None
    train_split = phrased(read_tokenized_split(tokens, "train"), phrases)
    dev_split = phrased(read_tokenized_split(tokens, "dev"), phrases)
    if phrases is not None:
        ctx.log(f"  applying the vectors' {sum(phrases.n_phrases):,} phrases to the text")
    vocab = Vocab.build(train_split[0], min_count=p.vocab_min_count)
    lms = language_models(p, inputs, ctx)
    kv, dim, matrix, coverage = word_table(p, vocab, vectors, lms)
    if kv is not None:
        source = "the language model's vocabulary" if lms is not None else "the vectors"
        ctx.log(f"  vocabulary {len(vocab):,} words, {coverage:.1%} found in {source}")
    tokens_covered = token_coverage(kv, {"train": train_split[0], "dev": dev_split[0]}, ctx)
    model_cfg = ClassifierConfig(
        vocab_size=len(vocab), num_classes=len(labels), embedding_dim=dim, encoder=p.encoder,
        hidden_size=lms.hidden_size if lms is not None else p.hidden_size, num_layers=p.num_layers, dropout=p.dropout,
        embedding_dropout=p.embedding_dropout, pooling=p.pooling, embedding_mode=p.embedding_mode,
        nonlinearity=p.nonlinearity,
    )
    model, lm_layers = seeded_model(SequenceClassifier, model_cfg, matrix, p, lms, ctx)
    train_cfg = train_config(p, ctx.runtime)
    with live_events(ctx, STAGE.name) as events:
        result = train_classifier(
            model,
            [vocab.encode(x) for x in train_split[0]], [label_index[y] for y in train_split[1]],
            [vocab.encode(x) for x in dev_split[0]], [label_index[y] for y in dev_split[1]],
            train_cfg, progress=ctx.progress, log=ctx.log, partial=ctx.partial, events=events,
        )
        if events is not None:
            events.finish(result.trace, result.gradient_flow)
    model, vocab, added = extend_vocabulary(p, model, vocab, kv, ctx)
    model_cfg = model.config
    meta = {
        "tokenizer": tokens.metadata["tokenizer"],
        "max_length": p.max_length,
        "corpus": tokens.metadata.get("corpus"),
        **started_from(vectors, lms),
    }
    save_classifier(ctx.out_dir, model.cpu(), model_cfg, vocab, labels, meta)
    if phrases is not None:
        phrases.save(ctx.out_dir)
    return training_summary(ctx, result, len(vocab), added, coverage if kv is not None else None, tokens_covered,
                            lm_layers, title=f"{p.encoder} classifier")


def summary(art: Artifact) -> str:
    p, m = art.manifest.get("params", {}), art.metadata
    return f"{p.get('encoder')} {p.get('embedding_mode')}, best dev acc {percent(m.get('best_dev_accuracy', 0))}%"


# 2: unpacked RecurrentEncoder; 3: typed params, model built after seeding; 4: the trace, gradient flow, nonlinearity
STAGE = Stage(name="train", version="4",
              params=TrainParams, build=build, inputs=("tokens",), optional_inputs=TRAINING_INPUTS,
              describe=lambda p: f"{p.encoder} classifier, {p.embedding_mode} embeddings", summary=summary,
              nondeterministic=training_nondeterminism)
