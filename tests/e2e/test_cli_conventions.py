"""The CLI speaks one vocabulary: defaults in every --help, one meaning per flag, --json wherever there is a
result, the model first, checked --stage, and old spellings that still work with a warning."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import click
import pytest
from cli_helpers import invoke

from nlp_pipeline.cli import main
from nlp_pipeline.cli.reference import command_help, leaf_commands, reference_markdown
from nlp_pipeline.errors import MAX_MESSAGE, PipelineError

COMMANDS = leaf_commands(main)
NO_JSON = {("config", "schema")}  # prints JSON Schema, nothing else
MODEL_FIRST = {("predict",), ("tag",), ("generate",), ("perplexity",), ("process",), ("evaluate", "model"),
               ("export", "model")}


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def test_every_command_is_listed_and_every_help_shows_its_defaults():
    assert len(COMMANDS) >= 19
    for words, command in COMMANDS:
        text = command_help(main, words)
        ctx = click.Context(command, show_default=True)
        for option in _options(command):
            default = option.get_default(ctx, call=False)
            unset = default is None or type(default).__name__ == "Sentinel"  # click's UNSET: no default given
            if option.is_flag or unset or default in ((), False) or option.name == "help":
                continue
            record = option.get_help_record(ctx)
            assert record and "[default: " in record[1], (words, option.name)
            assert "[default: " in text, words


def test_no_flag_has_two_meanings_across_commands():
    meaning: dict[str, set[str]] = defaultdict(set)
    for _, command in COMMANDS:
        for option in _options(command):
            for flag in option.opts + option.secondary_opts:
                meaning[flag].add(option.name)
    doubled = {flag: names for flag, names in meaning.items() if len(names) > 1}
    assert not doubled
    assert meaning["-n"] == {"topn"} and meaning["-o"] == {"output"} and meaning["-v"] == {"vectors"}
    # --force only ever overwrites an output; --format is only ever an output format.
    for words, command in COMMANDS:
        for option in _options(command):
            if "--force" in option.opts:
                assert "overwrite" in option.help.lower(), words
            if "--format" in option.opts:
                assert words[0] in ("tag", "export", "evaluate"), words


def test_every_command_with_a_result_has_json_and_a_cache_dir_has_help():
    for words, command in COMMANDS:
        flags = {f for o in _options(command) for f in o.opts}
        if words not in NO_JSON:
            assert "--json" in flags, words
        for option in _options(command):
            if "--cache-dir" in option.opts:
                assert option.help and "Artifact cache" in option.help, words


def test_a_model_is_the_first_argument():
    found = {words for words, _ in COMMANDS}
    for words in MODEL_FIRST & found:
        command = dict(COMMANDS)[words]
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        assert arguments and arguments[0].name == "model", words
    assert {("predict",), ("tag",), ("generate",), ("process",)} <= found


def test_stage_is_a_checked_choice(tmp_path):
    result = invoke("cache", "ls", "--stage", "nonsense", "--cache-dir", tmp_path, ok=False)
    assert result.exit_code == 2 and "'nonsense' is not one of" in result.stderr and "train_tagger" in result.stderr
    assert invoke("cache", "ls", "--stage", "train", "--cache-dir", tmp_path, "--json").exit_code == 0


def test_old_spellings_work_for_one_release_with_one_warning(tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("a good film\nand a bad one\n", encoding="utf-8")
    old = invoke("process", texts, "--task", "tokenize", "--out", tmp_path / "old", "-q")
    new = invoke("process", "tokenize", texts, "-o", tmp_path / "new", "-q")
    warnings = [line for line in old.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and "process MODEL INPUTS" in warnings[0] and "-o/--output" in warnings[1]
    assert not new.stderr.strip()
    shard = "t.jsonl"
    assert (tmp_path / "old" / shard).read_text() == (tmp_path / "new" / shard).read_text()


def test_the_cli_reference_page_is_rendered_from_the_commands():
    """So the page cannot drift from `--help` (regenerate: `make docs-cli`)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
    assert page.read_text(encoding="utf-8") == reference_markdown(), "docs/cli.md is stale: `make docs-cli`"


@pytest.mark.parametrize("length", [MAX_MESSAGE + 1, 5_000])
def test_a_long_error_keeps_its_end_and_counts_what_it_left_out(length):
    advice = "; valid labels: neg, pos; fix the line or set data.labels"
    message = "unknown label " + "x" * (length - len(advice) - 14) + advice
    text = str(PipelineError(message))
    assert len(text) <= MAX_MESSAGE and text.endswith(advice)
    dropped = int(re.search(r"\[…([\d,]+) characters left out…\]", text).group(1).replace(",", ""))
    head, tail = text.split(" […")[0], text.split("left out…] ")[1]
    assert len(head) + dropped + len(tail) == len(message)


def test_a_deprecated_run_flag_warns_in_a_fresh_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "run", "sentiment", "--force", "--dry-run",
                           "--corpus", "pang_lee_polarity", "--set", "data.text=[lee_background]",
                           "--cache-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[0] == ("warning: run --force is deprecated and goes in the next release; "
                                                   "use --rebuild")
