"""evaluate_tagger: a tagger + its treebank → ``metrics.json``, per-tag tables, confusion matrix, learning curve.

Token accuracy, accuracy on word forms absent from the training split, macro-F1, and tagging speed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.stages.artifact_files import read_treebank_split
from nlp_pipeline.stages.common import split_accuracies

EvaluateTaggerParams = settings.stage_params("EvaluateTaggerParams", settings.Tagset)


def build(params: EvaluateTaggerParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.inference.tagger import predict_tags
    from nlp_pipeline.models.tagger_encoding import TaggerEncoder
    from nlp_pipeline.models.tagger_io import load_tagger
    from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve
    from nlp_pipeline.reports.tables import per_class_table, percent
    from nlp_pipeline.training.metrics import tagging_metrics

    tagset = params.tagset
    treebank: Artifact = inputs["treebank"]
    model_art: Artifact = inputs["model"]
    device = ctx.runtime.device
    model, meta, vocab, char_vocab = load_tagger(model_art.path, device=device)
    tags = meta["tags"]
    encoder = TaggerEncoder(vocab, char_vocab, tags, bool(meta["lowercase_words"]))
    train_forms = {w for s in read_treebank_split(treebank, "train", tagset)[0] for w in s}
    results, summary_out = {}, {}
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
        summary_out[split] = {k: metrics[k] for k in ("accuracy", "unseen_accuracy", "macro_f1", "tokens",
                                                      "unseen_tokens", "tokens_per_second")}
        (ctx.out_dir / f"per_tag_{split}.md").write_text(per_class_table(metrics["report"], tags) + "\n")
        unseen = metrics["unseen_accuracy"]
        plot_confusion_matrix(
            metrics["confusion_matrix"], tags, ctx.out_dir / f"confusion_matrix_{split}.png",
            title=f"{split} {tagset.upper()}: accuracy {percent(metrics['accuracy'])}%"
            + (f", unseen words {percent(unseen)}%" if unseen is not None else ""),
        )
        ctx.log(f"  {split}: accuracy {percent(metrics['accuracy'])}%, unseen words "
                f"{'n/a' if unseen is None else f'{percent(unseen)}%'} ({metrics['unseen_tokens']:,} tokens), "
                f"macro-F1 {percent(metrics['macro_f1'])}%")
    history = json.loads(model_art.file("history.json").read_text())
    plot_learning_curve(history, ctx.out_dir / "learning_curve.png")
    (ctx.out_dir / "metrics.json").write_text(json.dumps(results, indent=2))
    return summary_out


STAGE = Stage(name="evaluate_tagger", version="3",  # 2: typed params; 3: scores in percent
              params=EvaluateTaggerParams, build=build, inputs=("treebank", "model"),
              describe=lambda p: "token accuracy, unseen-word accuracy, per-tag F1, confusion matrix",
              summary=split_accuracies)
