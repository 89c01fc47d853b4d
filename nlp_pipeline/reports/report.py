"""The report folder of a run: ``<base>/<timestamp>/`` with results.json, results.md and a folder per variant.

Safe under concurrency: each run claims its own folder (``mkdir`` fails for the second claimant, which
takes the next suffix), and ``<base>/latest`` is replaced by an atomic rename, only once the folder
is complete, so it never points at a half-written report.

A variant folder holds what its evaluate stage wrote for people (plots, metrics, ``details.md`` with
its links made relative to that folder), never the cache's bookkeeping (manifest, ``.verified.json``).
Every file is created by this process, never copied with its source's mode, so it gets the mode the
umask gives (a 0600 file in the cache does not make a private report).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

from nlp_pipeline.reports.results import PipelineResult
from nlp_pipeline.reports.tables import percent

REPORT_SUFFIXES = (".png", ".json", ".md")
MANIFEST = "manifest.json"
DETAILS = "details.md"  # an evaluate stage's part of results.md; its links read ``{variant}/<file>``
VARIANT = "{variant}"


def for_report(f: Path) -> bool:
    """Whether an evaluate artifact's file belongs in a report: made for people, not the cache's own (the
    manifest, hidden files such as ``.verified.json``), and not ``details.md`` (written filled in)."""
    hidden = f.name.startswith(".")
    return f.is_file() and f.suffix in REPORT_SUFFIXES and not hidden and f.name not in (MANIFEST, DETAILS)


def _claim_folder(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        folder = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a report folder under {base}")


def point_latest(base: Path, folder: Path) -> None:
    """Make ``base/latest`` a symlink to ``folder`` with one atomic rename (best effort where links fail)."""
    tmp = base / f".latest-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        tmp.symlink_to(folder.name)
        os.replace(tmp, base / "latest")
    except OSError:
        tmp.unlink(missing_ok=True)


def write_report(result: PipelineResult, base: Path) -> Path:
    """Write the report of ``result`` under ``base`` and point ``base/latest`` at it; returns the folder.

    A write that fails (a full disk) removes the folder: no half-written report stays behind."""
    folder = _claim_folder(base)
    try:
        _write_folder(result, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    point_latest(base, folder)
    return folder


def _write_folder(result: PipelineResult, folder: Path) -> None:
    for v in result.variants:
        sub = folder / v.name
        sub.mkdir(exist_ok=True)
        evaluate = Path(v.artifacts[v.evaluate_step])
        for f in evaluate.iterdir():
            if for_report(f):
                shutil.copyfile(f, sub / f.name)
        if (evaluate / DETAILS).is_file():  # next to the images it links: their names alone
            text = (evaluate / DETAILS).read_text(encoding="utf-8")
            (sub / DETAILS).write_text(text.replace(f"{VARIANT}/", "").replace(VARIANT, v.name), encoding="utf-8")
        history = Path(v.artifacts[v.train_step]) / "history.json"
        if history.is_file():
            shutil.copyfile(history, sub / "history.json")
        if v.embeddings:
            (sub / "embeddings.json").write_text(json.dumps(v.embeddings, indent=2))
    (folder / "results.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    lines = [f"# {result.pipeline}: results", "", result.table(markdown=True), ""]
    if len(result.variants) > 1:
        lines += [f"Best by {result.best_by}: **{result.best.name}**.", ""]
    if result.model is not None:
        lines += [f"Model: {result.model.stage} `{result.model.prefix}` ({result.model.path}); use it: "
                  f"`{result.model.command}`", ""]
    for v in result.variants:
        details = Path(v.artifacts[v.evaluate_step]) / DETAILS
        if details.is_file():  # the evaluate stage's own section (its image links are relative to its folder)
            text = details.read_text(encoding="utf-8").replace(VARIANT, v.name)
            lines += [f"## {v.name}", "", text.rstrip(), ""]
        elif v.embeddings:
            intr = v.embeddings.get("intrinsic", {})

            def score(name: str, metric: str, intr: dict = intr) -> str:
                value = intr.get(name, {}).get(metric)
                if value is None:
                    return "n/a"
                return f"{percent(value)}%" if metric == "accuracy" else str(value)

            lines.append(f"- {v.name}: vectors WS353 ρ={score('wordsim353', 'spearman')}, "
                         f"SimLex ρ={score('simlex999', 'spearman')}, analogy acc={score('google_analogy', 'accuracy')}"
                         f", {v.embeddings.get('words_per_second') or 0:,} words/s")
        if not v.deterministic:
            lines += [f"- {v.name}: not bit-reproducible (see each stage's manifest: nondeterministic_because)", ""]
    (folder / "results.md").write_text("\n".join(lines) + "\n")
