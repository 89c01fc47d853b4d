"""How a pipeline runs (device, threads, processes), resolved from its ``runtime`` section: never in a key."""

from __future__ import annotations

import os
from typing import Any

from nlp_pipeline.engine import Runtime, Stage
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.stages.common import training_nondeterminism
from nlp_pipeline.training.distributed import launched

# The training stages' batch sizes, split across the processes of a distributed run.
BATCH_SIZES = ("batch_size", "lm_finetune_batch_size")


def runtime(cfg: Any) -> Runtime:
    """The ``runtime`` section every pipeline has, resolved once per command: ``auto`` becomes
    ``cuda:0`` or ``cpu`` (a device that is not there is an error before any stage runs), 0 threads
    all cores, for torch, the word2vec workers and the tokenizer's processes alike; how often training
    saves a checkpoint. In a launched run (torchrun, ``run --nproc``), how many processes train together;
    each one's GPU is ``cuda:LOCAL_RANK``, and 0 threads share this machine's cores among its processes."""
    from nlp_pipeline.device import resolve_device, resolve_threads

    launch = launched()
    resolved = resolve_device(cfg.runtime.device)
    if resolved.type == "cuda" and (resolved.index is None or launch is not None):
        resolved = type(resolved)("cuda", launch.local_rank if launch is not None else 0)
        resolve_device(str(resolved))  # this machine has that GPU
    threads = cfg.runtime.threads if cfg.runtime.threads > 0 else (os.cpu_count() or 1)
    torch_threads = resolve_threads(cfg.runtime.threads)
    if launch is not None and cfg.runtime.threads == 0:
        torch_threads = max(1, torch_threads // launch.local_world_size)
    return Runtime(device=str(resolved), workers=threads, num_threads=torch_threads, n_process=threads,
                   checkpoint_minutes=cfg.runtime.checkpoint_minutes,
                   processes=launch.world_size if launch is not None else 1)


def trains(stage: Stage) -> bool:
    """Whether ``stage`` trains a model: the stages every process of a distributed run builds together."""
    return stage.nondeterministic is training_nondeterminism


def check_processes(spec: Any, cfg: Any, processes: int) -> None:
    """Every batch size a training stage of ``cfg`` takes splits evenly into ``processes``: the global batch
    stays the same optimisation, each process taking its share (a ``ConfigError`` naming the setting, else)."""
    if processes < 1:
        raise ConfigError(f"the number of processes must be at least 1, got {processes}")
    for step in spec.pipeline.steps:
        if not (step.when(cfg) and trains(step.stage)):
            continue
        params = step.params(cfg)
        for name in BATCH_SIZES:
            size = getattr(params, name, None)
            if size is not None and size % processes:
                setting = next((f"{section}.{name}" for section in type(cfg).model_fields
                                if name in getattr(type(getattr(cfg, section)), "model_fields", {})), name)
                raise ConfigError(f"{setting}={size} does not split into {processes} processes: the batch is "
                                  f"shared among them, set it to a multiple of {processes} (or change the "
                                  "number of processes)")
