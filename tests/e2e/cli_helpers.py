"""What the CLI tests share: a command run in this process, the JSON it prints, a tagger on given vectors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nlp_pipeline.cli import main


def invoke(*args, input: str | None = None, ok: bool = True):
    """``nlp-pipeline ARGS`` in this process (each argument as a string); with ``ok`` it must exit 0."""
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def stdout_json(result) -> dict:
    """The JSON object a command printed on stdout (after any lines before it)."""
    return json.loads(result.stdout[result.stdout.index("{"):])


def stage_runs(result: dict) -> list[dict[str, dict]]:
    """Each variant's stage runs by stage name, from a `run --json` result."""
    return [{r["stage"]: r for r in v["stage_runs"]} for v in result["variants"]]


def tagger_on_vectors(vectors: str, treebank: Path, cache: Path, reports: Path):
    """A one-epoch `run tagging` on ``embed.vectors=VECTORS``: ``(result, {stage: run})``; the vectors are
    imported, never trained."""
    result = invoke("run", "tagging", "--corpus", treebank, "--set", f"embed.vectors={vectors}",
                    "--set", "model.hidden_size=8", "--set", "model.char_hidden=8", "--set", "train.epochs=1",
                    "--cache-dir", cache, "--report-dir", reports, "--json")
    runs = stage_runs(stdout_json(result))[0]
    assert list(runs) == ["treebank", "import_vectors", "train_tagger", "evaluate_tagger"]
    return result, runs


def report_variant(stdout: str, variant: str, files: tuple[str, ...]) -> Path:
    """The report folder a `run` names on its last line (``report: PATH``), checking that its ``variant``
    folder holds each of ``files``, none of them empty."""
    report = Path(stdout.strip().splitlines()[-1].split("report: ", 1)[1])
    for name in files:
        assert (report / variant / name).stat().st_size > 0, name
    return report
