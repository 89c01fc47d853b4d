"""Helpers of the serve tests: the CLI in this process, its JSON lines, texts of many lengths."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nlp_pipeline.cli import main


def cli(*args, ok: bool = True):
    """``nlp-pipeline ARGS`` in this process; with ``ok`` it must exit 0."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def json_lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def texts_of_many_lengths(lines: list[str], n: int = 24) -> list[str]:
    """Texts of 1 to 200 words, so that a batch pads most of them."""
    sizes = [1, 3, 7, 15, 30, 60, 120, 200, 5, 9, 2, 40]
    return [" ".join(line.split()[:sizes[i % len(sizes)]]) for i, line in enumerate(lines[:n])]

