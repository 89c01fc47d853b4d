"""`run` a pipeline (or plan it with --dry-run) and `info` on this machine."""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import _log, cache_dir_option, deprecated, json_option, main, user_errors

RUN_HELP = """Run a pipeline and print its results table.

PIPELINE is one of: {names} (default: sentiment), or a pipeline YAML file of your own:
`nlp-pipeline config init sentiment my.yaml` writes one with every setting commented, to edit, then
`nlp-pipeline run my.yaml`. `nlp-pipeline config show PIPELINE` lists the settings --set can change.
"""


def _run_help() -> str:
    from nlp_pipeline.config import pipeline_names

    return RUN_HELP.format(names=", ".join(pipeline_names()))


@main.command(help=_run_help())
@click.argument("pipeline", default="sentiment")
@click.option("--corpus", multiple=True, help="Corpus name (sst2, imdb, mr, …) or a path to your own labelled file "
              "or folder; for `run embeddings`, text sources (a corpus, corpus:split, files, folders, globs), "
              "repeatable.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set model.encoder=lstm (repeatable).")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Run every combination, e.g. --grid model.encoder=rnn,lstm,bilstm (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder mirroring the corpora (else "
              "$NLP_PIPELINE_DATA_DIR, then ../shared/corpora, then the user cache).")
@cache_dir_option
@click.option("--report-dir", type=click.Path(file_okay=False), help="Where report folders go (default: reports).")
@click.option("--device", metavar="auto|cpu|cuda|cuda:N",
              help="Training device (default auto: CUDA when present); checked before any stage runs.")
@click.option("--rebuild", is_flag=True, help="Rebuild every stage even when cached.")
@click.option("--force", "old_force", is_flag=True, hidden=True)  # before 0.2; --force now only overwrites outputs
@click.option("--dry-run", is_flag=True, help="Say, for each stage, whether it is cached or to build, and which "
              "downloads the run needs; build and download nothing.")
@json_option()
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or stage logs.")
@click.option("--nproc", type=int, default=1, metavar="N",
              help="Train with N processes on this machine (DistributedDataParallel: gloo on the CPU, NCCL on "
              "CUDA with one GPU each). The batch size stays the global batch, split among them; the other "
              "stages run once. Under torchrun leave it at 1: the launcher's processes are used.")
@user_errors
def run(pipeline, corpus, overrides, grid, data_dir, cache_dir, report_dir, device, rebuild, old_force, dry_run,
        as_json, quiet, nproc):
    from nlp_pipeline.config import corpus_key, pipeline_type, takes_several_corpora
    from nlp_pipeline.errors import ConfigError
    from nlp_pipeline.pipelines import run_pipeline
    from nlp_pipeline.training.distributed import launched

    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    if nproc > 1 and launched() is not None:
        raise ConfigError("--nproc starts processes itself; under torchrun (RANK and WORLD_SIZE are set) leave it "
                          "out: the launcher's processes train together")

    if old_force:
        deprecated("run --force", "--rebuild")
    force = rebuild or old_force
    sets = list(overrides)
    kind = pipeline_type(pipeline)
    # Paths are quoted (a JSON string is a YAML string) so "2024" or "a: b.tsv" stay strings.
    if corpus:
        takes_list = takes_several_corpora(kind)
        if len(corpus) > 1 and not takes_list:
            raise ConfigError(f"--corpus: the {kind} pipeline takes one corpus, got {len(corpus)}")
        sets.insert(0, f"{corpus_key(kind)}={json.dumps(list(corpus) if takes_list else corpus[0])}")
    if data_dir:
        sets.insert(0, f"data.data_dir={json.dumps(data_dir)}")
    if device:
        sets.append(f"runtime.device={json.dumps(device)}")
    if dry_run:
        from nlp_pipeline.pipelines.runner import dry_run as plan_run

        plans = plan_run(pipeline, sets, list(grid), cache_dir=cache_dir, processes=nproc if nproc > 1 else None)
        text = json.dumps({"variants": plans}, indent=2) if as_json else "\n".join(_dry_run_lines(plans))
        click.echo(text)
        return
    if nproc > 1:
        _launch(pipeline, sets, grid, nproc)
        return
    log = _log(quiet)
    result = run_pipeline(pipeline, sets, list(grid), cache_dir=cache_dir, report_dir=report_dir,
                          force=force, progress=not quiet, log=log)
    if (launch := launched()) is not None and launch.rank > 0:
        return  # rank 0 prints the run's results
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo("")
    click.echo(result.table())
    click.echo("\n" + "\n".join(result.closing_lines()))


def _launch(pipeline: str, sets: list[str], grid: tuple[str, ...], nproc: int) -> None:
    """This very command again, as ``nproc`` processes of one run (without --nproc, with the variables
    torchrun sets); their output is the run's, and so is their exit code."""
    import sys

    from nlp_pipeline.pipelines.runner import check_nproc
    from nlp_pipeline.training.distributed import launch

    check_nproc(pipeline, sets, list(grid), nproc)  # one line here, not one per process
    ctx = click.get_current_context()
    args = ["run"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name == "nproc" or getattr(param, "hidden", False) or value is None or value is False or value == ():
            continue
        if isinstance(param, click.Argument):
            args.append(str(value))
        elif param.is_flag:
            args.append(param.opts[0])
        else:
            for item in value if param.multiple else (value,):
                args += [param.opts[0], str(item)]
    if ctx.params.get("old_force") and not ctx.params.get("rebuild"):
        args.append("--rebuild")  # said once, here
    code = launch([sys.executable, "-m", "nlp_pipeline.cli", *args], nproc,
                  followers=lambda rank, text: click.echo(text.decode(errors="replace"), err=True, nl=False))
    if code:
        sys.exit(code)


def _dry_run_lines(plans: list[dict]) -> list[str]:
    from nlp_pipeline.engine import short_key

    lines = []
    for plan in plans:
        if len(plans) > 1:
            lines.append(f"── variant {plan['variant']}")
        lines += [f"needs a download first: {url}" for url in plan["downloads"]]
        for s in plan["stages"]:
            key = f"[{short_key(s['key'])}]" if s["key"] else "[key after the download]"
            lines.append(f"{s['stage']:<16} {key:<24} {s['status']}")
    return lines


@main.command()
@cache_dir_option
@click.option("--data-dir", type=click.Path(file_okay=False), help="A folder mirroring the corpora, as in `run`.")
@json_option()
@user_errors
def info(cache_dir, data_dir, as_json):
    """Versions, device and CUDA, the word2vec kernel, the cache and data folders, and which corpora
    are on this machine (nothing is built, downloaded or hashed)."""
    from nlp_pipeline.info import info_lines, system_info

    found = system_info(cache_dir, data_dir)
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(info_lines(found)))
