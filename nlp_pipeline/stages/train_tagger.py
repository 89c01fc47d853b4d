"""train_tagger: a treebank (+ vectors) → a part-of-speech tagger (``model.safetensors``, ``config.json``,
``vocab.json``, ``chars.json``, ``history.json``; what training recorded as `train`'s: ``trace.json``,
``grad_norms.png``, ``gradient_flow.png``).

Like `train`, the model is built after seeding, so the CPU result is a function of the params and
inputs, a killed build resumes from its last checkpoint to the same bytes, and with ``report.tensorboard``
the trace goes to the report's TensorBoard run as training goes. Raw text given to
``nlp-pipeline tag`` is tokenized with the case kept (the character model reads it) and ``strip_html``
as the pipeline's tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.stages.artifact_files import read_treebank_split, tag_list
from nlp_pipeline.stages.common import (
    TRAINING_INPUTS,
    extend_vocabulary,
    language_models,
    live_events,
    seeded_model,
    started_from,
    token_coverage,
    train_config,
    training_nondeterminism,
    training_summary,
    word_table,
)
from nlp_pipeline.text.phrases import PHRASES_FILE
from nlp_pipeline.text.tokenize import TokenizerConfig

TrainTaggerParams = settings.stage_params(
    "TrainTaggerParams", settings.Encoder, settings.CharModel, settings.TaggerTraining, settings.Tagset,
    settings.Tokenize, derived={"random_embedding_dim": (int | None, None)})  # without vectors: embed.vector_size


def raw_text_tokenizer(params: TrainTaggerParams) -> TokenizerConfig:
    """How `tag` tokenizes raw text for this model: case kept (the character model reads it)."""
    return TokenizerConfig(lowercase=False, strip_html=params.strip_html)


def build(params: TrainTaggerParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
    from nlp_pipeline.models.tagger_encoding import TaggerEncoder
    from nlp_pipeline.models.tagger_io import save_tagger
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.tagger import train_tagger

    p = params
    treebank: Artifact = inputs["treebank"]
    vectors: Artifact | None = inputs.get("vectors")
    train_words, train_tags, train_where = read_treebank_split(treebank, "train", p.tagset)
    dev_words, dev_tags, dev_where = read_treebank_split(treebank, "dev", p.tagset)
    tags = tag_list(treebank, p.tagset)
    vocab = Vocab.build(([w.lower() if p.lowercase else w for w in s] for s in train_words),
                        min_count=p.vocab_min_count)
    char_vocab = Vocab.build(list(w) for s in train_words for w in s)
    lms = language_models(p, inputs, ctx)
    kv, dim, matrix, coverage = word_table(p, vocab, vectors, lms)
    if vectors is not None and (vectors.path / PHRASES_FILE).is_file():
        # One tag per word: joining 'new york' would leave a tag without its word. The phrase vectors go
        # unused; the words of a phrase keep their own vectors.
        ctx.log("  note: the vectors were trained on phrased text; a tagger tags single words, so their "
                "phrases are not applied")
    ctx.log(f"  {len(tags)} {p.tagset.upper()} tags, vocabulary {len(vocab):,} words"
            + (f" ({coverage:.1%} in the vectors)" if kv is not None else "") + f", {len(char_vocab)} chars")
    tokens_covered = token_coverage(kv, {"train": train_words, "dev": dev_words}, ctx, lowercase=p.lowercase)
    model_cfg = TaggerConfig(
        vocab_size=len(vocab), num_tags=len(tags), char_vocab_size=len(char_vocab), embedding_dim=dim,
        encoder=p.encoder, hidden_size=lms.hidden_size if lms is not None else p.hidden_size,
        num_layers=p.num_layers, dropout=p.dropout,
        embedding_dropout=p.embedding_dropout, embedding_mode=p.embedding_mode, char_encoder=p.char_encoder,
        char_dim=p.char_dim, char_hidden=p.char_hidden, crf=p.crf, nonlinearity=p.nonlinearity,
    )
    model, lm_layers = seeded_model(SequenceTagger, model_cfg, matrix, p, lms, ctx)
    encoder = TaggerEncoder(vocab, char_vocab, tags, p.lowercase)
    train_cfg = train_config(p, ctx.runtime)
    with live_events(ctx, STAGE.name) as events:
        result = train_tagger(model, encoder.encode(train_words, train_tags, train_where),
                              encoder.encode(dev_words, dev_tags, dev_where), train_cfg,
                              word_dropout=p.word_dropout, lr_decay=p.lr_decay, progress=ctx.progress, log=ctx.log,
                              partial=ctx.partial, events=events)
        if events is not None:
            events.finish(result.trace, result.gradient_flow)
    model, vocab, added = extend_vocabulary(p, model, vocab, kv, ctx)
    meta = {
        "tagset": p.tagset,
        "tokenizer": raw_text_tokenizer(p).to_dict(),
        "corpus": treebank.metadata.get("corpus"),
        **started_from(vectors, lms),
    }
    save_tagger(ctx.out_dir, model.cpu(), vocab, char_vocab, tags, p.lowercase, meta)
    return {**training_summary(ctx, result, len(vocab), added, coverage if kv is not None else None, tokens_covered,
                               lm_layers, title=f"{p.encoder} tagger"), "tagset": p.tagset}


def summary(art: Artifact) -> str:
    p, m = art.manifest.get("params", {}), art.metadata
    return (f"{p.get('encoder')} {p.get('embedding_mode')} char {p.get('char_encoder')} "
            f"{m.get('tagset', '').upper()}, best dev acc {percent(m.get('best_dev_accuracy', 0))}%")


STAGE = Stage(name="train_tagger", version="3",  # 2: typed params, model built after seeding; 3: the trace, flow
              params=TrainTaggerParams, build=build, inputs=("treebank",), optional_inputs=TRAINING_INPUTS,
              describe=lambda p: f"{p.encoder} tagger, {p.embedding_mode} embeddings, char {p.char_encoder}",
              summary=summary, nondeterministic=training_nondeterminism)
