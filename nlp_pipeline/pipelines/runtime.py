"""How a pipeline runs (device, threads, processes), resolved from its ``runtime`` section: never in a key."""

from __future__ import annotations

import os
from typing import Any

from nlp_pipeline.engine import Runtime


def runtime(cfg: Any) -> Runtime:
    """The ``runtime`` section every pipeline has, resolved once per command: ``auto`` becomes
    ``cuda:0`` or ``cpu`` (a device that is not there is an error before any stage runs), 0 threads
    all cores, for torch, the word2vec workers and the tokenizer's processes alike; how often training
    saves a checkpoint."""
    from nlp_pipeline.device import resolve_device, resolve_threads

    resolved = resolve_device(cfg.runtime.device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = type(resolved)("cuda", 0)
    threads = cfg.runtime.threads if cfg.runtime.threads > 0 else (os.cpu_count() or 1)
    return Runtime(device=str(resolved), workers=threads, num_threads=resolve_threads(cfg.runtime.threads),
                   n_process=threads, checkpoint_minutes=cfg.runtime.checkpoint_minutes)
