"""What every command shares: the root group, the command groups, error handling and input helpers.

A `PipelineError` (bad file, bad option, missing corpus) becomes one line on stderr and exit code 2; no
traceback. Commands live in the sibling modules, one per kind of work, each a few lines over the public API.
"""

from __future__ import annotations

import functools
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


def file_option(help: str, **kwargs):
    """``--file``/``-f``: a file to read ('-' = stdin)."""
    return click.option("--file", "-f", "file", type=click.Path(dir_okay=False, allow_dash=True), help=help, **kwargs)


CACHE_HELP = "Artifact cache (default ~/.cache/nlp-pipeline, or $NLP_PIPELINE_CACHE_DIR)."


def cache_dir_option(fn):
    """``--cache-dir``: the same option, with the same help, on every command that reads the cache."""
    return click.option("--cache-dir", type=click.Path(file_okay=False), help=CACHE_HELP)(fn)


def json_option(help: str = "Print the result as JSON on stdout (progress and warnings go to stderr)."):
    """``--json``: every command with a result can print it as JSON."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def output_option(help: str, *, folder: bool = False, deprecated: str | None = None):
    """``-o/--output``: where a command writes, the same flag everywhere. ``deprecated`` names the old
    spelling (``--out``), still accepted for one release with a warning; `output_value` merges the two."""

    def decorate(fn):
        kind = click.Path(file_okay=not folder)
        if deprecated:
            fn = click.option(deprecated, "deprecated_output", type=kind, hidden=True)(fn)
        return click.option("--output", "-o", "output", type=kind, help=help)(fn)

    return decorate


def output_value(output: str | None, deprecated_output: str | None, old: str = "--out") -> str:
    """The ``-o/--output`` a command was given (or its old spelling, with a warning); required."""
    if deprecated_output is not None:
        deprecated(old, "-o/--output")
        output = output or deprecated_output
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    return output


def deprecated(old: str, new: str) -> None:
    """One warning line for a spelling that still works in this release and goes in the next."""
    click.echo(f"warning: {old} is deprecated and goes in the next release; use {new}", err=True)


def model_options(fn):
    """The options every command that runs a trained model shares: --cache-dir and --device."""
    fn = click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto",
                      help="Where the model runs (auto: CUDA when present).")(fn)
    return cache_dir_option(fn)


class LazyChoice(click.Choice):
    """A checked choice whose values are found when first needed (in --help or when parsing), so that
    listing them does not slow every command down by importing what defines them."""

    def __init__(self, load) -> None:
        self._load = load
        super().__init__((), case_sensitive=True)

    @property
    def choices(self):
        return tuple(self._load())

    @choices.setter
    def choices(self, value) -> None:
        pass


def stage_names() -> list[str]:
    from nlp_pipeline.pipelines.registry import stages

    return sorted(stages())


def stage_option(help: str):
    """``--stage``: one of the stages some pipeline uses; anything else is a usage error listing them."""
    return click.option("--stage", type=LazyChoice(stage_names), help=help)


def _log(quiet: bool):
    """Where a command's progress lines go: stderr, or nowhere with --quiet."""
    return (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def _load(cls, model: str, cache_dir: str | None, device: str, stage: str = "train"):
    """``cls.load`` (a predictor or language model) of the model MODEL names, on ``device``."""
    from nlp_pipeline.pipelines.artifacts import resolve_model

    return cls.load(resolve_model(model, cache_dir, stage=stage), device=device)



# Every option's default is shown in --help, in every command (the setting is inherited by subcommands).
@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="nlp-pipeline")
def main() -> None:
    """From a raw text corpus to word2vec vectors and RNN/LSTM/BiLSTM models, one cached stage at a time."""


@main.group()
def evaluate() -> None:
    """Evaluate trained artifacts."""


@main.group()
def export() -> None:
    """Export trained artifacts in formats other tools read."""


def _numbered_lines(file: str, *, keep_bad: bool = False):
    """`iter_input_lines` of a file, or of stdin for ``-`` (click's stream, so tests can feed it)."""
    from nlp_pipeline.data.readers import iter_input_lines

    return iter_input_lines(file, stdin=click.get_binary_stream("stdin"), keep_bad=keep_bad)


def _text_inputs(texts: tuple[str, ...], file: str | None) -> list[str]:
    """TEXT arguments plus the non-blank lines of --file (``-``: stdin); bytes that are not UTF-8 are an error."""
    from nlp_pipeline.errors import DataError

    items = []
    for n, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # the shell passed bytes that are not UTF-8 (kept as surrogates)
            raise DataError(f"TEXT argument {n} is not valid UTF-8; pass UTF-8 text or use --file") from None
        items.append(text)
    if file:
        items += [line for _, line in _numbered_lines(file) if line.strip()]
    if not items:
        raise click.UsageError("give TEXTS or --file")
    return items

