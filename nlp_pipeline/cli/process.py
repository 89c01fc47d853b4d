"""`process`: a task over corpora larger than memory, locally or on Dask."""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import (
    _log,
    cache_dir_option,
    deprecated,
    json_option,
    main,
    output_option,
    output_value,
    user_errors,
)

PROCESS_HELP = """Run a model over every document of INPUTS (files, folders, globs; text, JSONL, CSV, gzipped or not).

MODEL is a classifier (labels and probabilities), a tagger (part-of-speech tags), or the word `tokenize`
(spaCy tokens, no model): a model folder, a key prefix of one in the cache, or 'latest' (the newer of the
last classifier and the last tagger; --task picks one).
Streams, uses every core, and resumes: rerun the same command after a crash and finished shards are
skipped. Bad records go to OUTPUT/errors.jsonl with their file and line; they fail the run only with --strict.
"""


@main.command(help=PROCESS_HELP)
@click.argument("model")
@click.argument("inputs", nargs=-1)
@output_option("Output folder: one JSONL shard per input shard, errors.jsonl, summary.json.", folder=True,
               deprecated="--out")
@click.option("--task", type=click.Choice(["tokenize", "sentiment", "tagging"]),
              help="Look for MODEL among this task's models only (default: what MODEL's folder says it is).")
@click.option("--model", "old_model", metavar="REF", hidden=True)  # before 0.2: MODEL is now the first argument
@click.option("--workers", type=click.IntRange(min=1), help="Parallel workers (default: the number of cores).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", help="Where the workers run.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster).")
@click.option("--input-format", "input_format", type=click.Choice(["auto", "text", "jsonl", "csv"]), default="auto",
              help="Input format; auto: by suffix (.jsonl/.ndjson/.json, .csv/.tsv, else text).")
@click.option("--format", "old_format", type=click.Choice(["auto", "text", "jsonl", "csv"]), hidden=True)
@click.option("--text-field", default="text", help="JSON lines: the field holding the text.")
@click.option("--id-field", help="JSON lines field or CSV column holding the record id (default: FILE:LINE).")
@click.option("--text-column", default=None, help="CSV/TSV: the column holding the text (default: the first of text, "
              "sentence, review, content, ... in the header).")
@click.option("--lowercase/--no-lowercase", default=None, help="tokenize: fold case (default: yes, as the pipelines).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, help="Texts per model call.")
@click.option("--split-mb", type=click.IntRange(min=0), default=64,
              help="Cut uncompressed text/JSONL inputs larger than this into parts that workers share (0: never).")
@click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto",
              help="Torch device of each worker (auto: CUDA where the worker has it).")
@click.option("--threads-per-worker", type=click.IntRange(min=0), default=1,
              help="Torch threads per worker (0: torch's default, every core).")
@cache_dir_option
@click.option("--strict", is_flag=True, help="Exit non-zero if any record or input was rejected.")
@click.option("--force", is_flag=True, help="Overwrite: redo the shards a previous run finished into OUTPUT.")
@json_option("Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def process(model, inputs, output, deprecated_output, task, old_model, workers, engine, scheduler, input_format,
            old_format, text_field, id_field, text_column, lowercase, batch_size, split_mb, device, threads_per_worker,
            cache_dir, strict, force, as_json, quiet):
    from nlp_pipeline.batch import RejectedRecordsError
    from nlp_pipeline.batch import process as run_process
    from nlp_pipeline.batch.runner import model_task

    inputs = list(inputs)
    if old_model is not None or (task == "tokenize" and model != "tokenize"):  # the form before 0.2
        deprecated("process INPUTS --task T --model REF", "process MODEL INPUTS (MODEL: a model, or tokenize)")
        inputs.insert(0, model)
        model = old_model if old_model is not None else "tokenize"
    if old_format is not None:
        deprecated("process --format", "--input-format")
        input_format = old_format
    if not inputs:
        raise click.UsageError("give MODEL and at least one input (file, folder or glob)")
    output = output_value(output, deprecated_output)
    task, model = model_task(model, task, cache_dir)
    log = _log(quiet)
    try:
        summary = run_process(inputs, task, output, model=model, workers=workers, engine=engine,
                              scheduler=scheduler, strict=strict, force=force, input_format=input_format,
                              text_field=text_field, id_field=id_field, text_column=text_column, lowercase=lowercase,
                              batch_size=batch_size, split_mb=split_mb, device=device,
                              threads_per_worker=threads_per_worker or None, cache_dir=cache_dir,
                              progress=not quiet, log=log)
    except RejectedRecordsError as err:
        click.echo("\n".join(err.summary.lines()), err=True)
        raise
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else "\n".join(summary.lines()))
