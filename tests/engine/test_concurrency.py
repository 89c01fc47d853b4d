"""Many processes on one cache: each artifact is built once, others wait and hit; a killed builder is survived.

Real processes (``stage_process.py``), not threads: the lock is an OS file lock, and the kernel
releases it when its holder dies, even under SIGKILL.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.engine.verify import verify_cache

SCRIPT = Path(__file__).with_name("stage_process.py")


def _start(cache: Path, builds: Path, sleep: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "STAGE_BUILDS": str(builds), "STAGE_SLEEP": str(sleep)}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(cache)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out), err


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _leftovers(cache: Path) -> list[str]:
    return [p.name for p in (cache / "artifacts" / "toy").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("trial", range(3))
def test_parallel_runs_build_each_artifact_once(tmp_path, trial):
    cache, builds = tmp_path / "cache", tmp_path / "builds.txt"
    procs = [_start(cache, builds, sleep=0.3) for _ in range(4)]
    results = [_finish(p)[0] for p in procs]
    builders = builds.read_text().split()
    assert len(builders) == 1  # built once
    assert len({r["key"] for r in results}) == 1
    assert sum(not r["hit"] for r in results) == 1  # one built it, the others hit after waiting
    assert {r["built_by"] for r in results} == {int(builders[0])}  # everyone got the builder's artifact
    assert _leftovers(cache) == []
    assert all(v.ok for v in verify_cache(ArtifactCache(cache)))


@pytest.mark.parametrize("trial", range(2))
def test_a_lock_holder_killed_with_sigkill_is_survived(tmp_path, trial):
    cache, builds = tmp_path / "cache", tmp_path / "builds.txt"
    holder = _start(cache, builds, sleep=60)
    stage_dir = cache / "artifacts" / "toy"
    _wait_for(lambda: builds.exists() and builds.read_text().strip())  # building, lock held
    waiter = _start(cache, builds)
    time.sleep(0.5)
    assert waiter.poll() is None  # blocked on the lock, not building beside the holder
    holder_tmp = [p for p in stage_dir.iterdir() if p.name.startswith(".tmp-")]
    assert len(holder_tmp) == 1 and f"-{holder.pid}-" in holder_tmp[0].name
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    result, err = _finish(waiter)
    assert "waiting: another process is building toy" in err
    assert not result["hit"] and result["built_by"] == waiter.pid
    assert builds.read_text().split() == [str(holder.pid), str(waiter.pid)]
    assert _leftovers(cache) == []  # the dead holder's build folder is gone
    assert all(v.ok for v in verify_cache(ArtifactCache(cache)))


def test_a_live_builders_folder_is_left_alone(tmp_path):
    cache, builds = tmp_path / "cache", tmp_path / "builds.txt"
    builder = _start(cache, builds, sleep=1)
    _wait_for(lambda: builds.exists() and builds.read_text().strip())
    store = ArtifactCache(cache)
    assert store.remove_orphans() == 0
    assert store.clear() == 0
    assert len(_leftovers(cache)) == 1  # still there: its process is alive
    result, _ = _finish(builder)
    assert not result["hit"] and _leftovers(cache) == []
    assert store.get("toy", result["key"]) is not None
