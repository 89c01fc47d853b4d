"""resolve_device: auto picks CUDA only when present; asking for a missing device is a ConfigError.
resolve_threads: a positive count is kept, 0 means every core this process may use."""

from __future__ import annotations

import pytest
import torch

from nlp_pipeline.device import resolve_device, resolve_threads
from nlp_pipeline.errors import ConfigError


def test_auto_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_is_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_config_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device(name)


def test_unknown_device_lists_valid_values():
    with pytest.raises(ConfigError, match="auto, cpu, cuda"):
        resolve_device("gpu-please")


def test_resolve_threads_keeps_a_positive_count_and_fills_in_zero():
    assert resolve_threads(3) == 3
    assert resolve_threads(0) >= 1


def test_auto_is_the_cpu_without_importing_torch_where_no_gpu_driver_exists():
    """A fresh process: on a Linux machine with no GPU driver, ``device_name("auto")`` answers without torch."""
    import subprocess
    import sys

    from nlp_pipeline.device import no_gpu_driver

    if not no_gpu_driver():
        pytest.skip("this machine has a GPU driver: auto asks torch")
    code = ("import sys; from nlp_pipeline.device import device_name; "
            "print(device_name('auto'), device_name(' CPU '), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "cpu", "False"]


def test_auto_asks_torch_where_a_gpu_driver_exists(monkeypatch):
    import nlp_pipeline.device as device

    monkeypatch.setattr(device, "no_gpu_driver", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.device_name("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.device_name("auto") == "cpu"
