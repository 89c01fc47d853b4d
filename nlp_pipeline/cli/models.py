"""Use trained models: `predict`, `tag`, `generate`, `perplexity`."""

from __future__ import annotations

import json

import click

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
