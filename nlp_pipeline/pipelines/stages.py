"""The stages of the sentiment pipeline. Each function returns a `Stage`: params, inputs, build.

Only parameters that change a stage's output go into its params (and so its cache key): the
number of processes, threads or the device do not, so changing them reuses the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from nlp_pipeline.config import SentimentConfig
from nlp_pipeline.engine import Artifact, Stage, StageContext
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig, read_token_lines


def _bar(iterable, ctx: StageContext, desc: str, total: int | None = None):
    """A tqdm progress bar over documents (off with --quiet)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="doc", disable=not ctx.progress, leave=False, mininterval=0.5)


def tokenizer_config(cfg: SentimentConfig) -> TokenizerConfig:
    return TokenizerConfig(lowercase=cfg.tokenize.lowercase, strip_html=cfg.tokenize.strip_html)


def _data_params(cfg: SentimentConfig) -> dict:
    corpus = cfg.data.corpus
    # A user path is identified by its content fingerprint (an input), not by where it lives.
    corpus_id = corpus if not Path(corpus).exists() else "user:" + Path(corpus).name
    return {
        "corpus": corpus_id,
        "dev_fraction": cfg.data.dev_fraction,
        "test_fraction": cfg.data.test_fraction,
        "seed": cfg.data.seed,
    }


def _load_labelled(cfg: SentimentConfig, corpus: str):
    """A labelled corpus split with this run's data parameters (the same carving everywhere)."""
    from nlp_pipeline.data import load_labelled

    return load_labelled(
        corpus,
        data_dir=cfg.data.data_dir,
        dev_fraction=cfg.data.dev_fraction,
        test_fraction=cfg.data.test_fraction,
        seed=cfg.data.seed,
    )


# --------------------------------------------------------------------------------------------
# tokenize: labelled corpus → <split>.tokens.txt + <split>.labels.txt


def tokenize_stage(cfg: SentimentConfig) -> Stage:
    from nlp_pipeline.data import corpus_files

    data_dir = cfg.data.data_dir
    tok_cfg = tokenizer_config(cfg)

    def build(ctx: StageContext) -> dict:
        dataset = _load_labelled(cfg, cfg.data.corpus)
        tokenizer = Tokenizer(tok_cfg, n_process=cfg.tokenize.n_process)
        splits = {}
        for split, examples in dataset.splits.items():
            if not examples:
                continue
            out_file = ctx.out_dir / f"{split}.tokens.txt"
            texts = _bar((e.text for e in examples), ctx, f"tokenize {split}", total=len(examples))
            counts = tokenizer.tokenize_to_file(texts, out_file)
            with open(ctx.out_dir / f"{split}.labels.txt", "w", encoding="utf-8") as fh:
                fh.writelines(f"{e.label}\n" for e in examples)
            splits[split] = {**counts, "labels": dataset.info["counts"][split]}
            ctx.log(f"  {split}: {counts['documents']:,} documents, {counts['tokens']:,} tokens")
        (ctx.out_dir / "labels.json").write_text(json.dumps(dataset.labels))
        return {"corpus": dataset.name, "labels": dataset.labels, "splits": splits, "info": dataset.info}

    return Stage(
        name="tokenize",
        version="1",
        params={"data": _data_params(cfg), "tokenizer": tok_cfg.to_dict()},
        inputs={"corpus": corpus_files(cfg.data.corpus, data_dir=data_dir)},
        build=build,
        description="read the labelled corpus, split it, tokenize every split",
    )


def read_split(art: Artifact, split: str) -> tuple[list[list[str]], list[str]] | None:
    tokens_path = art.file(f"{split}.tokens.txt")
    if not tokens_path.is_file():
        return None
    tokens = list(read_token_lines(tokens_path))
    labels = art.file(f"{split}.labels.txt").read_text(encoding="utf-8").splitlines()
    return tokens, labels


# --------------------------------------------------------------------------------------------
# pretrain_text: unlabelled sources → corpus.txt, deduplicated against every evaluation split


def _corpus_of(source: str) -> str | None:
    """The labelled corpus whose evaluation splits a pretraining source could leak into."""
    if source == "imdb_unsup":
        return "imdb"
    if ":" in source:
        return source.split(":", 1)[0]
    return None


def dedup_corpora(cfg: SentimentConfig) -> list[str]:
    if cfg.embed.dedup_against is not None:
        return sorted(set(cfg.embed.dedup_against))
    names = {c for s in cfg.embed.sources if (c := _corpus_of(s))}
    names.add(cfg.data.corpus)
    return sorted(names)


def evaluation_texts(cfg, corpus: str) -> dict[str, list[str]]:
    """``{split: texts}`` of a corpus's dev and test splits, carved as this run carves them.

    A tagged corpus (CoNLL-U) gives each sentence's words joined by spaces, which is also how a
    treebank reaches the pretraining text, so a held-out sentence is recognised there.
    """
    from nlp_pipeline.data import is_tagged_corpus, load_tagged

    if is_tagged_corpus(corpus):
        d = cfg.data
        splits = load_tagged(corpus, d.data_dir, d.dev_fraction, d.test_fraction, d.seed)
        return {s: [" ".join(x.words) for x in sents] for s, sents in splits.items() if s != "train"}
    dataset = _load_labelled(cfg, corpus)
    return {s: [e.text for e in examples] for s, examples in dataset.splits.items() if s != "train"}


def _doc_hash(tokens: list[str]) -> bytes:
    return hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=16).digest()


def pretrain_text_stage(cfg: SentimentConfig) -> Stage:
    from nlp_pipeline.data import corpus_files, source_files

    data_dir = cfg.data.data_dir
    tok_cfg = tokenizer_config(cfg)
    against = dedup_corpora(cfg)

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.data import iter_texts

        tokenizer = Tokenizer(tok_cfg, n_process=cfg.tokenize.n_process)
        held_out: set[bytes] = set()
        for name in against:
            for split, texts in evaluation_texts(cfg, name).items():
                bar = _bar(texts, ctx, f"tokenize {name} {split}", total=len(texts))
                held_out.update(_doc_hash(t) for t in tokenizer.pipe(bar))
        ctx.log(f"  keeping {len(held_out):,} evaluation documents ({', '.join(against)}) out of pretraining")

        seen: set[bytes] = set()
        stats = {}
        total_docs = total_tokens = 0
        with open(ctx.out_dir / "corpus.txt", "w", encoding="utf-8") as fh:
            for source in cfg.embed.sources:
                kept = dropped_eval = dropped_dup = tokens = 0
                for words in tokenizer.pipe(_bar(iter_texts(source, data_dir=data_dir), ctx, f"tokenize {source}")):
                    if not words:
                        continue
                    h = _doc_hash(words)
                    if h in held_out:
                        dropped_eval += 1
                        continue
                    if h in seen:
                        dropped_dup += 1
                        continue
                    seen.add(h)
                    fh.write(" ".join(words))
                    fh.write("\n")
                    kept += 1
                    tokens += len(words)
                stats[source] = {
                    "documents": kept,
                    "tokens": tokens,
                    "dropped_evaluation_duplicates": dropped_eval,
                    "dropped_repeats": dropped_dup,
                }
                ctx.log(
                    f"  {source}: {kept:,} documents, {tokens:,} tokens "
                    f"(dropped {dropped_eval} matching an evaluation split, {dropped_dup} repeats)"
                )
                total_docs += kept
                total_tokens += tokens
        return {"sources": stats, "documents": total_docs, "tokens": total_tokens, "dedup_against": against}

    inputs: dict = {f"source:{s}": source_files(s, data_dir=data_dir) for s in cfg.embed.sources}
    for name in against:
        inputs[f"eval:{name}"] = corpus_files(name, data_dir=data_dir)
    return Stage(
        name="pretrain_text",
        version="1",
        params={
            "sources": list(cfg.embed.sources),
            "dedup_against": against,
            "split": {k: v for k, v in _data_params(cfg).items() if k != "corpus"},
            "tokenizer": tok_cfg.to_dict(),
        },
        inputs=inputs,
        build=build,
        description="tokenize unlabelled text for word2vec, minus every evaluation document",
    )


# --------------------------------------------------------------------------------------------
# embed: corpus.txt → vectors.bin (+ .npy, words.txt), intrinsic scores


def word2vec_params(cfg: SentimentConfig):
    from nlp_pipeline.embeddings import Word2VecParams

    e = cfg.embed
    return Word2VecParams(
        sg=e.sg,
        vector_size=e.vector_size,
        window=e.window,
        negative=e.negative,
        min_count=e.min_count,
        sample=e.sample,
        epochs=e.epochs,
        alpha=e.alpha,
        min_alpha=e.min_alpha,
        max_vocab_size=e.max_vocab_size,
        workers=e.workers,
        seed=e.seed,
    )


def embed_stage(cfg: SentimentConfig, text: Artifact) -> Stage:
    params = word2vec_params(cfg)

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.embeddings import intrinsic_scores, save_vectors, train_gensim

        if torch_options is not None:
            from nlp_pipeline.embeddings.torch_engine import train_torch

            model = train_torch(
                text.file("corpus.txt"),
                params,
                options=torch_options,
                progress=ctx.progress,
                log_fn=ctx.log,
                work_dir=ctx.out_dir,
            )
            kv, info = model.to_keyed_vectors(), model.info
        else:
            kv, info = train_gensim(
                text.file("corpus.txt"),
                params,
                total_words=text.metadata.get("tokens"),
                progress=ctx.progress,
                log_fn=ctx.log,
            )
        files = save_vectors(kv, ctx.out_dir)
        scores = intrinsic_scores(kv)
        ctx.log(
            f"  vocabulary {info['vocab_size']:,}, {info['words_per_second']:,} words/s; "
            f"WS353 {scores['wordsim353']['spearman']}, SimLex {scores['simlex999']['spearman']}, "
            f"analogy {scores['google_analogy']['accuracy']}"
        )
        return {**info, "files": files, "intrinsic": scores}

    key_params = {k: v for k, v in asdict(params).items() if k != "workers"}
    torch_options = None
    if cfg.embed.engine == "torch":  # gensim keys stay as they were: its cached vectors are reused
        from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions

        # resolved, so that a change of the engine's per-architecture defaults gives a new key
        torch_options = TorchW2VOptions(device=cfg.train.device, batch_words=cfg.embed.batch_words).resolve(params.sg)
        key_params["batch_words"] = torch_options.batch_words
        key_params["max_row_updates"] = torch_options.max_row_updates
        key_params["skip_saturated"] = torch_options.skip_saturated
    return Stage(
        name="embed",
        version="1",
        params={"engine": cfg.embed.engine, **key_params},
        inputs={"text": text},
        build=build,
        description=f"word2vec ({'skip-gram' if params.sg else 'CBOW'}, {cfg.embed.engine})",
    )


# --------------------------------------------------------------------------------------------
# train: tokens + vectors → classifier (model.safetensors, config.json, vocab.json, history.json)


def train_stage(cfg: SentimentConfig, tokens: Artifact, vectors: Artifact | None) -> Stage:
    m, t = cfg.model, cfg.train

    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.embeddings import load_vectors
        from nlp_pipeline.models.classifier import (
            ClassifierConfig,
            SequenceClassifier,
            build_embedding_matrix,
            extend_vocabulary,
        )
        from nlp_pipeline.models.io import save_classifier
        from nlp_pipeline.text.vocab import Vocab
        from nlp_pipeline.training.trainer import TrainConfig, train_classifier

        labels = json.loads(tokens.file("labels.json").read_text())
        label_index = {lab: i for i, lab in enumerate(labels)}
        train_split = read_split(tokens, "train")
        dev_split = read_split(tokens, "dev")
        assert train_split is not None and dev_split is not None
        vocab = Vocab.build(train_split[0], min_count=t.vocab_min_count)
        kv = load_vectors(vectors.path) if vectors is not None else None
        dim = kv.vector_size if kv is not None else cfg.embed.vector_size
        matrix, coverage = build_embedding_matrix(vocab, kv, dim, seed=t.seed)
        if kv is not None:
            ctx.log(f"  vocabulary {len(vocab):,} words, {coverage:.1%} found in the vectors")
        model_cfg = ClassifierConfig(
            vocab_size=len(vocab),
            num_classes=len(labels),
            embedding_dim=dim,
            encoder=m.encoder,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            dropout=m.dropout,
            embedding_dropout=m.embedding_dropout,
            pooling=m.pooling,
            embedding_mode=m.embedding_mode,
        )
        model = SequenceClassifier(model_cfg, embedding_matrix=matrix)
        train_cfg = TrainConfig(
            epochs=t.epochs,
            batch_size=t.batch_size,
            lr=t.lr,
            embedding_lr_scale=t.embedding_lr_scale,
            weight_decay=t.weight_decay,
            clip_norm=t.clip_norm,
            patience=t.patience,
            max_length=t.max_length,
            seed=t.seed,
            device=t.device,
            num_threads=t.num_threads,
        )
        result = train_classifier(
            model,
            [vocab.encode(x) for x in train_split[0]],
            [label_index[y] for y in train_split[1]],
            [vocab.encode(x) for x in dev_split[0]],
            [label_index[y] for y in dev_split[1]],
            train_cfg,
            progress=ctx.progress,
            log=ctx.log,
        )
        added = 0
        if kv is not None and t.vocab_from_vectors > 0:
            model, vocab, added = extend_vocabulary(model, vocab, kv, t.vocab_from_vectors)
            model_cfg = model.config
            ctx.log(f"  added {added:,} words known only to the vectors (vocabulary now {len(vocab):,})")
        meta = {
            "tokenizer": tokenizer_config(cfg).to_dict(),
            "max_length": t.max_length,
            "corpus": cfg.data.corpus,
            "vectors": f"embed:{vectors.key}" if vectors is not None else None,
        }
        save_classifier(ctx.out_dir, model.cpu(), model_cfg, vocab, labels, meta)
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
        }

    inputs: dict = {"tokens": tokens}
    if vectors is not None:
        inputs["vectors"] = vectors
    train_params = {k: v for k, v in asdict(t).items() if k not in ("device", "num_threads")}
    return Stage(
        name="train",
        version="2",  # 2: unpacked RecurrentEncoder (new weight layout, 20x faster on long documents)
        params={"model": asdict(m), "train": train_params},
        inputs=inputs,
        build=build,
        description=f"{m.encoder} classifier, {m.embedding_mode} embeddings",
    )


# --------------------------------------------------------------------------------------------
# evaluate: model + tokens → metrics.json, confusion-matrix and learning-curve PNGs


def evaluate_stage(cfg: SentimentConfig, tokens: Artifact, model_art: Artifact) -> Stage:
    def build(ctx: StageContext) -> dict:
        from nlp_pipeline.models.io import load_classifier
        from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve
        from nlp_pipeline.training.device import resolve_device
        from nlp_pipeline.training.metrics import classification_metrics
        from nlp_pipeline.training.trainer import predict_proba

        device = resolve_device(cfg.train.device)
        model, meta, vocab = load_classifier(model_art.path, device=str(device))
        labels = meta["labels"]
        index = {lab: i for i, lab in enumerate(labels)}
        results = {}
        for split in ("dev", "test"):
            data = read_split(tokens, split)
            if data is None:
                continue
            probs = predict_proba(
                model, [vocab.encode(x) for x in data[0]], max_length=meta.get("max_length"), device=device
            )
            y_true = [index[y] for y in data[1]]
            metrics = classification_metrics(y_true, probs.argmax(axis=1).tolist(), labels)
            results[split] = {**metrics, "n": len(y_true)}
            plot_confusion_matrix(
                metrics["confusion_matrix"], labels, ctx.out_dir / f"confusion_matrix_{split}.png",
                title=f"{split}: accuracy {metrics['accuracy']:.3f}",
            )
        history = json.loads(model_art.file("history.json").read_text())
        plot_learning_curve(history, ctx.out_dir / "learning_curve.png")
        (ctx.out_dir / "metrics.json").write_text(json.dumps(results, indent=2))
        return {
            split: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "n": r["n"]}
            for split, r in results.items()
        }

    return Stage(
        name="evaluate",
        version="3",  # 2: plots keep axis labels inside the image; 3: metrics.json holds n per split
        params={},
        inputs={"tokens": tokens, "model": model_art},
        build=build,
        description="metrics and plots on dev and test",
    )
