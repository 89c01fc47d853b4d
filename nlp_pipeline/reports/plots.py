"""PNG plots for run reports: confusion matrix, learning curve, word2vec loss, gradient norms and flow.

Figures are built with `matplotlib.figure.Figure` and saved through the Agg renderer directly, never
through ``pyplot``: pyplot keeps global state and needs a GUI backend (or ``matplotlib.use("Agg")``,
which would also switch the backend of a notebook that imports this module). This way plotting
works on a headless server, in threads, and leaves the caller's matplotlib setup untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

ANNOTATE_MAX_CLASSES = 20  # confusion matrices with more classes are drawn as a heatmap without cell text
GRAD_NORMS_FILE = "grad_norms.png"  # a training stage's gradient norms (`plot_grad_norms`), copied into reports
GRADIENT_FLOW_FILE = "gradient_flow.png"  # its gradient flow; a report's draws every variant (`plot_gradient_flow`)


def plot_confusion_matrix(cm: Sequence[Sequence[int]] | np.ndarray, labels: list[str], path: str | Path,
                          title: str = "") -> Path:
    """Heatmap of ``cm[i][j]`` = examples of true class ``i`` predicted as ``j``; returns ``path``.

    Each cell shows the count and its share of the true class (row), because with unbalanced classes
    raw counts hide a poorly recalled class.
    """
    matrix = np.asarray(cm, dtype=np.int64)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"confusion matrix has shape {matrix.shape}, expected ({n}, {n}) for {n} labels")
    row_sums = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_sums, out=np.zeros(matrix.shape, dtype=float), where=row_sums > 0)
    annotate = n <= ANNOTATE_MAX_CLASSES  # beyond that (e.g. 50 PTB tags) cell text is unreadable
    size = 2.0 + (0.9 if annotate else 0.32) * n
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of true class")
    for i in range(n if annotate else 0):
        for j in range(n):
            color = "white" if shares[i, j] > 0.5 else "black"
            ax.text(j, i, f"{matrix[i, j]}\n{shares[i, j]:.0%}", ha="center", va="center", color=color)
    rotate = max(map(len, labels), default=0) > 8 or n > 12
    ax.set_xticks(range(n), labels, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_learning_curve(history: list[dict], path: str | Path, title: str = "") -> Path:
    """Two panels per epoch: train and dev loss; dev accuracy (and macro-F1). Returns ``path``.

    ``history`` is `TrainResult.history`. The best dev-accuracy epoch — the weights that were kept — is
    marked with a dashed line, so over-fitting after it is visible at a glance.
    """
    if not history:
        raise ValueError("history is empty: nothing to plot")
    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    loss_ax.plot(epochs, [row["dev_loss"] for row in history], marker="o", label="dev")
    loss_ax.set_title("loss")
    acc_ax.plot(epochs, [row["dev_accuracy"] for row in history], marker="o", label="dev accuracy")
    if all("dev_macro_f1" in row for row in history):
        acc_ax.plot(epochs, [row["dev_macro_f1"] for row in history], marker="s", ls="--", label="dev macro-F1")
    acc_ax.set_title("dev accuracy")
    best = max(history, key=lambda row: row["dev_accuracy"])["epoch"]
    for ax in (loss_ax, acc_ax):
        ax.axvline(best, color="grey", ls=":", lw=1, label=f"best epoch ({best})")
        ax.set_xlabel("epoch")
        ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight", pad_inches=0.15)  # keep axis labels inside the image
    return path


def plot_loss_curve(epoch_loss: Sequence[float], path: str | Path, title: str = "", note: str = "") -> Path:
    """word2vec's training loss per epoch (negative-sampling loss summed over the epoch). Returns ``path``."""
    if not epoch_loss:
        raise ValueError("no per-epoch loss: nothing to plot")
    epochs = list(range(1, len(epoch_loss) + 1))
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(epochs, list(epoch_loss), marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (sum over the epoch)")
    ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
    ax.grid(alpha=0.3)
    ax.set_title(title or "word2vec training loss")
    if note:
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=7, color="#666666", va="bottom")
    return _save(fig, path)


def plot_lm_curve(history: list[dict], path: str | Path, unigram: float | None = None, title: str = "") -> Path:
    """A language model's training and held-out perplexity against the tokens trained (log scale),
    the unigram model's held-out perplexity as the line to beat, the kept weights marked. Returns ``path``.

    ``history`` is `LMTrainResult.history`: one row per evaluation. The training perplexity of a row
    is that of the steps since the previous row, with dropout on (so it can sit above held-out).
    """
    if not history:
        raise ValueError("history is empty: nothing to plot")
    tokens = [row["tokens"] / 1e6 for row in history]
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(tokens, [row["train_ppl"] for row in history], marker="o", label="train (since the last point)")
    ax.plot(tokens, [row["heldout_ppl"] for row in history], marker="o", label="held out")
    if unigram:
        ax.axhline(unigram, color="grey", ls="--", lw=1, label=f"unigram model, held out ({unigram:,.0f})")
    best = min(history, key=lambda row: row["heldout_ppl"])
    ax.axvline(best["tokens"] / 1e6, color="grey", ls=":", lw=1, label=f"kept ({best['heldout_ppl']:,.1f})")
    ax.set_yscale("log")
    ax.set_xlabel("tokens trained (millions)")
    ax.set_ylabel("perplexity")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or "language model perplexity")
    return _save(fig, path)


def plot_grad_norms(trace: dict, path: str | Path, title: str = "") -> Path:
    """Gradient norms over training, from a training stage's trace (`nlp_pipeline.training.monitor`). Returns ``path``.

    Left: the global norm before clipping (each point the mean of the steps since the one before), the
    clipping threshold, and the share of steps clipped. Right: each layer's own norm on the recorded
    steps: an exploding layer stands out, and so does one that gets almost nothing (the first layers, the
    embedding, of a net whose gradient vanishes). Both on a log scale.
    """
    rows = trace.get("rows") or []
    if not rows:
        raise ValueError("the trace has no rows: nothing to plot")
    steps = [row["step"] for row in rows]
    fig = Figure(figsize=(11, 4), layout="constrained")
    total_ax, layer_ax = fig.subplots(1, 2)
    total_ax.plot(steps, [_positive(row["grad_norm"]) for row in rows], label="global norm (mean since the last point)")
    clip = trace.get("clip_norm") or 0
    if clip > 0:
        total_ax.axhline(clip, color="grey", ls="--", lw=1, label=f"clipped above {clip:g}")
    total_ax.set_title(f"gradient norm before clipping: {100 * trace.get('clipped_fraction', 0):.1f}% of "
                       f"{trace.get('steps', 0):,} steps clipped")
    layered = [row for row in rows if row.get("layers")]
    names = sorted({name for row in layered for name in row["layers"]})
    for name in names:
        points = [(row["step"], row["layers"][name]) for row in layered if name in row["layers"]]
        layer_ax.plot([s for s, _ in points], [_positive(v) for _, v in points], label=name, lw=1.2)
    every = trace.get("every", 1)
    layer_ax.set_title(f"each layer's norm (every {every} steps)" if every > 1 else "each layer's norm (every step)")
    for ax in (total_ax, layer_ax):
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7 if ax is layer_ax and len(names) > 6 else None)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_gradient_flow(curves: dict[str, dict], path: str | Path, title: str = "") -> Path:
    """The gradient-flow curves of one or more models (``name: gradient_flow`` metadata), one line each, in
    one figure. Returns ``path``.

    Each curve is ``‖∂loss/∂h_t‖`` against the steps before the last, divided by its value at the last
    step, on a log scale: how much of the gradient reaches back d steps, whatever the model's own scale.
    A plain RNN's line falls by orders of magnitude within tens of steps; an LSTM's stays near the top. A
    gradient that underflowed to zero ends its line.
    """
    curves = {name: flow for name, flow in curves.items() if flow and flow.get("norms")}
    if not curves:
        raise ValueError("no gradient-flow curve: nothing to plot")
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, flow in curves.items():
        norms = np.asarray(flow["norms"], dtype=float)
        relative = norms / norms[0] if norms[0] > 0 else norms
        shown = np.where(relative > 0, relative, np.nan)
        ax.plot(np.arange(len(norms)), shown, label=f"{name} ({flow.get('steps')} steps)", lw=1.6)
    first = next(iter(curves.values()))
    ax.set_yscale("log")
    ax.set_xlabel("steps before the last")
    ax.set_ylabel("‖∂loss/∂h_t‖ relative to the last step")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title or f"gradient flow of {first.get('of', 'the loss')}, {first.get('sequences')} long dev "
                          "sequences")
    return _save(fig, path)


def _positive(value: float | None) -> float:
    """A value a log axis can show: a missing or non-positive one is a gap (nan)."""
    return value if value is not None and value > 0 else float("nan")
