"""Length-bucketed batches and padding for variable-length token sequences.

Used by inference (length-sorted scoring) and by training (shuffled buckets), so it sits in the lower layer.

An RNN's cost per batch is ``batch_size × longest sequence``; with random batches a single long
phrase makes every other row pay for its padding. `bucketed_batches` sorts by length inside large
shuffled chunks, so batches are nearly uniform in length (little padding: the encoder runs over padded
positions and masks them) while each epoch still sees a different mix of examples and batch order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

CHUNK_BATCHES = 50  # a shuffled chunk holds this many batches; sorting happens only inside a chunk
EVAL_BATCH_SIZE = 256  # inference keeps no activations for backward, so it can take bigger batches


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


def pad_batch(seqs: list[list[int]], max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad index sequences with 0 (``<pad>``) into a ``[B, T]`` LongTensor, plus their lengths.

    Sequences longer than ``max_length`` keep their first ``max_length`` tokens. ``T`` is the longest
    (truncated) length in the batch, not ``max_length``, so short batches stay small. An empty sequence
    is read as one ``<pad>`` token (length 1): "the last real state" needs one step, and a zero
    embedding is the closest thing to "no evidence".

    Returns ``(token_ids [B, T] int64, lengths [B] int64)``, both on the CPU.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
    cut = [s if max_length is None else s[:max_length] for s in seqs]
    lengths = np.fromiter((max(len(s), 1) for s in cut), dtype=np.int64, count=len(cut))
    width = int(lengths.max()) if len(cut) else 1
    ids = np.zeros((len(cut), width), dtype=np.int64)
    for row, s in enumerate(cut):
        if s:
            ids[row, : len(s)] = s
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
