"""``evaluate model``: score a trained classifier or tagger on any labelled corpus, the way its run scored dev.

The number a run reports for its dev split must be the number this gives on the same split, so nothing
here scores on its own: the text goes through the model's saved tokenizer and phrases (`Predictor`), or
the treebank's words through the model's vocabularies (`TaggerPredictor`), into the same batched scoring
(`predict_proba`, `predict_tags`, same batch size and truncation) and the same metric functions
(`classification_metrics`, `tagging_metrics`) the ``evaluate`` and ``evaluate_tagger`` stages call.

Which examples: ``--corpus`` is a registered corpus or a path, optionally ``:split``.

- ``NAME:split`` or ``PATH:split``: that split as a run builds it. Splits the corpus lacks are carved as
  the model's own run carved them (the ``dev_fraction``, ``test_fraction``, ``seed`` and label settings
  recorded in the model's tokenize or treebank artifact, when the cache still holds it; else the
  defaults), so ``NAME:dev`` is exactly the dev split the run reported on.
- ``NAME`` or a folder, without a split: the ``test`` split when the corpus has one (its own, or carved
  from a corpus without splits), else ``dev``; the split used is always in the result. Test is the
  default because dev chose the model's best epoch, so its accuracy is optimistic.
- A single file without a split: every example in it.

For a tagger, *unseen* words are those whose exact form is absent from the training split of the
treebank the model was trained on, as in the run's report (``unseen_basis: "training split"``); when the
cache no longer holds that treebank, those the model's word vocabulary lacks (``"model vocabulary"``).

>>> result = evaluate_model("latest", "pang_lee_polarity:dev", output_dir="eval")   # doctest: +SKIP
>>> result.accuracy, result.per_class["positive"]["f1"], result.confusion_matrix_png  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlp_pipeline import settings
from nlp_pipeline.engine import short_key
from nlp_pipeline.errors import ConfigError, DataError, excerpt
from nlp_pipeline.pipelines.model_refs import TrainedModel, resolve_trained_model

logger = logging.getLogger(__name__)

SPLIT_NAMES = {"train": "train", "dev": "dev", "test": "test", "valid": "dev", "validation": "dev", "val": "dev"}
PNG_FILE = "confusion_matrix.png"
METRICS_FILE = "metrics.json"


@dataclass
class EvaluationResult:
    """Everything `evaluate_model` measured; `to_dict` is the ``--json`` object."""

    model: str  # the model folder
    kind: str  # classifier | tagger
    model_key: str | None  # its cache key, when it has a manifest
    corpus: str  # as given, without the split
    split: str | None  # None: every example of a single file
    files: list[str]  # the files the examples were read from
    carved: dict | None  # how the split was carved (fraction, seed, from), None when it is the corpus's own
    examples: int  # documents (classifier) or sentences (tagger)
    accuracy: float  # per document (classifier) or per token (tagger)
    macro_f1: float
    labels: list[str]  # the model's labels or tags, in its output order: the confusion matrix's order
    per_class: dict[str, dict[str, float]]  # label → precision, recall, f1, support
    confusion_matrix: list[list[int]]  # [true][predicted]
    tokens: int | None = None  # tagger only, and what follows
    unseen_tokens: int | None = None
    unseen_accuracy: float | None = None  # None when the split has no unseen word
    seen_tokens: int | None = None
    seen_accuracy: float | None = None
    unseen_basis: str | None = None  # "training split" | "model vocabulary"
    output_dir: str | None = None
    confusion_matrix_png: str | None = None
    averages: dict[str, Any] = field(default_factory=dict)  # macro and weighted averages (scikit-learn's report)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.kind == "classifier":
            for name in ("tokens", "unseen_tokens", "unseen_accuracy", "seen_tokens", "seen_accuracy", "unseen_basis"):
                out.pop(name)
        return out


def evaluate_model(model: str | Path, corpus: str | Path, *, cache_dir: str | Path | None = None,
                   data_dir: str | Path | None = None, device: str = "auto", output_dir: str | Path | None = None,
                   log: Callable[[str], None] | None = None) -> EvaluationResult:
    """Score ``model`` (a folder, a ``train``/``train_tagger`` key prefix, or ``latest``) on ``corpus``
    (``NAME[:split]`` or ``PATH[:split]``, see the module docstring).

    With ``output_dir``, also writes ``confusion_matrix.png`` and ``metrics.json`` (the result) there.
    Bad input (a missing file, a malformed row, a label or tag the model does not know, no examples) is a
    `DataError` naming the file and line; an unknown corpus or split a `ConfigError`.
    """
    log = log or logger.info
    trained = resolve_trained_model(model, cache_dir)
    source, split = parse_corpus(corpus)
    if trained.kind == "classifier":
        result = _evaluate_classifier(trained, source, split, cache_dir, data_dir, device, log)
    else:
        result = _evaluate_tagger(trained, source, split, cache_dir, data_dir, device, log)
    if output_dir is not None:
        save_evaluation(result, output_dir)
    return result


def save_evaluation(result: EvaluationResult, output_dir: str | Path) -> Path:
    """Write ``confusion_matrix.png`` and ``metrics.json`` (the whole result) into ``output_dir`` (created),
    and record where in ``result``."""
    from nlp_pipeline.reports.plots import plot_confusion_matrix
    from nlp_pipeline.reports.tables import percent

    out = Path(output_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    result.output_dir = str(out)
    result.confusion_matrix_png = str(out / PNG_FILE)
    where = f"{result.corpus}:{result.split}" if result.split else result.corpus
    plot_confusion_matrix(result.confusion_matrix, result.labels, out / PNG_FILE,
                          title=f"{where}: accuracy {percent(result.accuracy)}%")
    (out / METRICS_FILE).write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    return out


def default_output_dir(result: EvaluationResult) -> Path:
    """``reports/evaluate/<model key or folder>_<corpus>_<split>``: one folder per model, corpus and split,
    so evaluations do not overwrite each other."""
    parts = [short_key(result.model_key or "") or Path(result.model).name, Path(result.corpus).name or result.corpus,
             result.split or "all"]
    return Path("reports") / "evaluate" / "_".join(re.sub(r"[^\w.-]+", "-", p).strip("-.") or "x" for p in parts)


def parse_corpus(corpus: str | Path) -> tuple[str | Path, str | None]:
    """``NAME[:split]`` / ``PATH[:split]`` → (the corpus, the split or None). A registered name or an
    existing path is taken whole even when it holds a colon."""
    from nlp_pipeline.data import list_corpora

    if isinstance(corpus, Path):
        return corpus, None
    names = list_corpora()
    if corpus in names or Path(corpus).expanduser().exists():
        return corpus, None
    name, sep, split = corpus.rpartition(":")
    if sep and (name in names or Path(name).expanduser().exists()):
        if split.lower() not in SPLIT_NAMES:
            raise ConfigError(f"unknown split {split!r} in --corpus {corpus!r}; use train, dev or test")
        return name, SPLIT_NAMES[split.lower()]
    if "/" in corpus or Path(corpus).suffix or corpus.startswith((".", "~")):
        raise DataError("file not found", path=name if sep and split.lower() in SPLIT_NAMES else corpus)
    raise ConfigError(f"unknown corpus {corpus!r}; registered corpora: {', '.join(names)} (or give a path to a "
                      "labelled file or folder, or a CoNLL-U file or folder)")


def _is_path(source: str | Path) -> bool:
    from nlp_pipeline.data import list_corpora

    return isinstance(source, Path) or source not in list_corpora()


def _pick_split(splits: dict[str, list], split: str | None, corpus: str | Path) -> str:
    """The requested split, or test when there is one, else dev; absent or empty is an error."""
    if split is None:
        split = "test" if splits.get("test") else "dev"
    if not splits.get(split):
        have = ", ".join(s for s, items in splits.items() if items) or "none"
        raise ConfigError(f"corpus {str(corpus)!r} has no {split} split (its splits: {have})")
    return split


def _split_settings(upstream: Any, defaults: dict[str, Any]) -> dict:
    """The carving settings the model's run used (its upstream artifact's params), else the defaults."""
    params = upstream.manifest.get("params", {}) if upstream is not None else {}
    return {k: params.get(k, v) for k, v in defaults.items()}


def _note_default_carving(upstream: Any, carved: dict | None, what: str, log: Callable[[str], None]) -> None:
    if carved is not None and upstream is None:
        log(f"  the model's {what} artifact is not in the cache: the split was carved with the default settings "
            f"(fraction {carved['fraction']}, seed {carved['seed']}), maybe not as its run carved it")


def _report_fields(metrics: dict, labels: list[str]) -> dict[str, Any]:
    report = metrics["report"]
    per_class = {lab: {"precision": report[lab]["precision"], "recall": report[lab]["recall"],
                       "f1": report[lab]["f1-score"], "support": int(report[lab]["support"])} for lab in labels}
    averages = {k: report[k] for k in ("macro avg", "weighted avg") if k in report}
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "labels": list(labels),
            "per_class": per_class, "confusion_matrix": metrics["confusion_matrix"], "averages": averages}


# -- classifiers ------------------------------------------------------------------------------------------


def _labelled_examples(source: str | Path, split: str | None, settings_: dict, data_dir: Any) -> tuple:
    """``(examples, split, files, carved)`` of a labelled corpus, read (and carved) as the tokenize stage does."""
    from nlp_pipeline.data import is_tagged_corpus, load_labelled
    from nlp_pipeline.data.readers import read_user_labelled

    path = Path(source).expanduser() if _is_path(source) else None
    if path is not None and is_tagged_corpus(path):
        raise ConfigError(f"{source} is a tagged (CoNLL-U) corpus; the model is a classifier")
    if path is not None and path.is_file() and split is None:
        return list(read_user_labelled(path)), None, [str(path)], None
    labels = settings_["labels"]
    dataset = load_labelled(path if path is not None else source, data_dir=data_dir,
                            dev_fraction=settings_["dev_fraction"], test_fraction=settings_["test_fraction"],
                            seed=settings_["seed"], labels=list(labels) if labels else None,
                            min_label_count=settings_["min_label_count"])
    split = _pick_split(dataset.splits, split, source)
    return dataset.splits[split], split, dataset.info["files"], dataset.info["carved"].get(split)


def _evaluate_classifier(trained: TrainedModel, source: str | Path, split: str | None, cache_dir: Any,
                         data_dir: Any, device: str, log: Callable[[str], None]) -> EvaluationResult:
    from nlp_pipeline.inference.classifier import Predictor, predict_proba
    from nlp_pipeline.training.metrics import classification_metrics

    defaults = {name: settings.default_of(group, name) for group, names in
                ((settings.Split, ("dev_fraction", "test_fraction", "seed")),
                 (settings.LabelRules, ("labels", "min_label_count"))) for name in names}
    tokens = trained.upstream("tokens", cache_dir)
    examples, split, files, carved = _labelled_examples(source, split, _split_settings(tokens, defaults), data_dir)
    _note_default_carving(tokens, carved, "tokenize", log)
    predictor = Predictor.load(trained.path, device=device)
    index = {lab: i for i, lab in enumerate(predictor.labels)}
    for ex in examples:
        if ex.label not in index:
            raise DataError(f"label {excerpt(ex.label)!r} is not one the model knows ({', '.join(predictor.labels)})",
                            path=ex.source or source, line=ex.line)
    if not examples:
        raise DataError("no examples to evaluate", path=files[0] if files else source)
    # As the evaluate stage: the saved tokenizer and phrases, then predict_proba with the saved max_length.
    ids = [predictor.vocab.encode(tokens) for tokens in predictor.tokenize([ex.text for ex in examples])]
    probs = predict_proba(predictor.model, ids, predictor.batch_size, predictor.max_length, predictor.device)
    metrics = classification_metrics([index[ex.label] for ex in examples], probs.argmax(axis=1).tolist(),
                                     predictor.labels)
    return EvaluationResult(model=str(trained.path), kind="classifier", model_key=trained.key, corpus=str(source),
                            split=split, files=[str(f) for f in files], carved=carved, examples=len(examples),
                            **_report_fields(metrics, predictor.labels))


# -- taggers ----------------------------------------------------------------------------------------------


def _tagged_sentences(source: str | Path, split: str | None, settings_: dict, data_dir: Any) -> tuple:
    """``(sentences, split, files, carved)`` of a tagged corpus, read (and carved) as the treebank stage does."""
    from nlp_pipeline.data import load_spec, load_tagged, read_conllu, resolve_file, tagged_split_files

    path = Path(source).expanduser() if _is_path(source) else None
    if path is not None and path.is_file() and split is None:
        return list(read_conllu(path)), None, [str(path)], None
    fractions = (settings_["dev_fraction"], settings_["test_fraction"], settings_["seed"])
    splits = load_tagged(path if path is not None else source, data_dir, *fractions)
    split = _pick_split(splits, split, source)
    if path is not None:
        own = tagged_split_files(path)
    else:
        spec = load_spec(str(source))
        own = {f.split or "train": resolve_file(spec, f.name, data_dir) for f in spec.files}
    files = [str(own.get(split, own["train"]))]  # a carved split comes from train
    carved = None if split in own else {"from": "train", "fraction": settings_[f"{split}_fraction"],
                                        "seed": settings_["seed"]}
    return splits[split], split, files, carved


def _evaluate_tagger(trained: TrainedModel, source: str | Path, split: str | None, cache_dir: Any,
                     data_dir: Any, device: str, log: Callable[[str], None]) -> EvaluationResult:
    from nlp_pipeline.data import check_tags
    from nlp_pipeline.errors import read_json
    from nlp_pipeline.inference.tagger import TaggerPredictor, predict_tags
    from nlp_pipeline.models.model_io import CONFIG_FILE
    from nlp_pipeline.stages.artifact_files import read_treebank_split
    from nlp_pipeline.training.metrics import tagging_metrics

    tagset = read_json(trained.path / CONFIG_FILE, "model config").get("tagset", "upos")
    treebank = trained.upstream("treebank", cache_dir)
    defaults = {name: settings.default_of(settings.Split, name) for name in ("dev_fraction", "test_fraction", "seed")}
    sentences, split, files, carved = _tagged_sentences(source, split, _split_settings(treebank, defaults), data_dir)
    _note_default_carving(treebank, carved, "treebank", log)
    if not sentences:
        raise DataError("no sentences to evaluate", path=files[0] if files else source)
    check_tags({split or "all": sentences}, tagset)
    tagger = TaggerPredictor.load(trained.path, device=device)
    for s in sentences:  # a tag the model cannot predict, at its word's line
        for i, t in enumerate(getattr(s, tagset)):
            if t not in tagger.encoder.tag_index:
                raise DataError(f"tag {excerpt(t)!r} is not one the model knows ({', '.join(tagger.tags)})",
                                path=s.source, line=s.word_lines[i] if s.word_lines else s.line)
    words = [s.words for s in sentences]
    gold = [getattr(s, tagset) for s in sentences]
    # As the evaluate_tagger stage: the treebank's words, encoded with the model's vocabularies (an unknown tag
    # is a DataError at its sentence's file:line), decoded in the same batches.
    encoded = tagger.encoder.encode(words, gold, [f"{s.source}:{s.line}" for s in sentences])
    predicted = [[tagger.tags[i] for i in row]
                 for row in predict_tags(tagger.model, encoded, tagger.batch_size, tagger.device)]
    if treebank is not None:
        known = {w for s in read_treebank_split(treebank, "train", tagset)[0] for w in s}
        basis = "training split"
    else:
        stoi = tagger.encoder.vocab.stoi
        known = {w for s in words for w in s if tagger.encoder.word_key(w) in stoi}
        basis = "model vocabulary"
        log("  the model's treebank artifact is not in the cache: unseen words are those its vocabulary lacks")
    metrics = tagging_metrics(gold, predicted, words, known, tagger.tags)
    seen_right = sum(g == p for ws, gs, ps in zip(words, gold, predicted) for w, g, p in zip(ws, gs, ps)
                     if w in known)
    seen_tokens = metrics["tokens"] - metrics["unseen_tokens"]
    return EvaluationResult(
        model=str(trained.path), kind="tagger", model_key=trained.key, corpus=str(source), split=split,
        files=[str(f) for f in files], carved=carved, examples=len(sentences), **_report_fields(metrics, tagger.tags),
        tokens=metrics["tokens"], unseen_tokens=metrics["unseen_tokens"], unseen_accuracy=metrics["unseen_accuracy"],
        seen_tokens=seen_tokens, seen_accuracy=seen_right / seen_tokens if seen_tokens else None, unseen_basis=basis)
