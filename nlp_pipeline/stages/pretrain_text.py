"""pretrain_text: unlabelled text sources → ``corpus.txt`` (one tokenized document a line) for word2vec.

Every document identical, after tokenization, to a dev or test document of the held-out corpora is
dropped first (270 unlabelled IMDB reviews are copies of IMDB test reviews), and so are repeats. A
held-out corpus's dev and test splits are carved with this stage's ``dev_fraction``, ``test_fraction``
and ``seed``: the pipeline passes the same values its labelled stage carves with.

Shared by every pipeline that trains vectors; it is typed on its own parameters, not on any pipeline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import BuildContext, DataRef, Stage
from nlp_pipeline.stages.common import metadata_summary, progress_bar
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig

PretrainTextParams = settings.stage_params("PretrainTextParams", settings.Split, settings.Tokenize)


def evaluation_texts(corpus: DataRef, dev_fraction: float, test_fraction: float, seed: int) -> dict[str, list[str]]:
    """``{split: texts}`` of a corpus's dev and test splits, carved with the given fractions and seed.

    A tagged corpus (CoNLL-U) gives each sentence's words joined by spaces, which is also how a
    treebank reaches the pretraining text, so a held-out sentence is recognised there.
    """
    from nlp_pipeline.data import is_tagged_corpus, load_labelled, load_tagged

    if is_tagged_corpus(corpus.name):
        splits = load_tagged(corpus.name, corpus.data_dir, dev_fraction, test_fraction, seed)
        return {s: [" ".join(x.words) for x in sents] for s, sents in splits.items() if s != "train"}
    dataset = load_labelled(corpus.name, data_dir=corpus.data_dir, dev_fraction=dev_fraction,
                            test_fraction=test_fraction, seed=seed)
    return {s: [e.text for e in examples] for s, examples in dataset.splits.items() if s != "train"}


def _doc_hash(tokens: list[str]) -> bytes:
    return hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=16).digest()


def build(params: PretrainTextParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.data import iter_texts

    sources: tuple[DataRef, ...] = inputs["sources"]
    held_out_corpora: tuple[DataRef, ...] = inputs.get("held_out", ())
    tokenizer = Tokenizer(TokenizerConfig.of(params), n_process=ctx.runtime.n_process)
    held_out: set[bytes] = set()
    for corpus in held_out_corpora:
        splits = evaluation_texts(corpus, params.dev_fraction, params.test_fraction, params.seed)
        for split, texts in splits.items():
            bar = progress_bar(texts, ctx, f"tokenize {corpus.id} {split}", total=len(texts))
            held_out.update(_doc_hash(t) for t in tokenizer.pipe(bar))
    against = [c.id for c in held_out_corpora]
    ctx.log(f"  keeping {len(held_out):,} evaluation documents ({', '.join(against)}) out of pretraining")

    seen: set[bytes] = set()
    stats = {}
    total_docs = total_tokens = 0
    with open(ctx.out_dir / "corpus.txt", "w", encoding="utf-8") as fh:
        for source in sources:
            kept = dropped_eval = dropped_dup = tokens = 0
            stream = iter_texts(source.name, data_dir=source.data_dir, **dict(source.options))
            texts = progress_bar(stream, ctx, f"tokenize {source.id}")
            for words in tokenizer.pipe(texts):
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
            name = source.id if source.id not in stats else f"{source.id}#{len(stats) + 1}"  # two files, one name
            stats[name] = {
                "documents": kept,
                "tokens": tokens,
                "dropped_evaluation_duplicates": dropped_eval,
                "dropped_repeats": dropped_dup,
            }
            ctx.log(f"  {source.id}: {kept:,} documents, {tokens:,} tokens "
                    f"(dropped {dropped_eval} matching an evaluation split, {dropped_dup} repeats)")
            total_docs += kept
            total_tokens += tokens
    return {"sources": stats, "documents": total_docs, "tokens": total_tokens, "dedup_against": against,
            "tokenizer": TokenizerConfig.of(params).to_dict()}


STAGE = Stage(name="pretrain_text", version="2",  # 2: typed params; sources and held-out corpora are inputs
              params=PretrainTextParams, build=build, inputs=("sources",), optional_inputs=("held_out",),
              describe=lambda p: "tokenize unlabelled text for word2vec, minus every evaluation document",
              summary=metadata_summary("{documents:,} docs, {tokens:,} tokens", documents=0, tokens=0))
