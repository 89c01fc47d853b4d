"""`config show|init|schema`: the settings of a pipeline."""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import json_option, main, user_errors


@main.group()
def config() -> None:
    """Show a pipeline's settings, write a pipeline file to edit, or print its JSON Schema."""


@config.command("show")
@click.argument("pipeline")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key, as in `run`.")
@json_option("A JSON list of the settings, one object per key.")
@user_errors
def config_show(pipeline, overrides, as_json):
    """Every setting of PIPELINE (a name or a YAML file) as `run` would use it: value, meaning, valid
    values, and whether it is in a stage's cache key."""
    from nlp_pipeline.config import describe, load_config

    rows = describe(load_config(pipeline, list(overrides)))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(f"{r['key']}: {json.dumps(r['value'])}") for r in rows)
    for r in rows:
        valid = f" [{r['valid']}]" if r["valid"] else ""
        click.echo(f"{r['key']}: {json.dumps(r['value'])}".ljust(width + 2)
                   + f"# {r['description']}{valid} ({r['cache_key']})")


@config.command("init")
@click.argument("pipeline")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Start from these values.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@json_option()
@user_errors
def config_init(pipeline, file, overrides, force, as_json):
    """Write PIPELINE's settings to FILE, one comment per key, to edit and run with `run FILE`."""
    from nlp_pipeline.config import write_pipeline_file

    path = write_pipeline_file(pipeline, file, list(overrides), overwrite=force)
    if as_json:
        click.echo(json.dumps({"path": str(path), "run": f"nlp-pipeline run {path}"}))
        return
    click.echo(f"wrote {path}: edit it, then `nlp-pipeline run {path}`")


@config.command("schema")
@click.argument("pipeline")
@user_errors
def config_schema(pipeline):
    """Print the JSON Schema of PIPELINE's files (for an editor's YAML language server)."""
    from nlp_pipeline.config import json_schema, pipeline_type

    click.echo(json.dumps(json_schema(pipeline_type(pipeline)), indent=2))
