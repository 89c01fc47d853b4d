"""treebank: a CoNLL-U treebank → ``<split>.jsonl`` (``{"words", "upos", "xpos", "source", "line"}`` a sentence).

Carves the splits the treebank lacks and checks that every word has a tag of the chosen tag set
(``_`` is not a tag), so a treebank without XPOS fails here, in seconds, not after word2vec. Both
tag columns are kept; the tagger stages read the one ``tagset`` names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import BuildContext, DataRef, Stage
from nlp_pipeline.stages.artifact_files import TREEBANK_SPLIT_FILE
from nlp_pipeline.stages.common import split_sizes

TreebankParams = settings.stage_params("TreebankParams", settings.Split, settings.Tagset)


def build(params: TreebankParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.data import check_tags, load_tagged
    from nlp_pipeline.errors import ConfigError

    corpus: DataRef = inputs["corpus"]
    splits = load_tagged(corpus.name, corpus.data_dir, params.dev_fraction, params.test_fraction, params.seed)
    check_tags(splits, params.tagset)
    if "dev" not in splits:
        raise ConfigError(f"corpus {corpus.name!r} has no dev split: set data.dev_fraction > 0 to carve one")
    info = {}
    for split, sentences in splits.items():
        with open(ctx.out_dir / TREEBANK_SPLIT_FILE.format(split), "w", encoding="utf-8") as fh:
            for s in sentences:
                record = {"words": s.words, "upos": s.upos, "xpos": s.xpos, "source": s.source, "line": s.line}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        info[split] = {"sentences": len(sentences), "tokens": sum(len(s.words) for s in sentences)}
        ctx.log(f"  {split}: {len(sentences):,} sentences, {info[split]['tokens']:,} tokens")
    return {"corpus": corpus.id, "splits": info}


STAGE = Stage(name="treebank", version="3",  # 2: typed params; 3: tags checked for the tag set
              params=TreebankParams, build=build, inputs=("corpus",), summary=split_sizes("sentences"),
              describe=lambda p: "read the CoNLL-U treebank (integer-ID words), carve missing splits")
