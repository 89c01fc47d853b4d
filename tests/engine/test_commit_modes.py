"""A committed artifact's files have the mode the umask gives a plain ``open``, whatever created them."""

import os
import stat
import tempfile
from dataclasses import dataclass

import pytest

from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage
from nlp_pipeline.engine.cache import apply_umask, process_umask


@dataclass(frozen=True)
class P:
    n: int


def write_private_files(params: P, inputs, ctx) -> dict:
    """What mkstemp and safetensors do: files only their owner may read, in a private folder too."""
    fd, name = tempfile.mkstemp(dir=ctx.out_dir, suffix=".bin")
    os.write(fd, b"x" * params.n)
    os.close(fd)
    inner = tempfile.mkdtemp(dir=ctx.out_dir)
    (ctx.out_dir / "tool").write_text("#!/bin/sh\n")
    os.chmod(ctx.out_dir / "tool", 0o700)
    fd, _ = tempfile.mkstemp(dir=inner)
    os.close(fd)
    return {}


PRIVATE = Stage("private", "1", P, write_private_files)


@pytest.fixture
def umask():
    """Set the process umask for the test, then put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _modes(folder):
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def test_process_umask_reads_the_umask_without_changing_it(umask):
    umask(0o027)
    assert process_umask() == 0o027
    assert process_umask() == 0o027


def test_commit_gives_every_file_the_umask_mode_and_the_artifact_stays_a_hit(tmp_path, umask):
    umask(0o022)
    cache = ArtifactCache(tmp_path)
    first = run_stage(Task(PRIVATE, P(3)), cache, Runtime(progress=False), log=lambda m: None)
    modes = _modes(first.artifact.path)
    for rel, mode in modes.items():
        path = first.artifact.path / rel
        if path.is_dir():
            assert mode == 0o755, rel
        elif rel == "tool":
            assert mode == 0o755, rel  # its owner's execute bit kept, read for all
        else:
            assert mode == 0o644, rel
    # the stat signatures were taken after the modes changed: the next run trusts them without re-hashing
    again = run_stage(Task(PRIVATE, P(3)), cache, Runtime(progress=False), log=lambda m: None)
    assert again.hit and cache.lookup("private", again.artifact.key).problem is None


def test_a_private_umask_keeps_files_private(tmp_path, umask):
    umask(0o077)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    os.chmod(folder / "a.txt", 0o644)
    apply_umask(folder)
    assert stat.S_IMODE((folder / "a.txt").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
