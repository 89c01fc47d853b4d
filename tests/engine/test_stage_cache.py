"""The stage engine: keys, hits, atomic writes, fingerprints."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nlp_pipeline.engine import ArtifactCache, Stage, fingerprint_path, run_stage
from nlp_pipeline.engine.stage import stage_key


def _writer(calls: list):
    def build(ctx):
        calls.append(ctx.params)
        (ctx.out_dir / "out.txt").write_text(f"{ctx.params['x']}")
        return {"x": ctx.params["x"]}

    return build


def test_second_run_is_a_hit_and_returns_the_same_artifact(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    calls: list = []
    first = run_stage(Stage("s", "1", {"x": 1}, {}, _writer(calls)), cache, progress=False)
    second = run_stage(Stage("s", "1", {"x": 1}, {}, _writer(calls)), cache, progress=False)
    assert not first.hit and second.hit
    assert len(calls) == 1
    assert second.artifact.path == first.artifact.path
    assert second.artifact.file("out.txt").read_text() == "1"
    assert second.artifact.metadata == {"x": 1}


def test_key_depends_on_params_version_and_input_content(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    data = tmp_path / "in.txt"
    data.write_text("a")
    base = Stage("s", "1", {"x": 1}, {"data": data}, _writer([]))
    k0 = stage_key(base, cache)
    assert stage_key(Stage("s", "1", {"x": 2}, {"data": data}, base.build), cache) != k0
    assert stage_key(Stage("s", "2", {"x": 1}, {"data": data}, base.build), cache) != k0
    assert stage_key(Stage("t", "1", {"x": 1}, {"data": data}, base.build), cache) != k0
    assert stage_key(base, cache) == k0
    data.write_text("b")  # same size: the content hash must still change (mtime differs)
    os.utime(data, ns=(1, 1))
    assert stage_key(base, cache) != k0


def test_downstream_key_follows_upstream_artifact(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    calls: list = []
    up1 = run_stage(Stage("up", "1", {"x": 1}, {}, _writer(calls)), cache, progress=False).artifact
    up2 = run_stage(Stage("up", "1", {"x": 2}, {}, _writer(calls)), cache, progress=False).artifact
    down = Stage("down", "1", {"x": 0}, {"up": up1}, _writer(calls))
    assert stage_key(down, cache) != stage_key(Stage("down", "1", {"x": 0}, {"up": up2}, down.build), cache)


def test_failed_build_leaves_no_artifact(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")

    def broken(ctx):
        (ctx.out_dir / "half.txt").write_text("partial")
        raise KeyboardInterrupt

    stage = Stage("s", "1", {"x": 1}, {}, broken)
    with pytest.raises(KeyboardInterrupt):
        run_stage(stage, cache, progress=False)
    assert cache.get("s", stage_key(stage, cache)) is None
    assert not any((tmp_path / "cache" / "artifacts" / "s").iterdir())


def test_stage_killed_mid_write_is_never_trusted(tmp_path):
    """SIGKILL during a build (no cleanup runs): the next run must rebuild, not reuse the leftovers."""
    cache_dir = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import os, signal
        from nlp_pipeline.engine import ArtifactCache, Stage, run_stage
        def build(ctx):
            (ctx.out_dir / "out.txt").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        run_stage(Stage("s", "1", {{"x": 1}}, {{}}, build), ArtifactCache({str(cache_dir)!r}), progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    leftovers = list((cache_dir / "artifacts" / "s").iterdir())
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)

    cache = ArtifactCache(cache_dir)
    calls: list = []
    run = run_stage(Stage("s", "1", {"x": 1}, {}, _writer(calls)), cache, progress=False)
    assert not run.hit and calls
    assert run.artifact.file("out.txt").read_text() == "1"
    assert [p.name for p in (cache_dir / "artifacts" / "s").iterdir()] == [run.artifact.key]


def test_force_rebuilds(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    calls: list = []
    run_stage(Stage("s", "1", {"x": 1}, {}, _writer(calls)), cache, progress=False)
    again = run_stage(Stage("s", "1", {"x": 1}, {}, _writer(calls)), cache, force=True, progress=False)
    assert not again.hit and len(calls) == 2


def test_folder_fingerprint_notices_renames(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.txt").write_text("same")
    before = fingerprint_path(d)
    (d / "a.txt").rename(d / "b.txt")
    assert fingerprint_path(d) != before


def test_fingerprint_memo_survives_and_detects_changes(tmp_path):
    memo = tmp_path / "memo.json"
    f = tmp_path / "f.txt"
    f.write_text("one")
    h1 = fingerprint_path(f, memo)
    assert memo.is_file()
    f.write_text("two!")
    assert fingerprint_path(f, memo) != h1


def test_cache_listing_latest_and_clear(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    a = run_stage(Stage("s", "1", {"x": 1}, {}, _writer([])), cache, progress=False).artifact
    b = run_stage(Stage("s", "1", {"x": 2}, {}, _writer([])), cache, progress=False).artifact
    assert {x.key for x in cache} == {a.key, b.key}
    assert cache.latest("s").key == b.key
    assert cache.find(a.key[:8])[0].key == a.key
    assert cache.clear("s") == 2
    assert list(cache) == []


def test_artifact_folder_name_is_its_key(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    art = run_stage(Stage("s", "1", {"x": 1}, {}, _writer([])), cache, progress=False).artifact
    assert Path(art.path).name == art.key
    assert art.manifest["params"] == {"x": 1}


def test_folder_fingerprint_memoises_every_file(tmp_path):
    import json

    d = tmp_path / "d"
    d.mkdir()
    for i in range(5):
        (d / f"{i}.txt").write_text(str(i))
    memo = tmp_path / "memo.json"
    fingerprint_path(d, memo)
    assert len(json.loads(memo.read_text())) == 5
