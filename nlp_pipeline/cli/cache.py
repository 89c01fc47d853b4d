"""`cache ls|verify|clear` and `corpora`: what is cached and which corpora this machine has."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from nlp_pipeline.cli.common import cache_dir_option, json_option, main, stage_option, user_errors


@main.group()
def cache() -> None:
    """Inspect or clear the artifact cache."""


@cache.command("ls")
@cache_dir_option
@stage_option("Only this stage's artifacts.")
@json_option()
@user_errors
def cache_ls(cache_dir, stage, as_json):
    """List cached artifacts: stage, key, size, age, what they hold."""
    from nlp_pipeline.pipelines.artifacts import artifact_records, list_artifacts

    if as_json:
        click.echo(json.dumps(artifact_records(cache_dir, stage), indent=2))
        return
    click.echo(list_artifacts(cache_dir, stage))


@cache.command("verify")
@cache_dir_option
@stage_option("Only this stage's artifacts.")
@json_option()
@user_errors
def cache_verify(cache_dir, stage, as_json):
    """Check every artifact's files against its manifest (sizes and sha256) and its upstream references.

    Exit code 0 when all are intact, 1 when any is damaged or inconsistent (each named on its own line).
    """
    from nlp_pipeline.engine import ArtifactCache
    from nlp_pipeline.engine.verify import verify_cache
    from nlp_pipeline.pipelines.artifacts import verify_artifacts

    if as_json:
        verdicts = verify_cache(ArtifactCache(cache_dir), stage)
        click.echo(json.dumps([{**dataclasses.asdict(v), "ok": v.ok} for v in verdicts], indent=2))
        bad = sum(not v.ok for v in verdicts)
    else:
        text, bad = verify_artifacts(cache_dir, stage)
        click.echo(text)
    if bad:
        sys.exit(1)


@cache.command("clear")
@cache_dir_option
@stage_option("Only this stage's artifacts.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@json_option()
@user_errors
def cache_clear(cache_dir, stage, yes, as_json):
    """Delete cached artifacts (all, or one stage's)."""
    from nlp_pipeline.engine import ArtifactCache
    from nlp_pipeline.pipelines.artifacts import clear_cache, cleared_line

    store = ArtifactCache(cache_dir)
    what = f"the {stage} artifacts" if stage else "every artifact"
    if not yes and not click.confirm(f"Delete {what} under {store.artifacts_dir}?", default=False, err=True):
        return
    cleared = clear_cache(cache_dir, stage)
    click.echo(json.dumps(cleared) if as_json else cleared_line(cleared))


@main.command("corpora")
@click.option("--data-dir", type=click.Path(file_okay=False), help="A folder mirroring the corpora, as in `run`.")
@json_option()
@user_errors
def corpora(data_dir, as_json):
    """List the defined corpora and where each one's files resolve (nothing is downloaded)."""
    import os

    from nlp_pipeline.data import list_corpora, load_spec, resolve_file
    from nlp_pipeline.errors import CorpusNotFoundError

    os.environ["NLP_PIPELINE_OFFLINE"] = "1"  # listing must not start downloads
    found = []
    for name in list_corpora():
        spec = load_spec(name)
        files = {}
        for f in spec.files:
            try:
                files[f.name] = str(resolve_file(spec, f.name, data_dir=data_dir))
            except CorpusNotFoundError:
                files[f.name] = None
        found.append({"name": name, "kind": spec.kind, "description": spec.description, "files": files})
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for corpus in found:
        click.echo(f"{corpus['name']}: {corpus['description']}")
        for file, where in corpus["files"].items():
            click.echo(f"    {file}: {where or 'not found locally (downloaded on first use)'}")
