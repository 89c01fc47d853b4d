"""Length-bucketed batches and padding for variable-length token sequences.

Used by inference (length-sorted scoring) and by training (shuffled buckets), so it sits in the lower layer.

An RNN's cost per batch is ``batch_size × longest sequence``; with random batches a single long
phrase makes every other row pay for its padding. `bucketed_batches` sorts by length inside large
shuffled chunks, so batches are nearly uniform in length (little padding: the encoder runs over padded
positions and masks them) while each epoch still sees a different mix of examples and batch order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch

CHUNK_BATCHES = 50  # a shuffled chunk holds this many batches; sorting happens only inside a chunk
EVAL_BATCH_SIZE = 256  # inference keeps no activations for backward, so it can take bigger batches

# What a CPU forward of a recurrent model costs, in units of one sequence's recurrent step in a batch
# (`cheapest_batches`): a call's fixed cost and each time step's fixed cost. Measured on the default
# classifier (BiLSTM, 150 units, one torch thread, torch 2.13): about 0.5 ms a call, 17 us a step and
# 12 us per sequence per step, so a call costs ~40 sequence-steps and a step ~1.4. Bigger models have
# dearer sequence-steps, so these overstate the fixed costs for them and cut a little less than would pay.
CALL_COST_STEPS = 40.0
STEP_COST_STEPS = 1.4


def bucketed_batches(lengths: Sequence[int], batch_size: int, shuffle: bool,
                     rng: np.random.Generator | None = None) -> list[list[int]]:
    """Batches (lists of indices into ``lengths``, each index once) of examples of similar length.

    ``lengths`` are taken after any truncation, so buckets reflect the real cost; the last batch of a
    chunk may be smaller than ``batch_size``. With ``shuffle`` (training) the examples are shuffled
    with ``rng`` (None: an unseeded generator), cut into chunks of ``CHUNK_BATCHES`` batches, sorted by
    length within a chunk, and the batches shuffled; without (evaluation) all are sorted by length:
    least padding, deterministic order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lens = np.asarray(lengths, dtype=np.int64)
    n = len(lens)
    if n == 0:
        return []
    if not shuffle:
        order = np.argsort(lens, kind="stable")
        return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]

    rng = rng if rng is not None else np.random.default_rng()
    perm = rng.permutation(n)
    chunk = batch_size * CHUNK_BATCHES
    batches: list[list[int]] = []
    for start in range(0, n, chunk):
        idx = perm[start : start + chunk]
        idx = idx[np.argsort(lens[idx], kind="stable")]
        batches.extend(idx[i : i + batch_size].tolist() for i in range(0, len(idx), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


# The shapes a CPU scoring call may take. oneDNN, which runs torch's recurrent layers on the CPU, compiles a
# primitive for every (batch rows, time steps) shape it meets (about 1.4 ms each for the default classifier,
# more than scoring a sentence) and keeps a bounded number (`nlp_pipeline.serve.memory`). Scoring in batches
# of any size and length met a new shape on most calls under a server's mixed load: the same worker spent
# 0.85 ms of CPU per sentence instead of 0.64 with every shape kept. Rounding both up to a grid of about
# 120 shapes for sentences (rows padded with one-token rows, steps with `<pad>`) keeps them all compiled. A
# large batch of long texts pays more for the grid's padding than for a compile, so it runs as it is
# (`run_shape`): 512 IMDB reviews scored 6% slower with every batch on the grid.
SHAPE_ROWS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
MISS_COST_STEPS = 120.0  # compiling a new shape, ~1.4 ms: about 120 sequence-steps of the default classifier


def shape_rows(rows: int) -> int:
    """``rows`` rounded up to `SHAPE_ROWS` (a multiple of 128 beyond it)."""
    for size in SHAPE_ROWS:
        if rows <= size:
            return size
    return -(-rows // 128) * 128


def shape_steps(steps: int) -> int:
    """``steps`` rounded up to the time-step grid: a multiple of 4 up to 32, of 8 up to 64, of 16 up to 128,
    of 32 up to 256, of 64 beyond: at most 3 steps more up to 16, less than a quarter more past it."""
    step = 4 if steps <= 32 else 8 if steps <= 64 else 16 if steps <= 128 else 32 if steps <= 256 else 64
    return -(-max(steps, 1) // step) * step


def run_shape(rows: int, steps: int, max_length: int | None = None) -> tuple[int, int]:
    """The (rows, steps) a batch of ``rows`` sequences of up to ``steps`` runs as: the grid's (`shape_rows`,
    `shape_steps`, no further than ``max_length``), whose kernels stay compiled, unless its padding costs more
    sequence-steps than compiling the exact shape (`MISS_COST_STEPS`)."""
    grid_rows, grid_steps = shape_rows(rows), capped_steps(steps, max_length)
    on_grid, as_is = _shape_costs(rows, steps, grid_rows, grid_steps, STEP_COST_STEPS)
    return (grid_rows, grid_steps) if on_grid <= as_is else (rows, steps)


def _shape_costs(rows, steps, grid_rows, grid_steps, step_cost: float):
    """Sequence-steps of a batch run on its grid shape, and as it is with a compile (scalars or arrays): the
    one comparison `run_shape` and `cheapest_batches` both make."""
    return grid_steps * (step_cost + grid_rows), steps * (step_cost + rows) + MISS_COST_STEPS


def capped_steps(steps: int, max_length: int | None) -> int:
    """`shape_steps`, no further than ``max_length`` (a batch is never padded past the cut)."""
    grid = shape_steps(steps)
    return grid if max_length is None else min(grid, max(max_length, steps))


def cheapest_batches(lengths: Sequence[int], max_batch: int, call_cost: float = CALL_COST_STEPS,
                     step_cost: float = STEP_COST_STEPS, max_length: int | None = None) -> list[list[int]]:
    """Length-sorted batches of at most ``max_batch`` sequences, cut where the recurrent model's time is least.

    A batch runs for its longest sequence's steps, each row paying for its padding, so one long text in a
    batch of short ones multiplies their cost; but each call and each step also has a fixed cost, so a batch
    per text is slower still. With the lengths sorted, the cheapest cut is a shortest path: a batch of ``B``
    sequences up to length ``T`` costs ``call_cost`` plus the cheaper of its grid shape's sequence-steps,
    ``shape_steps(T) * (step_cost + shape_rows(B))``, and its own shape's plus a compile, ``T * (step_cost + B)
    + MISS_COST_STEPS`` (`run_shape` decides the same way), minimised over all cuts (vectorised,
    ``O(n * max_batch)``). On 32 random SST-2 dev sentences this scores 25% faster than one
    padded batch (measured on the default classifier, one thread). Returns lists of indices into ``lengths``.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    lens = np.asarray(lengths, dtype=np.int64)
    n = len(lens)
    if n == 0:
        return []
    order = np.argsort(lens, kind="stable")
    longest = np.maximum(lens[order], 1).astype(np.float64)
    steps = np.array([capped_steps(int(t), max_length) for t in longest], dtype=np.float64)
    rows = np.array([shape_rows(b) for b in range(max_batch + 1)], dtype=np.float64)
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):  # best[end]: the cheapest cut of the first `end` sorted sequences
        start = np.arange(max(0, end - max_batch), end)
        size = end - start
        on_grid, as_is = _shape_costs(size, longest[end - 1], rows[size], steps[end - 1], step_cost)
        cost = best[start] + call_cost + np.minimum(on_grid, as_is)
        pick = int(np.argmin(cost))
        best[end], cut[end] = cost[pick], start[pick]
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end]:end].tolist())
        end = int(cut[end])
    return batches[::-1]


def pad_batch(seqs: list[list[int]], max_length: int | None = None,
              grid: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad index sequences with 0 (``<pad>``) into a ``[B, T]`` LongTensor, plus their lengths.

    Sequences longer than ``max_length`` keep their first ``max_length`` tokens. ``T`` is the longest
    (truncated) length in the batch, not ``max_length``, so short batches stay small. An empty sequence
    is read as one ``<pad>`` token (length 1): "the last real state" needs one step, and a zero
    embedding is the closest thing to "no evidence". With ``grid``, ``B`` and ``T`` are those `run_shape`
    gives, the shape grid's unless its padding costs more than a compile: the extra rows are one-token
    ``<pad>`` rows after the real ones, and a caller keeps only the first ``len(seqs)`` outputs.

    Returns ``(token_ids [B, T] int64, lengths [B] int64)``, both on the CPU.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
    cut = [s if max_length is None else s[:max_length] for s in seqs]
    real = np.fromiter((len(s) for s in cut), dtype=np.int64, count=len(cut))
    width = int(max(real.max(), 1)) if len(cut) else 1
    height = len(cut)
    if grid:
        height, width = run_shape(height, width, max_length)
        real = np.concatenate([real, np.zeros(height - len(cut), dtype=np.int64)])
    lengths = np.maximum(real, 1)
    ids = np.zeros((height, width), dtype=np.int64)
    # one copy of all tokens into the real positions, row by row (a Python loop over rows cost a tenth of a
    # served classification)
    ids[np.arange(width)[None, :] < real[:, None]] = np.fromiter(itertools.chain.from_iterable(cut), dtype=np.int64,
                                                                 count=int(real.sum()))
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def budget_batches(lengths: np.ndarray, max_sequences: int, max_tokens: int) -> list[list[int]]:
    """Length-sorted batches of at most ``max_sequences`` sequences and ``max_tokens`` padded positions.

    Why a token budget: activations grow with batch × longest sequence, so 256 sentences are a few
    MB but 256 long reviews were 4 GB resident. A sequence longer than the budget is a batch alone.
    """
    order = np.argsort(lengths, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order.tolist():
        longest = int(lengths[i])  # sorted ascending: the newest is the longest
        if current and (len(current) >= max_sequences or (len(current) + 1) * longest > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
