"""A build that fills the disk is a `DiskFullError` naming the stage, the folder and the space; nothing is kept.

The disk is a real one: a 1 MiB tmpfs mounted for the test (we run as root in CI; elsewhere the
tests skip, saying why).
"""

import errno
import re
from dataclasses import dataclass

import pytest

from nlp_pipeline.engine import ArtifactCache, DiskFullError, Runtime, Stage, Task, run_stage
from nlp_pipeline.engine.cache import TMP_PREFIX, disk_full


@dataclass(frozen=True)
class Size:
    kb: int


def write_bytes(params: Size, inputs, ctx) -> dict:
    with open(ctx.out_dir / "big.bin", "wb") as fh:
        for _ in range(params.kb):
            fh.write(b"\0" * 1024)
    return {}


def write_safetensors(params: Size, inputs, ctx) -> dict:
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(params.kb * 256)}, str(ctx.out_dir / "model.safetensors"))
    return {}


PLAIN = Stage("plain", "1", Size, write_bytes)
WEIGHTS = Stage("weights", "1", Size, write_safetensors)


@pytest.mark.parametrize("stage", [PLAIN, WEIGHTS], ids=["open-write", "safetensors"])
def test_a_build_that_fills_the_disk_is_one_error_and_leaves_nothing(full_disk, stage):
    cache = ArtifactCache(full_disk / "cache")
    with pytest.raises(DiskFullError) as caught:
        run_stage(Task(stage, Size(4096)), cache, Runtime(progress=False), log=lambda m: None)
    message = str(caught.value)
    folder = cache.artifacts_dir / stage.name
    assert "\n" not in message and message.startswith("no space left on device")
    assert f"the {stage.name} stage" in message and str(folder) in message
    assert "that were free there when it started" in message
    if stage is PLAIN:  # a partial file it could measure (safetensors removes its own)
        assert re.search(r"it had written \d[\d.]* (kB|MB)\)", message), message
    assert disk_full(caught.value.__cause__) == errno.ENOSPC  # the library's error is kept as the cause
    assert list(folder.iterdir()) == []  # no artifact, no temporary folder
    assert not [p for p in cache.root.rglob(f"{TMP_PREFIX}*")]
    # the disk is usable again: a build that fits succeeds
    assert not run_stage(Task(stage, Size(64)), cache, Runtime(progress=False), log=lambda m: None).hit


def test_disk_full_reads_the_errno_and_the_message_libraries_quote():
    assert disk_full(OSError(errno.ENOSPC, "No space left on device")) == errno.ENOSPC
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded")) == errno.EDQUOT
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("could not save") from inner
    except RuntimeError as outer:
        assert disk_full(outer) == errno.ENOSPC  # found through the cause
    assert disk_full(ValueError("bad value")) is None
