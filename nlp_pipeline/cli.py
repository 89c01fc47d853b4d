"""The ``nlp-pipeline`` command: parse options, call the library, print results.

Every command is a few lines over the public API. A `PipelineError` (bad file, bad option, missing
corpus) becomes one line on stderr and exit code 2; no traceback.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from nlp_pipeline.errors import PipelineError

EXIT_USER_ERROR = 2


def user_errors(fn):
    """Turn project errors into ``error: <one line>`` and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PipelineError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted: no partial artifact was kept", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nlp-pipeline")
def main() -> None:
    """From a raw text corpus to word2vec vectors and RNN/LSTM/BiLSTM models, one cached stage at a time."""


@main.command()
@click.argument("pipeline", default="sentiment")
@click.option("--corpus", help="Corpus name (sst2, imdb, mr, …) or a path to your own labelled file or folder.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set model.encoder=lstm (repeatable).")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Run every combination, e.g. --grid model.encoder=rnn,lstm,bilstm (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder mirroring the corpora (else "
              "$NLP_PIPELINE_DATA_DIR, then ../shared/corpora, then the user cache).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache (default ~/.cache/nlp-pipeline).")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Where report folders go (default: reports).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Training device (default auto).")
@click.option("--force", is_flag=True, help="Rebuild every stage even when cached.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout (logs go to stderr).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or stage logs.")
@user_errors
def run(pipeline, corpus, overrides, grid, data_dir, cache_dir, report_dir, device, force, as_json, quiet):
    """Run a pipeline (default: sentiment) and print its results table."""
    from nlp_pipeline.pipelines import run_pipeline

    sets = list(overrides)
    # Paths are quoted (a JSON string is a YAML string) so "2024" or "a: b.tsv" stay strings.
    if corpus:
        sets.insert(0, f"data.corpus={json.dumps(corpus)}")
    if data_dir:
        sets.insert(0, f"data.data_dir={json.dumps(data_dir)}")
    if device:
        sets.append(f"train.device={device}")
    log = (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))
    result = run_pipeline(pipeline, sets, list(grid), cache_dir=cache_dir, report_dir=report_dir,
                          force=force, progress=not quiet, log=log)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo("")
    click.echo(result.table())
    n_runs = sum(len(v.stage_runs) for v in result.variants)
    click.echo(f"\n{result.cache_hits}/{n_runs} stages from cache, {result.seconds:.1f}s in all")
    click.echo(f"report: {result.report_dir}")


@main.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False), help="Predict every line of this file.")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
@user_errors
def predict(model, texts, file, cache_dir, device, as_json):
    """Label TEXTS (or the lines of --file) with a trained classifier.

    MODEL is a model folder, a train-artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.models.predict import Predictor
    from nlp_pipeline.pipelines.artifacts import resolve_model

    items = list(texts)
    if file:
        from nlp_pipeline.data.readers import iter_lines

        items += [line for _, line in iter_lines(file) if line.strip()]
    if not items:
        raise click.UsageError("give TEXTS or --file")
    predictor = Predictor.load(resolve_model(model, cache_dir), device=device)
    for pred in predictor.predict(items):
        if as_json:
            click.echo(json.dumps(pred, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.3f}" for k, v in pred["probabilities"].items())
            click.echo(f"{pred['label']}\t{probs}\t{pred['text']}")


@main.group()
def cache() -> None:
    """Inspect or clear the artifact cache."""


@cache.command("ls")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage.")
@user_errors
def cache_ls(cache_dir, stage):
    """List cached artifacts: stage, key, size, age, what they hold."""
    from nlp_pipeline.pipelines.artifacts import list_artifacts

    click.echo(list_artifacts(cache_dir, stage))


@cache.command("clear")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage's artifacts.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@user_errors
def cache_clear(cache_dir, stage, yes):
    """Delete cached artifacts (all, or one stage's)."""
    from nlp_pipeline.engine import ArtifactCache

    store = ArtifactCache(cache_dir)
    what = f"the {stage} artifacts" if stage else "every artifact"
    if not yes and not click.confirm(f"Delete {what} under {store.artifacts_dir}?", default=False):
        return
    n = store.clear(stage)
    click.echo(f"removed {n} artifact(s) from {store.artifacts_dir}")


@main.command("corpora")
@click.option("--data-dir", type=click.Path(file_okay=False))
@user_errors
def corpora(data_dir):
    """List the defined corpora and where each one's files resolve."""
    import os

    from nlp_pipeline.data import list_corpora, load_spec, resolve_file
    from nlp_pipeline.errors import CorpusNotFoundError

    os.environ["NLP_PIPELINE_OFFLINE"] = "1"  # listing must not start downloads
    for name in list_corpora():
        spec = load_spec(name)
        click.echo(f"{name}: {spec.description}")
        for f in spec.files:
            try:
                where = str(resolve_file(spec, f.name, data_dir=data_dir))
            except CorpusNotFoundError:
                where = "not found locally (downloaded on first use)"
            click.echo(f"    {f.name}: {where}")


if __name__ == "__main__":  # pragma: no cover
    main()
