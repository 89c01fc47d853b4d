"""The stages of the tagging pipeline: treebank → (pretrain_text → embed, shared with sentiment) →
train_tagger → evaluate_tagger.

As in `stages`, only parameters that change a stage's output are in its key: the tag set is read by
the tagger stages, not by the treebank stage, so switching UPOS ↔ XPOS re-reads nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from nlp_pipeline.config import TaggingConfig
from nlp_pipeline.engine import Artifact, Stage, StageContext
from nlp_pipeline.text.tokenize import TokenizerConfig

SPLIT_FILE = "{}.jsonl"


def _corpus_id(corpus: str) -> str:
    # A user path is identified by its content fingerprint (an input), not by where it lives.
    return corpus if not Path(corpus).exists() else "user:" + Path(corpus).name


# --------------------------------------------------------------------------------------------
# treebank: CoNLL-U → <split>.jsonl ({"words", "upos", "xpos", "source", "line"} per sentence)


def treebank_stage(cfg: TaggingConfig) -> Stage:
    from nlp_pipeline.data import corpus_files

    d = cfg.data

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.data import load_tagged

        splits = load_tagged(d.corpus, d.data_dir, d.dev_fraction, d.test_fraction, d.seed)
        info = {}
        for split, sentences in splits.items():
            with open(ctx.out_dir / SPLIT_FILE.format(split), "w", encoding="utf-8") as fh:
                for s in sentences:
                    record = {"words": s.words, "upos": s.upos, "xpos": s.xpos, "source": s.source, "line": s.line}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            info[split] = {"sentences": len(sentences), "tokens": sum(len(s.words) for s in sentences)}
            ctx.log(f"  {split}: {len(sentences):,} sentences, {info[split]['tokens']:,} tokens")
        if "dev" not in splits:
            from nlp_pipeline.errors import ConfigError

            raise ConfigError(f"corpus {d.corpus!r} has no dev split: set data.dev_fraction > 0 to carve one")
        return {"corpus": d.corpus, "splits": info}

    return Stage(
        name="treebank",
        version="1",
        params={"corpus": _corpus_id(d.corpus), "dev_fraction": d.dev_fraction, "test_fraction": d.test_fraction,
                "seed": d.seed},
        inputs={"corpus": corpus_files(d.corpus, data_dir=d.data_dir)},
        build=build,
        description="read the CoNLL-U treebank (integer-ID words), carve missing splits",
    )


def read_treebank_split(art: Artifact, split: str, tagset: str) -> tuple[list[list[str]], list[list[str]],
                                                                          list[str]] | None:
    """``(words, tags, where)`` per sentence of one split (``None`` when the split is absent)."""
    path = art.file(SPLIT_FILE.format(split))
    if not path.is_file():
        return None
    words, tags, where = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            words.append(record["words"])
            tags.append(record[tagset])
            where.append(f"{record['source']}:{record['line']}")
    return words, tags, where


def tag_list(art: Artifact, tagset: str) -> list[str]:
    """Every tag of the tag set seen in any split, sorted: the model's output order."""
    found: set[str] = set()
    for split in ("train", "dev", "test"):
        data = read_treebank_split(art, split, tagset)
        if data is not None:
            found.update(t for sent in data[1] for t in sent)
    return sorted(found)


def raw_text_tokenizer(cfg: TaggingConfig) -> TokenizerConfig:
    """How `tag` tokenizes raw text for this model: case kept (the character model reads it)."""
    return TokenizerConfig(lowercase=False, strip_html=cfg.tokenize.strip_html)


# --------------------------------------------------------------------------------------------
# train_tagger: treebank + vectors → tagger (model.safetensors, config.json, vocab.json, chars.json)


def train_tagger_stage(cfg: TaggingConfig, treebank: Artifact, vectors: Artifact | None) -> Stage:
    m, t = cfg.model, cfg.train
    tagset = cfg.data.tagset
    lowercase = cfg.tokenize.lowercase

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.embeddings import load_vectors
        from nlp_pipeline.models.classifier import build_embedding_matrix, extend_vocabulary
        from nlp_pipeline.models.tagger import SequenceTagger, TaggerConfig
        from nlp_pipeline.models.tagger_io import save_tagger
        from nlp_pipeline.text.vocab import Vocab
        from nlp_pipeline.training.tagging import TaggerEncoder, train_tagger
        from nlp_pipeline.training.trainer import TrainConfig

        train_words, train_tags, train_where = read_treebank_split(treebank, "train", tagset)
        dev_words, dev_tags, dev_where = read_treebank_split(treebank, "dev", tagset)
        tags = tag_list(treebank, tagset)
        vocab = Vocab.build(([w.lower() if lowercase else w for w in s] for s in train_words),
                            min_count=t.vocab_min_count)
        char_vocab = Vocab.build(list(w) for s in train_words for w in s)
        kv = load_vectors(vectors.path) if vectors is not None else None
        dim = kv.vector_size if kv is not None else cfg.embed.vector_size
        matrix, coverage = build_embedding_matrix(vocab, kv, dim, seed=t.seed)
        ctx.log(f"  {len(tags)} {tagset.upper()} tags, vocabulary {len(vocab):,} words"
                + (f" ({coverage:.1%} in the vectors)" if kv is not None else "") + f", {len(char_vocab)} chars")
        model_cfg = TaggerConfig(
            vocab_size=len(vocab), num_tags=len(tags), char_vocab_size=len(char_vocab), embedding_dim=dim,
            encoder=m.encoder, hidden_size=m.hidden_size, num_layers=m.num_layers, dropout=m.dropout,
            embedding_dropout=m.embedding_dropout, embedding_mode=m.embedding_mode, char_encoder=m.char_encoder,
            char_dim=m.char_dim, char_hidden=m.char_hidden, crf=m.crf,
        )
        model = SequenceTagger(model_cfg, embedding_matrix=matrix)
        encoder = TaggerEncoder(vocab, char_vocab, tags, lowercase)
        train_cfg = TrainConfig(
            epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, embedding_lr_scale=t.embedding_lr_scale,
            weight_decay=t.weight_decay, clip_norm=t.clip_norm, patience=t.patience, seed=t.seed,
            device=t.device, num_threads=t.num_threads,
        )
        result = train_tagger(model, encoder.encode(train_words, train_tags, train_where),
                              encoder.encode(dev_words, dev_tags, dev_where), train_cfg,
                              word_dropout=t.word_dropout, lr_decay=t.lr_decay, progress=ctx.progress,
                              log=ctx.log)
        added = 0
        if kv is not None and t.vocab_from_vectors > 0:
            model, vocab, added = extend_vocabulary(model, vocab, kv, t.vocab_from_vectors)
            ctx.log(f"  added {added:,} words known only to the vectors (vocabulary now {len(vocab):,})")
        meta = {
            "tagset": tagset,
            "tokenizer": raw_text_tokenizer(cfg).to_dict(),
            "corpus": cfg.data.corpus,
            "vectors": f"embed:{vectors.key}" if vectors is not None else None,
        }
        save_tagger(ctx.out_dir, model.cpu(), vocab, char_vocab, tags, lowercase, meta)
        (ctx.out_dir / "history.json").write_text(json.dumps(result.history, indent=2))
        return {
            "best_epoch": result.best_epoch,
            "best_dev_accuracy": result.best_dev_accuracy,
            "train_seconds": round(result.train_seconds, 2),
            "tokens_per_second": round(result.tokens_per_second),
            "vocab_size": len(vocab),
            "vocab_added_from_vectors": added,
            "vector_coverage": round(coverage, 4) if kv is not None else None,
            "epochs_run": len(result.history),
            "tagset": tagset,
        }

    inputs: dict = {"treebank": treebank}
    if vectors is not None:
        inputs["vectors"] = vectors
    train_params = {k: v for k, v in asdict(t).items() if k not in ("device", "num_threads")}
    return Stage(
        name="train_tagger",
        version="1",
        params={"tagset": tagset, "lowercase_words": lowercase, "model": asdict(m), "train": train_params},
        inputs=inputs,
        build=build,
        description=f"{m.encoder} tagger, {m.embedding_mode} embeddings, char {m.char_encoder}",
    )


# --------------------------------------------------------------------------------------------
# evaluate_tagger: model + treebank → metrics.json, per-tag tables, confusion matrix, learning curve


def evaluate_tagger_stage(cfg: TaggingConfig, treebank: Artifact, model_art: Artifact) -> Stage:
    tagset = cfg.data.tagset

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.models.tagger_io import load_tagger
        from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve
        from nlp_pipeline.reports.tables import per_class_table
        from nlp_pipeline.training.device import resolve_device
        from nlp_pipeline.training.tagging import TaggerEncoder, predict_tags, tagging_metrics

        device = resolve_device(cfg.train.device)
        model, meta, vocab, char_vocab = load_tagger(model_art.path, device=device)
        tags = meta["tags"]
        encoder = TaggerEncoder(vocab, char_vocab, tags, bool(meta["lowercase_words"]))
        train_forms = {w for s in read_treebank_split(treebank, "train", tagset)[0] for w in s}
        results, summary = {}, {}
        for split in ("dev", "test"):
            data = read_treebank_split(treebank, split, tagset)
            if data is None:
                continue
            words, gold, where = data
            encoded = encoder.encode(words, gold, where)
            start = time.perf_counter()
            ids = predict_tags(model, encoded, device=device)
            seconds = time.perf_counter() - start
            predicted = [[tags[i] for i in row] for row in ids]
            metrics = tagging_metrics(gold, predicted, words, train_forms, tags)
            metrics["tokens_per_second"] = round(metrics["tokens"] / seconds) if seconds > 0 else None
            results[split] = metrics
            summary[split] = {k: metrics[k] for k in ("accuracy", "unseen_accuracy", "macro_f1", "tokens",
                                                      "unseen_tokens", "tokens_per_second")}
            (ctx.out_dir / f"per_tag_{split}.md").write_text(per_class_table(metrics["report"], tags) + "\n")
            unseen = metrics["unseen_accuracy"]
            plot_confusion_matrix(
                metrics["confusion_matrix"], tags, ctx.out_dir / f"confusion_matrix_{split}.png",
                title=f"{split} {tagset.upper()}: accuracy {metrics['accuracy']:.4f}"
                + (f", unseen words {unseen:.4f}" if unseen is not None else ""),
            )
            ctx.log(f"  {split}: accuracy {metrics['accuracy']:.4f}, unseen words "
                    f"{'n/a' if unseen is None else f'{unseen:.4f}'} ({metrics['unseen_tokens']:,} tokens), "
                    f"macro-F1 {metrics['macro_f1']:.4f}")
        history = json.loads(model_art.file("history.json").read_text())
        plot_learning_curve(history, ctx.out_dir / "learning_curve.png")
        (ctx.out_dir / "metrics.json").write_text(json.dumps(results, indent=2))
        return summary

    return Stage(
        name="evaluate_tagger",
        version="1",
        params={"tagset": tagset},
        inputs={"treebank": treebank, "model": model_art},
        build=build,
        description="token accuracy, unseen-word accuracy, per-tag F1, confusion matrix",
    )
