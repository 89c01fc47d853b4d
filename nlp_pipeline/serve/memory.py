"""Keeping a long-running server's memory flat: bounded native caches, freed memory given back, no full
garbage collections over the loaded models.

Measured with ``make bench-serve`` (a BiLSTM classifier, one SST-2 sentence per request): the resident memory
grew by 129 MB between the 1,000th and the 100,000th request and was still growing. Python's objects did not
grow; the growth was native:

- oneDNN, which runs torch's LSTMs on the CPU, caches a compiled primitive for every (batch size, length)
  shape it meets, about 0.23 MB each, up to 1,024 of them: about 235 MB once a server has met enough
  shapes. `bound_onednn_cache` caps it at `ONEDNN_CACHE_CAPACITY` unless the environment already sets
  ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``; it must run before the process's first oneDNN call (a model's load and
  warm-up), and is read once. A miss recompiles a primitive (with no cache at all, a one-text call took 3.7 ms
  instead of 2), so CPU scoring pads its batches to a grid of shapes (`nlp_pipeline.models.batching.SHAPE_ROWS`):
  with it, 32 clients got 1,174, 1,078 and 1,107 batched requests/s with a cap of 64, 128 and 256; without it,
  862 with 64 and 1,097 with no eviction (4,096).
- What the evicted primitives and each batch's tensors free stays in glibc's heap as fragments (60 MB after
  12,000 batches of random shapes); `MemoryReleaser` hands it back to the system (``malloc_trim``) after a
  batch, at most once per ``every_s`` (a trim takes 1-4 ms).

The models' own objects (hundreds of thousands: spaCy's vocabulary, torch, FastAPI) are moved out of the
garbage collector's sight once loaded (`freeze_loaded`): otherwise each full collection walks them all, and
every request in flight waited for it (150-230 ms, the p99 latency under load).
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
from collections.abc import Callable
from typing import Any

ONEDNN_CACHE_CAPACITY = 64  # primitives (~0.23 MB each); oneDNN's default is 1,024
ONEDNN_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def bound_onednn_cache() -> None:
    """Cap oneDNN's primitive cache at `ONEDNN_CACHE_CAPACITY`, unless the environment sets the capacity.
    Effective only before the process's first oneDNN primitive (oneDNN reads the variable once)."""
    os.environ.setdefault(ONEDNN_CACHE_VARIABLE, str(ONEDNN_CACHE_CAPACITY))


def freeze_loaded() -> None:
    """Collect once, then keep every object alive now (the loaded models, the libraries) out of later
    garbage collections (`gc.freeze`): the collections of a serving process then walk only what requests
    made."""
    gc.collect()
    gc.freeze()


def _malloc_trim():
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc; other C libraries (musl, macOS) have none
    except (AttributeError, OSError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def releasing(run: Callable[..., list[Any]], releaser: MemoryReleaser) -> Callable[..., list[Any]]:
    """``run`` (a batch function), then ``releaser.maybe_release()`` on the same thread."""
    def run_then_release(items: list[Any], *args: Any) -> list[Any]:
        try:
            return run(items, *args)
        finally:
            releaser.maybe_release()

    return run_then_release


class MemoryReleaser:
    """``maybe_release()`` after a batch hands the heap's free memory back to the system, at most once per
    ``every_s`` seconds across threads; a no-op without glibc."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._trim = _malloc_trim()
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def maybe_release(self) -> None:
        if self._trim is None:
            return
        now = time.monotonic()
        if now - self._last < self.every_s or not self._lock.acquire(blocking=False):
            return
        try:
            self._last = now
            self._trim(0)
        finally:
            self._lock.release()
