"""`nlp-pipeline process` through the real CLI: summary, exit codes, --strict, user errors as one line."""

from __future__ import annotations

import inspect

import pytest
from batch_helpers import make_docs, read_jsonl, write_text
from click.testing import CliRunner

from nlp_pipeline.cli import main


def _invoke(*args):
    return CliRunner().invoke(main, ["process", *map(str, args)])


@pytest.mark.e2e  # a pool of two spawned worker processes
def test_messy_folder_in_two_worker_processes_exits_0_and_nonzero_with_strict(messy_folder, tmp_path):
    out = tmp_path / "out"
    result = _invoke("tokenize", messy_folder, "-o", out, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "shards: 5 (3 done, 0 skipped as finished, 2 failed)" in result.stdout
    assert "12 read = 7 written + 5 rejected" in result.stdout
    assert f"errors: {out / 'errors.jsonl'}" in result.stdout
    errors = read_jsonl(out / "errors.jsonl")
    assert len(errors) == 7 and {e["shard"] for e in errors} == {"a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl", "e.jsonl"}
    strict = _invoke("tokenize", messy_folder, "-o", out, "--workers", "2", "--strict", "-q")
    assert strict.exit_code == 2
    assert strict.stderr.strip().splitlines()[-1].startswith("error: 5 record(s) rejected and 2 input shard(s)")
    assert "3 skipped as finished" in strict.stderr  # the summary is still printed


def test_clean_input_with_strict_exits_0_and_json_summary(tmp_path):
    write_text(tmp_path / "a.txt", make_docs(20))
    result = _invoke("tokenize", tmp_path / "a.txt", "-o", tmp_path / "out", "--workers", "1",
                     "--strict", "--json", "-q")
    assert result.exit_code == 0, result.output
    assert '"written": 20' in result.stdout and '"rejected": 0' in result.stdout


def test_user_errors_are_one_line_and_exit_2(tmp_path):
    write_text(tmp_path / "a.txt", ["x"])
    out = tmp_path / "out"
    cases = [
        (["tokenize", tmp_path / "missing.txt", "-o", out], "file not found"),
        (["tokenize", tmp_path / "*.csv", "-o", out], "no file matches"),
        (["latest", tmp_path / "a.txt", "-o", out, "--cache-dir", tmp_path / "c"], "no classifier or tagger"),
        (["tokenize", tmp_path / "a.txt", "-o", out, "--scheduler", "tcp://h:1"], "needs --engine dask"),
        ([tmp_path / "none", tmp_path / "a.txt", "--task", "sentiment", "-o", out], "neither a model"),
        ([tmp_path / "none", tmp_path / "a.txt", "-o", out], "model folder not found"),
    ]
    for args, message in cases:
        result = _invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert _invoke("tokenize", tmp_path / "a.txt", "-o", tmp_path / "a.txt").exit_code == 2  # click's


def test_tagging_task_is_wired_to_the_tagger(tmp_path):
    from nlp_pipeline.pipelines import artifacts

    write_text(tmp_path / "a.txt", ["x"])
    result = _invoke(tmp_path / "no-model", tmp_path / "a.txt", "--task", "tagging", "-o", tmp_path / "o")
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    if "stage" not in inspect.signature(artifacts.resolve_model).parameters:
        assert "tagging model support not available" in result.stderr
