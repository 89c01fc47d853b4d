"""Partial builds: kept when a build stops, resumed by the next build of the key, removed when it commits;
never served as an artifact; listed by `cache ls` with their progress and removed by `cache clear`
(except a build in progress)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import pytest
import torch
from click.testing import CliRunner

from nlp_pipeline.cli import main
from nlp_pipeline.engine import ArtifactCache, BuildContext, PartialBuild, Runtime, Stage, Task, run_stage
from nlp_pipeline.engine.cache import MANIFEST
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.pipelines.artifacts import resolve_model
from nlp_pipeline.training.checkpoint import Checkpoints

KEY = "0123456789abcdef0123"


def invoke(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@dataclass(frozen=True)
class Params:
    n: int


class Stop(Exception):
    pass


def build(params: Params, inputs, ctx: BuildContext) -> dict:
    """Counts to 3, a checkpoint after each step; with `STOP_AFTER_FIRST` it stops after the first (the
    kill, here: the key stays the same)."""
    checkpoints = Checkpoints(ctx.partial, "toy", ctx.log)
    found = checkpoints.load()
    count = int(found.tensors["count"]) if found is not None else 0
    while count < 3:
        count += 1
        checkpoints.save({"count": torch.tensor(count)}, {}, {"epoch": 1, "batch": count, "batches": 3})
        if STOP_AFTER_FIRST and count == 1:
            raise Stop
    (ctx.out_dir / "count.txt").write_text(str(count))
    return {"resumed": found is not None}


STOP_AFTER_FIRST = False
TOY = Stage("toy", "1", Params, build)


def write_partial(cache: ArtifactCache, stage: str, key: str, position: dict, part: str | None = None) -> PartialBuild:
    partial = PartialBuild(cache.partial_folder(stage, key), stage, key, "1", 0.0)
    partial = partial.of_part(part) if part else partial
    Checkpoints(partial, "toy", lambda m: None).save({"w": torch.zeros(1000)}, {}, position)
    return partial


def test_a_stopped_build_keeps_its_checkpoint_and_the_next_resumes_then_removes_it(tmp_path, monkeypatch):
    cache, lines = ArtifactCache(tmp_path), []
    task = Task(TOY, Params(1))
    monkeypatch.setattr(sys.modules[__name__], "STOP_AFTER_FIRST", True)
    with pytest.raises(Stop):
        run_stage(task, cache, Runtime(), log=lines.append)
    key = task.key(cache, Runtime())
    assert (cache.partial_folder("toy", key) / "checkpoint.json").is_file()
    assert lines[-1] == (f"  toy [{key[:12]}] stopped (Stop); its last checkpoint is kept: the same command "
                         "resumes from it")
    monkeypatch.setattr(sys.modules[__name__], "STOP_AFTER_FIRST", False)
    lines.clear()
    done = run_stage(task, cache, Runtime(), log=lines.append)
    assert lines == [f"  resuming toy [{key[:12]}] from epoch 1, batch 1 of 3 (checkpoint 0 s old)"]
    assert done.artifact.metadata == {"resumed": True} and done.artifact.file("count.txt").read_text() == "3"
    assert not cache.partial_folder("toy", key).exists()


def test_a_rebuild_starts_from_the_beginning(tmp_path, monkeypatch):
    cache, task = ArtifactCache(tmp_path), Task(TOY, Params(2))
    monkeypatch.setattr(sys.modules[__name__], "STOP_AFTER_FIRST", True)
    with pytest.raises(Stop):
        run_stage(task, cache, Runtime())
    monkeypatch.setattr(sys.modules[__name__], "STOP_AFTER_FIRST", False)
    lines: list[str] = []
    assert run_stage(task, cache, Runtime(), force=True, log=lines.append).artifact.metadata == {"resumed": False}
    assert lines == []


def test_a_partial_build_is_never_served_as_an_artifact(tmp_path):
    cache = ArtifactCache(tmp_path)
    partial = write_partial(cache, "train", KEY, {"epoch": 2, "batch": 140, "batches": 512})
    # Even a folder there that looks like an artifact is none: no lookup reads that tree.
    (partial.folder / MANIFEST).write_text(json.dumps({"stage": "train", "key": KEY, "files": {}, "metadata": {},
                                                        "params": {}, "inputs": {}, "digest": "", "created": 1.0}))
    assert cache.lookup("train", KEY).artifact is None and cache.get("train", KEY) is None
    assert list(cache) == [] and list(cache.entries()) == [] and cache.find(KEY[:6]) == []
    assert cache.latest("train") is None
    for ref in ("latest", KEY[:12]):
        with pytest.raises(ConfigError):
            resolve_model(ref, tmp_path)


def test_cache_ls_shows_partial_builds_and_clear_removes_them(tmp_path):
    cache = ArtifactCache(tmp_path)
    write_partial(cache, "train", KEY, {"epoch": 2, "batch": 140, "batches": 512})
    write_partial(cache, "finetune_lm", "feedfacefeedfacefeed", {"finished": True}, part="forward")
    listing = invoke("cache", "ls", "--cache-dir", tmp_path)
    assert listing.startswith(f"no artifacts in {cache.artifacts_dir}\n\npartial builds (")
    rows = listing.split("checkpoint age\n", 1)[1].splitlines()[1:]
    assert [row.split()[:6] for row in rows] == [
        ["finetune_lm", "feedfacefeed", "forward", "the", "end", "of"],
        ["train", "0123456789ab", "epoch", "2,", "batch", "140"]]
    assert rows[1].split("140 of 512")[1].split() == ["0.0", "MB", "0", "s"]
    records = json.loads(invoke("cache", "ls", "--json", "--stage", "train", "--cache-dir", tmp_path))
    assert records["artifacts"] == [] and [(p["stage"], p["key"], p["progress"], p["position"]) for p in
                                           records["partial"]] == [("train", KEY, "epoch 2, batch 140 of 512",
                                                                    {"epoch": 2, "batch": 140, "batches": 512})]
    cleared = invoke("cache", "clear", "--stage", "train", "--yes", "--cache-dir", tmp_path)
    assert cleared == f"removed 0 artifact(s) and 1 partial build(s) from {cache.artifacts_dir}\n"
    assert [(s, k) for s, k, _ in cache.partial_entries()] == [("finetune_lm", "feedfacefeedfacefeed")]
    cleared = json.loads(invoke("cache", "clear", "--yes", "--json", "--cache-dir", tmp_path))
    assert cleared == {"removed": 0, "partial": 1, "cache": str(cache.artifacts_dir)}
    assert list(cache.partial_entries()) == []


def test_clear_leaves_the_partial_build_of_a_build_in_progress(tmp_path):
    cache = ArtifactCache(tmp_path)
    write_partial(cache, "train", KEY, {"epoch": 1, "batch": 1, "batches": 2})
    with cache.lock("train", KEY):  # as a running build holds it
        assert cache.clear() == 0 and cache.clear_partial() == 0
        assert (cache.partial_folder("train", KEY) / "checkpoint.json").is_file()
    assert cache.clear_partial() == 1
