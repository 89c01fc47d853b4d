"""`cache ls|verify|clear` and `corpora`: what is cached and which corpora this machine has."""

from __future__ import annotations

import sys

import click

from nlp_pipeline.cli.common import main, user_errors


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


@cache.command("verify")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage's artifacts.")
@user_errors
def cache_verify(cache_dir, stage):
    """Check every artifact's files against its manifest (sizes and sha256) and its upstream references.

    Exit code 0 when all are intact, 1 when any is damaged or inconsistent (each named on its own line).
    """
    from nlp_pipeline.pipelines.artifacts import verify_artifacts

    text, bad = verify_artifacts(cache_dir, stage)
    click.echo(text)
    if bad:
        sys.exit(1)


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
