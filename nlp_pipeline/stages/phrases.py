"""phrases: ``corpus.txt`` → the same text with collocations joined (``new_york``) + ``phrases.json``.

Optional (``phrases.passes: 0`` skips it). The embed stage trained on this text copies
``phrases.json`` into its artifact, so whatever later uses those vectors applies the same phrases
(`nlp_pipeline.text.phrases`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage

PhrasesParams = settings.stage_params("PhrasesParams", settings.Phrases)


def _documents(path: Path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield line.split()


def build(params: PhrasesParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.stages.common import progress_bar
    from nlp_pipeline.text.phrases import PhraseModel

    text: Artifact = inputs["text"]
    corpus = text.file("corpus.txt")
    n_docs = text.metadata.get("documents")

    def documents():
        return progress_bar(_documents(corpus), ctx, "phrases: count", total=n_docs)

    model = PhraseModel.learn(documents, params, log=ctx.log)
    model.save(ctx.out_dir)
    tokens_in = tokens_out = 0
    with open(ctx.out_dir / "corpus.txt", "w", encoding="utf-8") as fh:
        for words in progress_bar(_documents(corpus), ctx, "phrases: apply", total=n_docs):
            out = model(words)
            tokens_in += len(words)
            tokens_out += len(out)
            fh.write(" ".join(out))
            fh.write("\n")
    top = model.top(20)
    ctx.log(f"  {sum(model.n_phrases):,} phrases; {tokens_in - tokens_out:,} fewer tokens; "
            f"top: {', '.join(p for p, _ in top[:8])}")
    return {"documents": text.metadata.get("documents"), "tokens": tokens_out, "tokens_before": tokens_in,
            "phrases_per_pass": model.n_phrases, "top_phrases": [[p, s] for p, s in top],
            "tokenizer": text.metadata.get("tokenizer")}


STAGE = Stage(name="phrases", version="1", params=PhrasesParams, build=build, inputs=("text",),
              describe=lambda p: f"collocations with gensim Phrases ({p.passes} pass{'es' if p.passes > 1 else ''})",
              summary=lambda art: f"{sum(art.metadata.get('phrases_per_pass', [])):,} phrases, "
                                  f"{art.metadata.get('tokens', 0):,} tokens")
