"""import_vectors: the user's word vectors (word2vec, GloVe, fastText) → an embed-shaped artifact.

Replaces pretrain_text → embed when ``embed.vectors`` names a file or an embed artifact: the key is
the file's content hash, so the same file is read once, wherever it lives. The artifact holds the
same files as an embed artifact (``vectors.bin``, ``vectors.npy``, ``words.txt``), so every stage and
command that reads vectors reads these.

A lower-casing pipeline looks words up lower-cased, so a cased file (GloVe 840B, fastText) is folded
to lower case: a word keeps its own vector when the file has its lower-case form (``the``, not
``The``; ``us``, not ``US``), and otherwise the vector of its first casing in the file, which in these
files (sorted by frequency) is the most frequent one (``Paris`` for ``paris``). How many casings were
folded away is in the metadata.

An embed artifact trained on phrased text carries its ``phrases.json``; it is copied along.
"""

from __future__ import annotations

from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import BuildContext, DataRef, Stage
from nlp_pipeline.stages.common import metadata_summary
from nlp_pipeline.text.phrases import PHRASES_FILE, carry_phrases

ImportVectorsParams = settings.stage_params("ImportVectorsParams", settings.Casing)


def build(params: ImportVectorsParams, inputs: Mapping, ctx: BuildContext) -> dict:
    import numpy as np
    from gensim.models import KeyedVectors

    from nlp_pipeline.embeddings import intrinsic_scores, save_vectors
    from nlp_pipeline.embeddings.vectors_io import load_vectors

    source: DataRef = inputs["file"]
    kv = load_vectors(source.files[0])
    folded = 0
    if params.lowercase:
        keep = {word: i for i, word in enumerate(kv.index_to_key) if word == word.lower()}
        for i, word in enumerate(kv.index_to_key):
            keep.setdefault(word.lower(), i)
        folded = len(kv) - len(keep)
        if folded or any(w != w.lower() for w in kv.index_to_key):
            chosen = sorted(keep.items(), key=lambda wi: wi[1])  # the file's order (by frequency)
            lowered = KeyedVectors(vector_size=kv.vector_size)
            rows = np.fromiter((i for _, i in chosen), dtype=np.int64, count=len(chosen))
            lowered.add_vectors([w for w, _ in chosen], kv.vectors[rows])
            kv = lowered
    files = save_vectors(kv, ctx.out_dir)
    # an embed artifact trained on phrased text
    carry_phrases(next((f for f in source.files if f.name == PHRASES_FILE), None), ctx.out_dir, files)
    scores = intrinsic_scores(kv)
    ctx.log(f"  {source.id}: {len(kv):,} words, {kv.vector_size}d"
            + (f" ({folded:,} other casings folded into their lower-case form)" if folded else ""))
    return {"engine": "import", "source": source.id, "vocab_size": len(kv), "dim": kv.vector_size,
            "folded_casings": folded, "files": files, "intrinsic": scores, "words_per_second": None}


STAGE = Stage(name="import_vectors", version="1", params=ImportVectorsParams, build=build, inputs=("file",),
              describe=lambda p: "read your word vectors" + (" (folded to lower case)" if p.lowercase else ""),
              summary=metadata_summary("{source}: {vocab_size:,} words, {dim}d", vocab_size=0))
