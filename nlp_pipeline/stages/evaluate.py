"""evaluate: a classifier + its tokens → ``metrics.json``, confusion-matrix and learning-curve PNGs.

Scores the dev split and, when the corpus has one, the test split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nlp_pipeline import settings
from nlp_pipeline.engine import Artifact, BuildContext, Stage
from nlp_pipeline.stages.artifact_files import read_tokenized_split
from nlp_pipeline.stages.common import phrased, split_accuracies
from nlp_pipeline.text.phrases import load_phrases

EvaluateParams = settings.stage_params("EvaluateParams")  # no settings: the inputs fix what is scored


def build(params: EvaluateParams, inputs: Mapping, ctx: BuildContext) -> dict:
    from nlp_pipeline.inference.classifier import predict_proba
    from nlp_pipeline.models.classifier_io import load_classifier
    from nlp_pipeline.reports.plots import plot_confusion_matrix, plot_learning_curve
    from nlp_pipeline.reports.tables import percent
    from nlp_pipeline.training.metrics import classification_metrics

    tokens: Artifact = inputs["tokens"]
    model_art: Artifact = inputs["model"]
    device = ctx.runtime.device
    model, meta, vocab = load_classifier(model_art.path, device=device)
    phrases = load_phrases(model_art.path)  # the same words the model was trained and predicts on
    labels = meta["labels"]
    index = {lab: i for i, lab in enumerate(labels)}
    results = {}
    for split in ("dev", "test"):
        data = phrased(read_tokenized_split(tokens, split), phrases)
        if data is None:
            continue
        probs = predict_proba(model, [vocab.encode(x) for x in data[0]], max_length=meta.get("max_length"),
                              device=device)
        y_true = [index[y] for y in data[1]]
        metrics = classification_metrics(y_true, probs.argmax(axis=1).tolist(), labels)
        results[split] = {**metrics, "n": len(y_true)}
        plot_confusion_matrix(metrics["confusion_matrix"], labels, ctx.out_dir / f"confusion_matrix_{split}.png",
                              title=f"{split}: accuracy {percent(metrics['accuracy'])}%")
    history = json.loads(model_art.file("history.json").read_text())
    plot_learning_curve(history, ctx.out_dir / "learning_curve.png")
    (ctx.out_dir / "metrics.json").write_text(json.dumps(results, indent=2))
    return {split: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "n": r["n"]} for split, r in results.items()}


# 2: axis labels inside the image; 3: n per split; 4: typed params; 5: accuracy in percent in the plot titles
STAGE = Stage(name="evaluate", version="5",
              params=EvaluateParams, build=build, inputs=("tokens", "model"),
              describe=lambda p: "metrics and plots on dev and test", summary=split_accuracies)
