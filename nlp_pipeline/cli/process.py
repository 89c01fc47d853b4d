"""`process`: a task over corpora larger than memory, locally or on Dask."""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import _log, main, user_errors


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--task", required=True, type=click.Choice(["tokenize", "sentiment", "tagging"]),
              help="tokenize: spaCy tokens; sentiment: label + probabilities (needs --model); tagging: POS tags.")
@click.option("--model", metavar="REF", help="Model folder, key prefix of a train (sentiment) or train_tagger "
              "(tagging) artifact, or 'latest'.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: one JSONL shard per input shard, errors.jsonl, summary.json.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel workers (default: the number of cores).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster).")
@click.option("--format", "input_format", type=click.Choice(["auto", "text", "jsonl", "csv"]), default="auto",
              show_default=True, help="Input format; auto: by suffix (.jsonl/.ndjson/.json, .csv/.tsv, else text).")
@click.option("--text-field", default="text", show_default=True, help="JSON lines: the field holding the text.")
@click.option("--id-field", help="JSON lines field or CSV column holding the record id (default: FILE:LINE).")
@click.option("--text-column", default=None, help="CSV/TSV: the column holding the text (default: the first of text, "
              "sentence, review, content, ... in the header).")
@click.option("--lowercase/--no-lowercase", default=None, help="tokenize: fold case (default: yes, as the pipelines).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, help="Texts per model call.")
@click.option("--split-mb", type=click.IntRange(min=0), default=64, show_default=True,
              help="Cut uncompressed text/JSONL inputs larger than this into parts that workers share (0: never).")
@click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto", show_default=True,
              help="Torch device of each worker (auto: CUDA where the worker has it).")
@click.option("--threads-per-worker", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads per worker (0: torch's default, every core).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache to look for --model in.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any record or input was rejected.")
@click.option("--force", is_flag=True, help="Redo shards a previous run finished.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def process(inputs, task, model, out_dir, workers, engine, scheduler, input_format, text_field, id_field, text_column,
            lowercase, batch_size, split_mb, device, threads_per_worker, cache_dir, strict, force, as_json, quiet):
    """Run TASK over every document of INPUTS (files, folders, globs; text, JSONL, CSV, gzipped or not).

    Streams, uses every core, and resumes: rerun the same command after a crash and finished shards are
    skipped. Bad records go to OUT/errors.jsonl with their file and line; they fail the run only with --strict.
    """
    from nlp_pipeline.batch import RejectedRecordsError
    from nlp_pipeline.batch import process as run_process

    log = _log(quiet)
    try:
        summary = run_process(list(inputs), task, out_dir, model=model, workers=workers, engine=engine,
                              scheduler=scheduler, strict=strict, force=force, input_format=input_format,
                              text_field=text_field, id_field=id_field, text_column=text_column, lowercase=lowercase,
                              batch_size=batch_size, split_mb=split_mb, device=device,
                              threads_per_worker=threads_per_worker or None, cache_dir=cache_dir,
                              progress=not quiet, log=log)
    except RejectedRecordsError as err:
        click.echo("\n".join(err.summary.lines()), err=True)
        raise
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else "\n".join(summary.lines()))
