"""tokenize: a labelled corpus → ``<split>.tokens.txt`` + ``<split>.labels.txt`` per split, ``labels.json``.

Carves the splits the corpus lacks (``dev_fraction``, ``test_fraction``, ``seed``) and tokenizes every
split with spaCy's rule-based English tokenizer. The tokenizer settings go into the metadata, so the
model trained on these tokens tokenizes raw text the same way at prediction time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import BuildContext, DataRef, Stage
from nlp_pipeline.stages.artifact_files import LABEL_LIST_FILE, LABELS_FILE, TOKENS_FILE
from nlp_pipeline.stages.common import progress_bar, split_sizes
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig

TokenizeParams = settings.stage_params("TokenizeParams", settings.Split, settings.LabelRules, settings.Tokenize)


def build(params: TokenizeParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.data import load_labelled

    corpus: DataRef = inputs["corpus"]
    dataset = load_labelled(corpus.name, data_dir=corpus.data_dir, dev_fraction=params.dev_fraction,
                            test_fraction=params.test_fraction, seed=params.seed, labels=params.labels,
                            min_label_count=params.min_label_count)
    counts = dataset.info["counts"]
    ctx.log(f"  {len(dataset.labels)} labels: " + ", ".join(
        f"{lab} ({' / '.join(f'{counts[s][lab]:,} {s}' for s in dataset.splits if dataset.splits[s])})"
        for lab in dataset.labels))
    tokenizer = Tokenizer(TokenizerConfig.of(params), n_process=ctx.runtime.n_process)
    splits = {}
    for split, examples in dataset.splits.items():
        if not examples:
            continue
        out_file = ctx.out_dir / TOKENS_FILE.format(split)
        texts = progress_bar((e.text for e in examples), ctx, f"tokenize {split}", total=len(examples))
        counts = tokenizer.tokenize_to_file(texts, out_file)
        with open(ctx.out_dir / LABELS_FILE.format(split), "w", encoding="utf-8") as fh:
            fh.writelines(f"{e.label}\n" for e in examples)
        splits[split] = {**counts, "labels": dataset.info["counts"][split]}
        ctx.log(f"  {split}: {counts['documents']:,} documents, {counts['tokens']:,} tokens")
    (ctx.out_dir / LABEL_LIST_FILE).write_text(json.dumps(dataset.labels))
    return {"corpus": corpus.id, "labels": dataset.labels, "splits": splits, "info": dataset.info,
            "tokenizer": TokenizerConfig.of(params).to_dict()}


STAGE = Stage(name="tokenize", version="2",  # 2: typed params; tokenizer settings in the metadata
              params=TokenizeParams, build=build, inputs=("corpus",), summary=split_sizes("documents"),
              describe=lambda p: "read the labelled corpus, split it, tokenize every split")
