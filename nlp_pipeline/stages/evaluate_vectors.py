"""evaluate_vectors: word vectors → intrinsic scores, probe-word neighbours, a loss curve and an embedding map.

Scores WordSim-353, SimLex-999 and the Google analogies (``standard``) and every pair or analogy
file the pipeline lists (`nlp_pipeline.embeddings.eval_sets`). Writes ``metrics.json``,
``neighbours.json``, ``loss.png`` (from the embed stage's per-epoch loss), ``embedding_map.png``
and ``details.md``, the part of the report's ``results.md`` that is about this variant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, DataRef, Stage, short_key

EvaluateVectorsParams = settings.stage_params("EvaluateVectorsParams", settings.EvaluateVectors)


def _probe_neighbours(index, probes: tuple[str, ...], n: int) -> tuple[dict[str, list], dict[str, list[str]]]:
    """``({probe: [[word, cosine], ...]}, {missing probe: suggestions})``; a probe is tried as given,
    then lower-cased (a lower-casing pipeline's vocabulary has no 'Paris')."""
    found, missing = {}, {}
    for probe in probes:
        word = probe if probe in index else probe.lower()
        if word not in index:
            missing[probe] = index.suggest(probe, 3)
            continue
        found[word] = [[w, round(float(s), 4)] for w, s in index.most_similar(word, topn=n)]
    return found, missing


def _score_cell(result: dict) -> str:
    if result["kind"] == "pairs":
        value = result.get("spearman")
        shown = "n/a" if value is None else f"ρ = {value:.3f}"
        return f"{shown} ({result['pairs_in_vocab']}/{result['pairs']} pairs)"
    value = result.get("accuracy")
    shown = "n/a" if value is None else f"{100 * value:.2f}%"
    return f"{shown} ({result['questions_answered']:,}/{result['questions']:,} questions)"


def build(params: EvaluateVectorsParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.embeddings.eval_sets import evaluate_vectors
    from nlp_pipeline.embeddings.query import VectorIndex
    from nlp_pipeline.reports.embedding_map import map_words, plot_embedding_map, project_2d
    from nlp_pipeline.reports.plots import plot_loss_curve
    from nlp_pipeline.text.phrases import load_phrases

    vectors: Artifact = inputs["vectors"]
    pair_files: tuple[DataRef, ...] = inputs.get("pairs", ())
    analogy_files: tuple[DataRef, ...] = inputs.get("analogies", ())
    index = VectorIndex.load(vectors.path)
    scores = evaluate_vectors(index, [f.files[0] for f in pair_files], [f.files[0] for f in analogy_files],
                              standard=params.standard, restrict_vocab=params.restrict_vocab)
    for name, result in scores.items():
        ctx.log(f"  {name}: {_score_cell(result)}")
    neighbours, missing = _probe_neighbours(index, params.probes, params.neighbours)
    for probe, suggestions in missing.items():
        ctx.log(f"  probe {probe!r} is not in the vocabulary" + (f" (close: {', '.join(suggestions)})"
                                                                 if suggestions else ""))
    (ctx.out_dir / "metrics.json").write_text(json.dumps(scores, indent=2))
    (ctx.out_dir / "neighbours.json").write_text(json.dumps({"neighbours": neighbours, "missing": missing},
                                                            indent=2, ensure_ascii=False))

    meta = vectors.metadata
    images = []
    if meta.get("epoch_loss"):
        note = meta.get("loss_note", "") if meta.get("loss_is_estimate") else ""
        plot_loss_curve(meta["epoch_loss"], ctx.out_dir / "loss.png",
                        title=f"word2vec loss per epoch ({meta.get('engine', '')})", note=note)
        images.append(("Training loss per epoch", "loss.png"))
    probes = {p: [w for w, _ in ns] for p, ns in neighbours.items()}
    words = map_words(index.words, params.map_words, probes)
    if len(words) >= 3:
        rows = [index.key_to_index[w] for w in words]
        coords = project_2d(index.matrix[rows], params.map_method, seed=params.seed)
        plot_embedding_map(words, coords, ctx.out_dir / "embedding_map.png", probes=probes,
                           n_labels=params.map_labels,
                           title=f"{min(params.map_words, len(index)):,} most frequent words "
                                 f"({params.map_method}); probes in red, their neighbours in orange")
        images.append(("Embedding map", "embedding_map.png"))

    key = short_key(vectors.key)
    lines = [f"Vectors: embed artifact `{key}` ({len(index):,} words, {index.dim}d); use them with "
             f"`--set embed.vectors={key}`, query them with `nlp-pipeline similar WORD -v {key}`.", "",
             "| test set | score |", "|---|---|"]
    lines += [f"| {name} | {_score_cell(r)} |" for name, r in scores.items()]
    if neighbours:
        lines += ["", f"Nearest neighbours (cosine), top {params.neighbours}:", ""]
        lines += ["| probe | neighbours |", "|---|---|"]
        lines += [f"| {p} | {', '.join(f'{w} ({s:.2f})' for w, s in ns)} |" for p, ns in neighbours.items()]
    if missing:
        lines += ["", "Not in the vocabulary: " + ", ".join(missing)]
    phrases = load_phrases(vectors.path)
    if phrases is not None:
        lines += ["", f"Phrases ({sum(phrases.n_phrases):,}; highest scores): "
                  + ", ".join(p for p, _ in phrases.top(15))]
    for caption, file in images:
        lines += ["", f"![{caption}]({{variant}}/{file})"]
    (ctx.out_dir / "details.md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = {}
    for name, r in scores.items():
        key = "spearman" if r["kind"] == "pairs" else "accuracy"
        summary[name] = {key: r.get(key), "kind": r["kind"],
                         "coverage": (r["pairs_in_vocab"] / r["pairs"]) if r["kind"] == "pairs"
                         else (r["questions_answered"] / r["questions"])}
    return {"scores": summary, "probes_found": sorted(neighbours), "probes_missing": sorted(missing),
            "vocab_size": len(index), "map_words": len(words)}


def summary(art: Artifact) -> str:
    scores = art.metadata.get("scores", {})
    parts = []
    for name, s in list(scores.items())[:3]:
        value = s.get("spearman", s.get("accuracy"))
        parts.append(f"{name} {'n/a' if value is None else round(value, 3)}")
    return ", ".join(parts)


STAGE = Stage(name="evaluate_vectors", version="3",  # 2: the report names the vectors' key; 3: by its short key
              params=EvaluateVectorsParams, build=build, inputs=("vectors",), optional_inputs=("pairs", "analogies"),
              describe=lambda p: "intrinsic scores, probe neighbours, loss curve and embedding map", summary=summary)
