"""lm_data: tokenized pretraining text → a language model's training stream, held-out slice and vocabulary.

A seeded ``heldout_fraction`` of the documents (at least one) is set aside, whole, for perplexity;
the vocabulary (``<pad>``, ``<unk>``, ``<eos>``, then the ``vocab_size`` most frequent words seen
``min_count`` times) is counted on the rest only, so nothing about the held-out text leaks into the
model. Files:

- ``corpus.txt`` / ``heldout.txt``: the training and held-out documents, one tokenized document a
  line (``corpus.txt`` is also what word2vec trains on when the model starts from word vectors, so
  those never see the held-out text either);
- ``train.npy`` / ``heldout.npy``: int32 token ids, every document followed by ``<eos>``;
- ``train_offsets.npy`` / ``heldout_offsets.npy``: int64 document starts, then the end;
- ``vocab.json``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.errors import DataError
from nlp_pipeline.stages.common import progress_bar

# The carving fractions shaped pretrain_text, upstream; lm_data holds documents out and builds the vocabulary.
LMDataParams = settings.stage_params("LMDataParams", settings.HeldOut, settings.LMVocabulary, settings.Split,
                                     exclude=("dev_fraction", "test_fraction"))


def _lines(path) -> list[str]:
    # newline="\n": a line is a document; no other character (a stray \r) may split one
    with open(path, encoding="utf-8", newline="\n") as fh:
        return [line.rstrip("\n") for line in fh if line.strip()]


def build(params: LMDataParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.models.language_model_io import EOS
    from nlp_pipeline.text.vocab import Vocab
    from nlp_pipeline.training.language_model import encode_documents

    text: Artifact = inputs["text"]
    docs = _lines(text.file("corpus.txt"))
    if len(docs) < 2:
        raise DataError(f"the pretraining text has {len(docs)} document(s); a language model needs at least two "
                        "(one to train on, one held out)")
    n_heldout = min(len(docs) - 1, max(1, math.ceil(params.heldout_fraction * len(docs))))
    order = np.random.default_rng(params.seed).permutation(len(docs))
    heldout_set = set(order[:n_heldout].tolist())
    train_docs = [d for i, d in enumerate(docs) if i not in heldout_set]
    heldout_docs = [d for i, d in enumerate(docs) if i in heldout_set]
    del docs

    counts: Counter[str] = Counter()
    for doc in progress_bar(train_docs, ctx, "count words"):
        counts.update(doc.split(" "))
    for special in (Vocab.PAD, Vocab.UNK, EOS):
        counts.pop(special, None)
    words = sorted((w for w, c in counts.items() if c >= params.min_count), key=lambda w: (-counts[w], w))
    words = words[: params.vocab_size]
    vocab = Vocab([Vocab.PAD, Vocab.UNK, EOS, *words])
    vocab.save(ctx.out_dir / "vocab.json")

    out = {}
    for name, split in (("train", train_docs), ("heldout", heldout_docs)):
        ids, offsets, unknown = encode_documents((d.split(" ") for d in split), vocab.stoi, vocab.stoi[EOS],
                                                 Vocab.UNK_INDEX)
        np.save(ctx.out_dir / f"{name}.npy", ids)
        np.save(ctx.out_dir / f"{name}_offsets.npy", offsets)
        words_in = len(ids) - len(split)
        out[name] = {"documents": len(split), "tokens": int(len(ids)),
                     "unknown_rate": round(unknown / max(1, words_in), 5)}
    with open(ctx.out_dir / "corpus.txt", "w", encoding="utf-8") as fh:
        fh.writelines(d + "\n" for d in train_docs)
    with open(ctx.out_dir / "heldout.txt", "w", encoding="utf-8") as fh:
        fh.writelines(d + "\n" for d in heldout_docs)

    # The unigram model's held-out perplexity: the bar a sequence model must clear (add-one smoothed).
    train_ids = np.load(ctx.out_dir / "train.npy")
    freq = np.bincount(train_ids, minlength=len(vocab)).astype(np.float64) + 1.0
    freq /= freq.sum()
    heldout_ids = np.load(ctx.out_dir / "heldout.npy")
    unigram_ppl = float(np.exp(-np.log(freq[heldout_ids]).mean())) if len(heldout_ids) else None
    ctx.log(f"  vocabulary {len(vocab):,} ({len(words):,} words seen >= {params.min_count} times, of "
            f"{len(counts):,}); train {out['train']['tokens']:,} tokens in {out['train']['documents']:,} documents, "
            f"held out {out['heldout']['tokens']:,} in {out['heldout']['documents']:,} "
            f"({100 * out['heldout']['unknown_rate']:.2f}% unknown words); unigram perplexity {unigram_ppl:,.1f}")
    return {**out, "vocab_size": len(vocab), "distinct_words": len(counts),
            "unigram_heldout_ppl": round(unigram_ppl, 2) if unigram_ppl else None,
            "tokens": out["train"]["tokens"] - out["train"]["documents"], "tokenizer": text.metadata.get("tokenizer")}


def summary(art: Artifact) -> str:
    m = art.metadata
    train, heldout = m.get("train", {}), m.get("heldout", {})
    return (f"{train.get('tokens', 0):,} train tokens, {heldout.get('tokens', 0):,} held out, "
            f"vocabulary {m.get('vocab_size', 0):,}")


STAGE = Stage(name="lm_data", version="1", params=LMDataParams, build=build, inputs=("text",), summary=summary,
              describe=lambda p: f"language-model stream, {p.heldout_fraction:.1%} of the documents held out")
