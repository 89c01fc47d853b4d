"""Use trained models: `predict`, `tag`, `generate`, `perplexity`; `evaluate model` and `export model`."""

from __future__ import annotations

import functools
import json

import click

from nlp_pipeline.cli import common
from nlp_pipeline.cli.common import (
    _load,
    _numbered_lines,
    _text_inputs,
    deprecated,
    file_option,
    json_option,
    main,
    model_options,
    user_errors,
)
from nlp_pipeline.engine import short_key


@main.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@file_option("Predict every non-blank line of this file ('-' = stdin).")
@model_options
@json_option("JSON lines output, one per text.")
@user_errors
def predict(model, texts, file, cache_dir, device, as_json):
    """Label TEXTS (or the lines of --file) with a trained classifier.

    MODEL is a model folder, a train-artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.classifier import Predictor

    device = resolve_device(device)  # once, before anything is read
    items = _text_inputs(texts, file)
    predictor = _load(Predictor, model, cache_dir, device)
    for pred in predictor.predict(items):
        if as_json:
            click.echo(json.dumps(pred, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.3f}" for k, v in pred["probabilities"].items())
            click.echo(f"{pred['label']}\t{probs}\t{pred['text']}")


@main.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@file_option("Tag every non-blank line of this file ('-' = stdin).")
@click.option("--tokenized", is_flag=True, help="Input is already tokenized: split on whitespace only.")
@click.option("--format", "fmt", type=click.Choice(["columns", "inline", "json"]), default="columns",
              help="columns: token<TAB>tag lines, a blank line between texts; inline: "
              "token/TAG ...; json: one JSON line per text.")
@model_options
@json_option("JSON lines output, one per text (the same as --format json).")
@user_errors
def tag(model, texts, file, tokenized, fmt, cache_dir, device, as_json):
    """Tag each token of TEXTS (or the lines of --file) with a trained part-of-speech tagger.

    MODEL is a tagger folder, a train_tagger artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.tagger import TaggerPredictor

    device = resolve_device(device)  # once, before anything is read
    fmt = "json" if as_json else fmt
    items = _text_inputs(texts, file)
    tagger = _load(TaggerPredictor, model, cache_dir, device, stage="train_tagger")
    if tokenized:
        token_lists = [line.split() for line in items]
        results = [{"text": t, "tokens": w, "tags": g}
                   for t, w, g in zip(items, token_lists, tagger.tag_tokens(token_lists))]
    else:
        results = tagger.tag(items)
    for n, result in enumerate(results):
        if fmt == "json":
            click.echo(json.dumps(result, ensure_ascii=False))
        elif fmt == "inline":
            click.echo(" ".join(f"{w}/{g}" for w, g in zip(result["tokens"], result["tags"])))
        else:
            click.echo(("\n" if n else "") + "\n".join(f"{w}\t{g}" for w, g in zip(result["tokens"], result["tags"])))


@main.command()
@click.argument("model")
@click.option("--prompt", "-p", default="",
              help="Text to continue (a backward model: the text's end, which it precedes).")
@click.option("--max-tokens", type=int, default=50, help="The most words to add.")
@click.option("-n", "old_max_tokens", type=int, hidden=True)  # before 0.2; -n is --topn in the queries
@click.option("--temperature", "-t", type=float, default=1.0,
              help="Below 1: safer words; 0: always the most likely word.")
@click.option("--top-k", type=int, default=0, help="Sample among the k most likely words; 0 = all.")
@click.option("--top-p", type=float, default=1.0,
              help="Sample among the fewest words holding this much probability (nucleus sampling).")
@click.option("--seed", type=int, help="Same seed, same text (default: a new one each time).")
@click.option("--samples", type=click.IntRange(min=1), default=1,
              help="How many texts (seeds seed, seed+1, ...).")
@model_options
@json_option("JSON lines output, one per sample.")
@user_errors
def generate(model, prompt, max_tokens, old_max_tokens, temperature, top_k, top_p, seed, samples, cache_dir, device,
             as_json):
    """Generate text with a trained language model.

    MODEL is a language-model folder, a train_lm artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.language_model import LanguageModel, check_sampling

    if old_max_tokens is not None:
        deprecated("-n", "--max-tokens")
        max_tokens = old_max_tokens
    check_sampling(max_tokens, temperature, top_k, top_p)  # before the model is read
    lm = _load(LanguageModel, model, cache_dir, resolve_device(device), stage="train_lm")
    for i in range(samples):
        out = lm.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                          seed=None if seed is None else seed + i)
        click.echo(json.dumps(out, ensure_ascii=False) if as_json else out["text"])


@main.command()
@click.argument("model")
@file_option("Text to score, one document a line, gzip too ('-' = stdin); streamed, any size.", required=True)
@model_options
@json_option()
@user_errors
def perplexity(model, file, cache_dir, device, as_json):
    """Perplexity of a trained language model on the lines of --file.

    MODEL is a language-model folder, a train_lm artifact key (prefix), or 'latest'.
    """
    from pathlib import Path

    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.errors import DataError
    from nlp_pipeline.inference.language_model import LanguageModel

    if file != "-" and not Path(file).is_file():  # before the model is read
        raise DataError("file not found", path=file)
    lm = _load(LanguageModel, model, cache_dir, resolve_device(device), stage="train_lm")
    result = lm.perplexity(line for _, line in _numbered_lines(file))
    if as_json:
        click.echo(json.dumps(result))
        return
    if not result["tokens"]:
        click.echo("no text to score (every line is blank)", err=True)
        return
    click.echo(f"perplexity {result['perplexity']:.2f} ({result['direction']}) over {result['tokens']:,} tokens "
               f"in {result['documents']:,} documents; {100 * result['unknown_rate']:.2f}% of the words unknown "
               "to the model")


# -- evaluate model / export model: a classifier or a tagger, the kind read from the model folder --------------

CACHE_DIR_HELP = "Artifact cache (default ~/.cache/nlp-pipeline)."


@common.evaluate.command("model")
@click.argument("model")
@click.option("--corpus", "-c", required=True, metavar="NAME[:SPLIT]|PATH[:SPLIT]", show_default=True,
              help="A registered corpus or your labelled file / folder (CoNLL-U for a tagger). With :SPLIT (train, "
                   "dev, test) that split as the model's run built it; without, a corpus's test split (else dev), "
                   "or every example of a single file.")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              show_default="reports/evaluate/<model>_<corpus>_<split>",
              help="Folder for confusion_matrix.png and metrics.json.")
@click.option("--data-dir", type=click.Path(file_okay=False), show_default=True,
              help="Folder mirroring the corpora, as in `run`.")
@click.option("--cache-dir", type=click.Path(file_okay=False), show_default=True, help=CACHE_DIR_HELP)
@click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto", show_default=True,
              help="Where the model runs (auto: CUDA when present).")
@click.option("--json", "as_json", is_flag=True, show_default=True,
              help="Print everything as one JSON object on stdout.")
@user_errors
def evaluate_model_cmd(model, corpus, output, data_dir, cache_dir, device, as_json):
    """Accuracy, macro-F1, per-class precision / recall / F1 and a confusion matrix of a trained classifier or
    tagger on a labelled corpus (taggers: also on words unseen in training), scored exactly as its run scored
    dev.

    MODEL is a classifier or tagger folder, a train or train_tagger artifact key (prefix), or 'latest' (the
    classifier or tagger of the last run).
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.pipelines.evaluation import default_output_dir, evaluate_model, save_evaluation

    log = functools.partial(click.echo, err=True)  # notes go to stderr, the result to stdout
    result = evaluate_model(model, corpus, cache_dir=cache_dir, data_dir=data_dir, device=resolve_device(device),
                            log=log)
    save_evaluation(result, output or default_output_dir(result))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(_evaluation_text(result))


def _evaluation_text(r) -> str:
    """The result as lines: what was scored, accuracy and macro-F1 (taggers: on unseen and seen words), a
    per-class table; every score in percent, as the run's reports show them."""
    from nlp_pipeline.reports.tables import format_table, percent

    key = f", {'train_tagger' if r.kind == 'tagger' else 'train'} {short_key(r.model_key)}" if r.model_key else ""
    unit = "sentences" if r.kind == "tagger" else "examples"
    how = (f"; carved from {r.carved['from']}, {r.carved['fraction']:.0%}, seed {r.carved['seed']}" if r.carved
           else "")
    lines = [f"model:  {r.model} ({r.kind}{key})",
             f"corpus: {r.corpus}{':' + r.split if r.split else ' (every example)'} ({r.examples:,} {unit}"
             f"{f', {r.tokens:,} tokens' if r.tokens is not None else ''}{how})", "",
             f"accuracy {percent(r.accuracy)}%   macro-F1 {percent(r.macro_f1)}%"]
    if r.kind == "tagger":
        def share(acc, n):
            return f"{'n/a' if acc is None else percent(acc) + '%'} ({n:,} tokens)"
        lines.append(f"unseen words {share(r.unseen_accuracy, r.unseen_tokens)}   seen words "
                     f"{share(r.seen_accuracy, r.seen_tokens)}   (unseen: not in the {r.unseen_basis})")
    rows = [[label, percent(c["precision"]), percent(c["recall"]), percent(c["f1"]), f"{c['support']:,}"]
            for label, c in r.per_class.items()]
    lines += ["", format_table(["tag" if r.kind == "tagger" else "label", "precision", "recall", "F1", "support"],
                               rows), "", f"confusion matrix: {r.confusion_matrix_png}"]
    return "\n".join(lines)


@common.export.command("model")
@click.argument("model")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), show_default=True,
              help="Folder to write; it must not exist (unless --force).")
@click.option("--format", "fmt", type=click.Choice(["native", "onnx"]), default="native", show_default=True,
              help="native: the model folder with its manifest, which predict / tag take as MODEL; onnx: model.onnx, "
                   "model.json (labels, inputs, how to tokenize), the vocabularies and a README.txt.")
@click.option("--force", is_flag=True, show_default=True, help="Overwrite the output folder if it exists.")
@click.option("--cache-dir", type=click.Path(file_okay=False), show_default=True, help=CACHE_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, show_default=True, help="Print the result as one JSON object.")
@user_errors
def export_model_cmd(model, output, fmt, force, cache_dir, as_json):
    """Write a trained classifier or tagger as a self-contained folder (native) or as ONNX.

    MODEL is a classifier or tagger folder, a train or train_tagger artifact key (prefix), or 'latest' (the
    classifier or tagger of the last run).
    """
    from nlp_pipeline.pipelines.export import export_model

    log = functools.partial(click.echo, err=True)  # notes go to stderr, the result to stdout
    result = export_model(model, output, format=fmt, force=force, cache_dir=cache_dir, log=log)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    key = f" [{short_key(result.model_key)}]" if result.model_key else ""
    click.echo(f"{result.kind} {result.model}{key} -> {result.output} ({result.format}): {', '.join(result.files)}")
