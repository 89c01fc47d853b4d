"""``latest`` is what a completed run recorded, written atomically; the newest artifact only when none was recorded."""

import json
import os
import time
from dataclasses import dataclass

import pytest

from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage
from nlp_pipeline.errors import ConfigError, DataError


@dataclass(frozen=True)
class NParams:
    n: int


def write_n(params: NParams, inputs, ctx) -> dict:
    (ctx.out_dir / "n.txt").write_text(str(params.n))
    return {"n": params.n}


MODEL = Stage("model", "1", NParams, write_n)


def build(cache: ArtifactCache, n: int, pipeline: str | None = None):
    return run_stage(Task(MODEL, NParams(n)), cache, Runtime(progress=False, pipeline=pipeline),
                     log=lambda m: None).artifact


def test_without_a_record_latest_is_the_newest_artifact(tmp_path):
    cache = ArtifactCache(tmp_path)
    assert cache.latest("model") is None
    build(cache, 1)
    time.sleep(0.01)
    newest = build(cache, 2)
    assert cache.pointer("model") is None
    assert cache.latest("model").key == newest.key


def test_a_recorded_pointer_wins_over_the_newest_artifact(tmp_path):
    cache = ArtifactCache(tmp_path)
    best = build(cache, 1, pipeline="p")
    time.sleep(0.01)
    build(cache, 2, pipeline="p")  # newer, as the last variant of a grid is
    cache.record_latest("model", best.key, pipeline="p", variant="v1")
    assert cache.latest("model").key == best.key
    assert cache.latest("model", "p").key == best.key
    pointer = cache.pointer("model", "p")
    assert (pointer.key, pointer.pipeline, pointer.variant) == (best.key, "p", "v1")
    assert cache.latest("model", "other") is None  # no run of that pipeline, no artifact it built
    # written whole, then renamed: no temporary file is left next to the pointer
    assert sorted(p.name for p in cache.latest_dir.iterdir()) == ["model.json", "p"]


def test_a_pointer_to_a_removed_artifact_is_one_clear_error(tmp_path):
    cache = ArtifactCache(tmp_path)
    art = build(cache, 1, pipeline="p")
    build(cache, 2)
    cache.record_latest("model", art.key, pipeline="p", variant="v1")
    os.rename(art.path, tmp_path / "elsewhere")  # removed by hand: the pointer now dangles
    with pytest.raises(ConfigError, match=r"no longer in the cache.*cache ls --stage model") as err:
        cache.latest("model")
    assert art.key[:12] in str(err.value) and "variant v1" in str(err.value)


def test_a_pointer_to_a_damaged_artifact_says_so(tmp_path):
    cache = ArtifactCache(tmp_path)
    art = build(cache, 1)
    cache.record_latest("model", art.key)
    (art.path / "manifest.json").write_text("{")
    with pytest.raises(DataError, match="damaged"):
        cache.latest("model")


def test_clear_drops_the_pointers_to_what_it_removed(tmp_path):
    cache = ArtifactCache(tmp_path)
    art = build(cache, 1)
    cache.record_latest("model", art.key, pipeline="p")
    cache.record_latest("other", "0" * 20)  # names an artifact that never was
    assert cache.clear("model") == 1
    assert cache.pointer("model") is None and cache.pointer("model", "p") is None
    assert cache.pointer("other") is None
    assert cache.latest("model") is None


def test_a_pointer_file_that_is_not_a_pointer_is_ignored(tmp_path):
    cache = ArtifactCache(tmp_path)
    art = build(cache, 1)
    cache.pointer_file("model").parent.mkdir(parents=True)
    for text in ("{", json.dumps(["model"]), json.dumps({"stage": "other", "key": art.key})):
        cache.pointer_file("model").write_text(text)
        assert cache.pointer("model") is None
        assert cache.latest("model").key == art.key  # the fallback: the newest artifact
