"""The report folder of a run: ``<base>/<timestamp>/`` with results.json, results.md and a folder per variant.

Safe under concurrency: each run claims its own folder (``mkdir`` fails for the second claimant, which
takes the next suffix), and ``<base>/latest`` is replaced by an atomic rename, only once the folder
is complete, so it never points at a half-written report.

A variant folder holds what its evaluate stage wrote for people (plots, metrics, ``details.md`` with
its links made relative to that folder), never the cache's bookkeeping (manifest, ``.verified.json``),
and what its training stage recorded: ``history.json``, ``trace.json``, ``grad_norms.png`` and
``gradient_flow.png``; with ``tensorboard``, event files of both (`nlp_pipeline.reports.tensorboard`): the
runner then claims the folder before training starts (`claim_folder`), the training stages write their runs
there as they train, and the report writes only those no training wrote whole (a model from the cache). The
report's own ``gradient_flow.png`` draws every variant's curve in one figure.
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

from nlp_pipeline.reports.plots import GRAD_NORMS_FILE, GRADIENT_FLOW_FILE
from nlp_pipeline.reports.results import PipelineResult, VariantResult
from nlp_pipeline.reports.tables import percent
from nlp_pipeline.reports.tensorboard import EVENTS_FOLDER, TRACE_FILE, live_complete, stage_folder

REPORT_SUFFIXES = (".png", ".json", ".md")
MANIFEST = "manifest.json"
DETAILS = "details.md"  # an evaluate stage's part of results.md; its links read ``{variant}/<file>``
VARIANT = "{variant}"


def for_report(f: Path) -> bool:
    """Whether an evaluate artifact's file belongs in a report: made for people, not the cache's own (the
    manifest, hidden files such as ``.verified.json``), and not ``details.md`` (written filled in)."""
    hidden = f.name.startswith(".")
    return f.is_file() and f.suffix in REPORT_SUFFIXES and not hidden and f.name not in (MANIFEST, DETAILS)


def claim_folder(base: Path) -> Path:
    """A new report folder ``<base>/<timestamp>/`` of this run (the next suffix when another run took it)."""
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


def write_report(result: PipelineResult, base: Path, tensorboard: bool = False, folder: Path | None = None) -> Path:
    """Write the report of ``result`` under ``base`` and point ``base/latest`` at it; returns the folder.
    With ``tensorboard``, each variant's training stages also become TensorBoard runs in its folder.
    ``folder``: the one the run claimed before training (`claim_folder`), holding the runs written live.

    A write that fails (a full disk) removes the folder: no half-written report stays behind."""
    folder = folder or claim_folder(base)
    try:
        _write_folder(result, folder)
        _write_training(result, folder, tensorboard)
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


# A language model fine-tuned on the task's text before the model started from it: its folders, each with a trace.
FINETUNE_STEP = "finetune_lm"


def _write_training(result: PipelineResult, folder: Path, tensorboard: bool) -> None:
    """What each variant's training recorded: its trace, plots and (``tensorboard``) event files, in its folder;
    the report's ``gradient_flow.png`` (every variant's curve) and a training section in ``results.md``."""
    flows: dict[str, dict] = {}
    for v in result.variants:
        sub, train = folder / v.name, Path(v.artifacts[v.train_step])
        for name in (TRACE_FILE, GRAD_NORMS_FILE, GRADIENT_FLOW_FILE):
            if (train / name).is_file():
                shutil.copyfile(train / name, sub / name)
        flow = v.train.get("gradient_flow")
        if flow:
            flows[v.name] = flow
        if tensorboard:
            _write_events(v, sub / EVENTS_FOLDER)
    if not flows:
        return
    single = folder / result.variants[0].name / GRADIENT_FLOW_FILE
    if len(result.variants) == 1 and single.is_file():  # drawn by the training stage already
        shutil.copyfile(single, folder / GRADIENT_FLOW_FILE)
    else:
        from nlp_pipeline.reports.plots import plot_gradient_flow

        plot_gradient_flow(flows, folder / GRADIENT_FLOW_FILE)
    lines = ["## Training", "", f"![gradient flow]({GRADIENT_FLOW_FILE})", ""]
    for v in result.variants:
        lines.append(f"- {v.name}: {_training_line(v, folder)}")
    with open(folder / "results.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def _training_line(v: VariantResult, folder: Path) -> str:
    """How much of the training was clipped, and how much gradient reaches the first step: one line."""
    parts = []
    if v.train.get("clipped_fraction") is not None:
        parts.append(f"{100 * v.train['clipped_fraction']:.1f}% of steps clipped")
    norms = (v.train.get("gradient_flow") or {}).get("norms") or []
    if len(norms) > 1 and norms[0] > 0:
        parts.append(f"the loss gradient {len(norms) - 1} steps before the last is {norms[-1] / norms[0]:.2e} "
                     "of the last step's")
    if (folder / v.name / GRAD_NORMS_FILE).is_file():
        parts.append(f"[gradient norms]({v.name}/{GRAD_NORMS_FILE})")
    return "; ".join(parts)


def _write_events(v: VariantResult, events: Path) -> None:
    """The variant's training stage as a TensorBoard run in ``events``; a fine-tuned language model's in a
    folder of its own below it. A run its training wrote whole, live, for the very artifact the variant used
    is left as it is (a second copy would double every point); any other is written from the artifact's
    trace, replacing what its folder held."""
    from nlp_pipeline.reports.tensorboard import write_events

    keys = {r["stage"]: r["key"] for r in v.stage_runs}
    train = Path(v.artifacts[v.train_step])
    if (train / TRACE_FILE).is_file() and not live_complete(events, v.train_step, keys.get(v.train_step)):
        write_events(events, json.loads((train / TRACE_FILE).read_text()), v.train.get("gradient_flow"))
    finetuned = v.artifacts.get(FINETUNE_STEP)
    for direction in ("forward", "backward"):
        trace = Path(finetuned) / direction / TRACE_FILE if finetuned else None
        run = stage_folder(events, FINETUNE_STEP, direction)
        if trace is not None and trace.is_file() and not live_complete(run, FINETUNE_STEP, keys.get(FINETUNE_STEP)):
            write_events(run, json.loads(trace.read_text()))
