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


def model_options(fn):
    """The options every command that runs a trained model shares: --cache-dir and --device."""
    fn = click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto", show_default=True,
                      help="Where the model runs (auto: CUDA when present).")(fn)
    return click.option("--cache-dir", type=click.Path(file_okay=False))(fn)


def _log(quiet: bool):
    """Where a command's progress lines go: stderr, or nowhere with --quiet."""
    return (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def _load(cls, model: str, cache_dir: str | None, device: str, stage: str = "train"):
    """``cls.load`` (a predictor or language model) of the model MODEL names, on ``device``."""
    from nlp_pipeline.pipelines.artifacts import resolve_model

    return cls.load(resolve_model(model, cache_dir, stage=stage), device=device)



@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

