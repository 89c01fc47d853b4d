"""Pick the torch device and CPU thread count a model trains and predicts with.

At the bottom of the package (below models, inference and training) because every layer that runs
a model needs it, and none of them may import a layer above itself.

``"auto"`` is the default everywhere so that the same pipeline file runs on a laptop and on a GPU
box unchanged. Asking for a device that is not there is a user error (`ConfigError`), not a silent
fallback: a run someone believes is on the GPU should not quietly take hours on the CPU.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from nlp_pipeline.errors import ConfigError

if TYPE_CHECKING:  # imported where a device is resolved: `device_name("cpu")` and the thread count need no torch
    import torch

VALID_DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a `torch.device`.

    ``"auto"`` is CUDA when available, else CPU (MPS is used only when asked for: several RNN
    kernels still fall back to the CPU there).
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    key = str(name).strip().lower()
    if key == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(key)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {name!r}; valid: {', '.join(VALID_DEVICES)}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available; use 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"device {name!r} requested but MPS is not available; use 'auto' or 'cpu'")
        return device
    raise ConfigError(f"unsupported device {name!r}; valid: {', '.join(VALID_DEVICES)}")


# What a GPU torch could use leaves on Linux: NVIDIA's driver, AMD's (ROCm, which torch also calls cuda), WSL's.
GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def no_gpu_driver() -> bool:
    """True on a Linux machine without any GPU driver's device files, where ``"auto"`` can only be the CPU."""
    return sys.platform.startswith("linux") and not any(os.path.exists(p) for p in GPU_DRIVER_PATHS)


def device_name(name: str | torch.device = "auto") -> str:
    """`resolve_device`'s answer as torch names it (``"cpu"``, ``"cuda:0"``). ``cpu``, and ``auto`` on a Linux
    machine with no GPU driver, are known without importing torch, so a run that needs no torch on the CPU (our
    word2vec's C kernel) does not load its ~185 MB and 1.2 s of imports."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key == "cpu" or (key == "auto" and no_gpu_driver()):
        return "cpu"
    return str(resolve_device(name))


def resolve_threads(num_threads: int) -> int:
    """CPU threads for torch: ``num_threads`` when positive, else every core this process may use."""
    if num_threads > 0:
        return num_threads
    try:
        return len(os.sched_getaffinity(0))  # respects taskset / container CPU limits
    except AttributeError:  # not available on macOS / Windows
        return os.cpu_count() or 1
