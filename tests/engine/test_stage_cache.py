"""The stage engine: keys, hits, atomic writes, fingerprints, declarations that cannot leak settings."""

import dataclasses
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from nlp_pipeline.engine import ArtifactCache, DataRef, Runtime, Stage, Task, fingerprint_path, run_stage

BUILDS: list = []  # every build of this module's stages, in order


@dataclass(frozen=True)
class XParams:
    x: int


def write_x(params: XParams, inputs, ctx) -> dict:
    BUILDS.append(params)
    (ctx.out_dir / "out.txt").write_text(f"{params.x}")
    return {"x": params.x}


def not_reproducible_with_threads(params, runtime: Runtime):
    return "threads" if runtime.workers > 1 else None


S = Stage("s", "1", XParams, write_x)
UP = Stage("up", "1", XParams, write_x)
DOWN = Stage("down", "1", XParams, write_x, inputs=("up",))
DATA = Stage("d", "1", XParams, write_x, inputs=("data",))
THREADED = Stage("t", "1", XParams, write_x, nondeterministic=not_reproducible_with_threads)


def run(task, cache, **kw):
    return run_stage(task, cache, Runtime(progress=False), log=lambda m: None, **kw)


@pytest.fixture(autouse=True)
def _reset():
    BUILDS.clear()


def test_second_run_is_a_hit_and_returns_the_same_artifact(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    first = run(Task(S, XParams(1)), cache)
    second = run(Task(S, XParams(1)), cache)
    assert not first.hit and second.hit
    assert len(BUILDS) == 1
    assert second.artifact.path == first.artifact.path
    assert second.artifact.file("out.txt").read_text() == "1"
    assert second.artifact.metadata == {"x": 1}
    manifest = second.artifact.manifest
    assert manifest["files"]["out.txt"]["size"] == 1 and len(manifest["files"]["out.txt"]["sha256"]) == 64
    assert manifest["deterministic"] is True and manifest["params"] == {"x": 1}


def _data(tmp_path, text="a", name="in.txt"):
    f = tmp_path / name
    f.write_text(text)
    return DataRef("corpus", str(f), (f,))


def test_key_depends_on_params_version_name_and_input_content(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    rt = Runtime()
    data = _data(tmp_path)
    k0 = Task(DATA, XParams(1), {"data": data}).key(cache, rt)
    assert Task(DATA, XParams(2), {"data": data}).key(cache, rt) != k0
    assert Task(dataclasses.replace(DATA, version="2"), XParams(1), {"data": data}).key(cache, rt) != k0
    assert Task(dataclasses.replace(DATA, name="e"), XParams(1), {"data": data}).key(cache, rt) != k0
    assert Task(DATA, XParams(1), {"data": data}).key(cache, rt) == k0
    data.files[0].write_text("b")  # same size: the content hash must still change (mtime differs)
    os.utime(data.files[0], ns=(1, 1))
    assert Task(DATA, XParams(1), {"data": data}).key(cache, rt) != k0


def test_data_location_is_not_in_the_key_but_its_content_is(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    here, there = _data(tmp_path / "a"), _data(tmp_path / "b")
    there = dataclasses.replace(there, data_dir=str(tmp_path / "b"))
    keys = {Task(DATA, XParams(1), {"data": d}).key(cache, Runtime()) for d in (here, there)}
    assert len(keys) == 1


def test_runtime_enters_the_key_only_as_the_deterministic_flag(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    task = Task(THREADED, XParams(1))
    one, two, three = (task.key(cache, Runtime(workers=n)) for n in (1, 2, 3))
    assert one != two and two == three
    assert task.key(cache, Runtime(num_threads=1)) == task.key(cache, Runtime(num_threads=4, n_process=3))
    built = run_stage(task, cache, Runtime(workers=2, progress=False), log=lambda m: None).artifact
    assert built.manifest["deterministic"] is False and built.manifest["nondeterministic_because"] == "threads"
    down = run(Task(dataclasses.replace(DOWN, name="after"), XParams(0), {"up": built}), cache).artifact
    assert down.manifest["deterministic"] is False  # built from a non-reproducible artifact
    assert down.manifest["nondeterministic_inputs"] == [f"t:{built.key}"]


def test_downstream_key_follows_upstream_artifact_and_names_it(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    up1 = run(Task(UP, XParams(1)), cache).artifact
    up2 = run(Task(UP, XParams(2)), cache).artifact
    rt = Runtime()
    assert Task(DOWN, XParams(0), {"up": up1}).key(cache, rt) != Task(DOWN, XParams(0), {"up": up2}).key(cache, rt)
    down = run(Task(DOWN, XParams(0), {"up": up1}), cache).artifact
    assert down.manifest["inputs"]["up"] == {"stage": "up", "key": up1.key, "digest": up1.digest}


def test_failed_build_leaves_no_artifact(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    task = Task(Stage("s", "1", XParams, interrupted), XParams(1))
    with pytest.raises(KeyboardInterrupt):
        run(task, cache)
    assert cache.get("s", task.key(cache, Runtime())) is None
    assert not any((tmp_path / "cache" / "artifacts" / "s").iterdir())


def interrupted(params, inputs, ctx):
    (ctx.out_dir / "half.txt").write_text("partial")
    raise KeyboardInterrupt


def test_stage_killed_mid_write_is_never_trusted(tmp_path):
    """SIGKILL during a build (no cleanup runs): the next run must rebuild, not reuse the leftovers."""
    cache_dir = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import os, signal
        from dataclasses import dataclass
        from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage

        @dataclass(frozen=True)
        class XParams:
            x: int

        def build(params, inputs, ctx):
            (ctx.out_dir / "out.txt").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)

        run_stage(Task(Stage("s", "1", XParams, build), XParams(1)), ArtifactCache({str(cache_dir)!r}),
                  Runtime(progress=False))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    leftovers = list((cache_dir / "artifacts" / "s").iterdir())
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)

    cache = ArtifactCache(cache_dir)
    result = run(Task(S, XParams(1)), cache)
    assert not result.hit and BUILDS
    assert result.artifact.file("out.txt").read_text() == "1"
    assert [p.name for p in (cache_dir / "artifacts" / "s").iterdir()] == [result.artifact.key]


def test_force_rebuilds(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    run(Task(S, XParams(1)), cache)
    again = run(Task(S, XParams(1)), cache, force=True)
    assert not again.hit and len(BUILDS) == 2
    assert cache.get("s", again.artifact.key) is not None


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
    a = run(Task(S, XParams(1)), cache).artifact
    b = run(Task(S, XParams(2)), cache).artifact
    assert {x.key for x in cache} == {a.key, b.key}
    assert cache.latest("s").key == b.key
    assert cache.find(a.key[:8])[0].key == a.key
    assert cache.clear("s") == 2
    assert list(cache) == []


# -- declarations that cannot leak a setting into a build -------------------------------------------


def test_a_stage_refuses_a_closure_or_a_mutable_params_type():
    setting = {"vector_size": 300}

    def closure(params, inputs, ctx):
        return {"v": setting["vector_size"]}

    with pytest.raises(TypeError, match="module-level"):
        Stage("s", "1", XParams, closure)
    with pytest.raises(TypeError, match="module-level"):
        Stage("s", "1", XParams, lambda p, i, c: {})

    @dataclass
    class Mutable:
        x: int

    with pytest.raises(TypeError, match="frozen"):
        Stage("s", "1", Mutable, write_x)


def test_a_task_refuses_params_that_are_not_plain_values():
    @dataclass(frozen=True)
    class Sneaky:
        config: object

    stage = Stage("s", "1", Sneaky, write_x)
    with pytest.raises(TypeError, match="plain value"):
        Task(stage, Sneaky(config={"embed": {"vector_size": 16}}))
    with pytest.raises(TypeError, match="must be a XParams"):
        Task(S, Sneaky(config=1))
    with pytest.raises(TypeError, match="missing inputs"):
        Task(DOWN, XParams(1))


def test_manifest_shape_is_checked(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    art = run(Task(S, XParams(1)), cache).artifact
    path = Path(art.path) / "manifest.json"
    for garbage in ("[]", "{", '{"stage": "s"}', "null", '"text"'):
        path.write_text(garbage)
        assert cache.get("s", art.key) is None
        assert list(cache) == []  # iteration skips it, never raises
