"""The embedding map: the most frequent words of a vector set in 2-D, with probe words and their neighbours.

Projection: PCA to at most 50 dimensions (noise off, and t-SNE's cost down), then t-SNE
(scikit-learn, PCA initialisation, a fixed seed: the same vectors give the same picture); ``umap``
when umap-learn is installed; ``pca`` alone for a quick, linear view. Cosine geometry is what the
vectors are queried with, so rows are normalised first.

The picture stays readable at a few thousand points: every point is a small grey dot, a sample of
the most frequent words spread over the frequency ranks is labelled, and the probe words (red) and
their nearest neighbours (orange) are drawn on top with their labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

METHODS = ("tsne", "umap", "pca")


def project_2d(vectors: np.ndarray, method: str = "tsne", seed: int = 13) -> np.ndarray:
    """``[N, D]`` → ``[N, 2]`` coordinates (``method``: tsne | umap | pca)."""
    from sklearn.decomposition import PCA

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    n_components = min(50, x.shape[0], x.shape[1])
    reduced = PCA(n_components=n_components, random_state=seed).fit_transform(x)
    if method == "pca" or x.shape[0] < 5:
        return reduced[:, :2] if reduced.shape[1] >= 2 else np.pad(reduced, ((0, 0), (0, 2 - reduced.shape[1])))
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise ValueError("method 'umap' needs umap-learn (pip install umap-learn); use tsne") from None
        return umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(reduced)
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = float(min(30, max(2, (x.shape[0] - 1) // 3)))
    # One OpenMP thread: scikit-learn's t-SNE threads spin while they wait for each other, and beside any other
    # busy process (a training stage's workers, the tests' processes) a 1,000-word map took 42.8 s instead of
    # 3.1 s on one thread (2 cores, 2026-12-06); a map of a few thousand words needs no more than one core.
    with threadpool_limits(limits=1, user_api="openmp"):
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(reduced)


def map_words(vocabulary: Sequence[str], n: int, probes: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The ``n`` most frequent words (``vocabulary`` is by frequency), then any probe or neighbour not among them."""
    known = set(vocabulary)
    words = list(vocabulary[:n])
    chosen = set(words)
    for probe, neighbours in (probes or {}).items():
        for w in (probe, *neighbours):
            if w in known and w not in chosen:
                words.append(w)
                chosen.add(w)
    return words


def plot_embedding_map(words: Sequence[str], coords: np.ndarray, out: str | Path, *,
                       probes: Mapping[str, Sequence[str]] | None = None, n_labels: int = 120, title: str = "") -> Path:
    """Draw ``coords`` (rows of `project_2d`, in ``words``' order, most frequent first) to ``out`` (PNG).

    ``probes`` maps each probe word to its neighbours (best first); words not in ``words`` are left
    out, so project the probes and their neighbours along with the most frequent words (`map_words`).
    A panel on the right lists every probe with its neighbours, so the map itself labels only what
    fits: the probes, then as many neighbours and frequent words as do not overlap a label already
    placed (a tight cluster of eight neighbours is a smudge otherwise).
    """
    from matplotlib.figure import Figure

    probes = {p: [n for n in ns if n in set(words)] for p, ns in (probes or {}).items() if p in set(words)}
    index = {w: i for i, w in enumerate(words)}
    fig = Figure(figsize=(16, 11), dpi=110)
    ax = fig.add_axes((0.01, 0.01, 0.76, 0.94))
    panel = fig.add_axes((0.78, 0.01, 0.21, 0.94))
    panel.axis("off")
    ax.scatter(coords[:, 0], coords[:, 1], s=3, c="#b8b8b8", linewidths=0)
    lo, span = coords.min(axis=0), np.ptp(coords, axis=0) + 1e-9
    boxes: list[tuple[float, float, float, float]] = []  # placed labels, in axes fractions

    def place(word: str, at: np.ndarray, size: float, force: bool = False) -> bool:
        x, y = (at - lo) / span
        w, h = 0.0052 * len(word) * size / 7, 0.017 * size / 7
        box = (x, y, x + w, y + h)
        if not force and any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
            return False
        boxes.append(box)
        return True

    highlighted = {w for p, ns in probes.items() for w in (p, *ns)}
    for probe, neighbours in probes.items():  # lines and dots first, labels on top
        p = index[probe]
        for n in neighbours:
            j = index[n]
            ax.plot(*zip(coords[p], coords[j], strict=True), color="#f0a040", linewidth=0.5, alpha=0.6)
            ax.scatter(*coords[j], s=16, c="#f0a040", zorder=3)
        ax.scatter(*coords[p], s=40, c="#d62728", zorder=5)
    for probe in probes:
        place(probe, coords[index[probe]], 11, force=True)
        ax.annotate(probe, coords[index[probe]], fontsize=11, fontweight="bold", color="#d62728", zorder=6)
    for neighbours in probes.values():
        for n in neighbours:
            if place(n, coords[index[n]], 8):
                ax.annotate(n, coords[index[n]], fontsize=8, color="#b06000", zorder=4)
    # A sample over the frequency ranks (the most frequent words, then ever sparser ones).
    ranks = np.unique(np.geomspace(1, len(words), num=min(4 * n_labels, len(words))).astype(int) - 1)
    labelled = 0
    for i in ranks:
        if labelled >= n_labels or words[i] in highlighted:
            continue
        if place(words[i], coords[i], 7):
            ax.annotate(words[i], coords[i], fontsize=7, color="#555555", alpha=0.9)
            labelled += 1
    ax.set_title(title or f"{len(words):,} most frequent words", fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    if probes:
        lines = []
        for probe, neighbours in probes.items():
            lines.append((probe, "#d62728", "bold", 10))
            lines += [(f"   {n}", "#b06000", "normal", 8.5) for n in neighbours]
            lines.append(("", "black", "normal", 4))
        y = 1.0
        panel.text(0, y, "nearest neighbours", fontsize=11, va="top", color="#333333")
        y -= 0.035
        step = min(0.022, 0.96 / max(1, len(lines)))
        for text, color, weight, size in lines:
            panel.text(0, y, text, fontsize=size, fontweight=weight, color=color, va="top")
            y -= step * (0.5 if not text else 1)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
