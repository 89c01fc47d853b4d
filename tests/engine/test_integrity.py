"""Damaged artifacts are detected on every hit, reported in one line and rebuilt; `verify_cache` names them."""

import json
from dataclasses import dataclass

import pytest

from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage
from nlp_pipeline.engine.verify import verify_cache


@dataclass(frozen=True)
class P:
    n: int


def two_files(params: P, inputs, ctx) -> dict:
    (ctx.out_dir / "weights.bin").write_bytes(bytes(range(256)) * params.n)
    (ctx.out_dir / "sub").mkdir()
    (ctx.out_dir / "sub" / "vocab.txt").write_text("a\nb\nc\n")
    return {}


def reads_upstream(params: P, inputs, ctx) -> dict:
    (ctx.out_dir / "copy.bin").write_bytes(inputs["up"].file("weights.bin").read_bytes())
    return {}


STAGE = Stage("w", "1", P, two_files)
DOWN = Stage("copy", "1", P, reads_upstream, inputs=("up",))


def _run(cache, task=None):
    logs: list[str] = []
    result = run_stage(task or Task(STAGE, P(4)), cache, Runtime(progress=False), log=logs.append)
    return result, logs


def _truncate(art):
    f = art.file("weights.bin")
    f.write_bytes(f.read_bytes()[:100])


def _same_size_corruption(art):
    f = art.file("weights.bin")
    data = bytearray(f.read_bytes())
    data[500] ^= 0xFF
    f.write_bytes(bytes(data))


def _delete(art):
    art.file("sub/vocab.txt").unlink()


def _garbage_manifest(art):
    art.file("manifest.json").write_text("[]")


def _half_manifest(art):
    text = art.file("manifest.json").read_text()
    art.file("manifest.json").write_text(text[: len(text) // 2])


def _edited_manifest(art):  # someone "fixes" a size by hand: the file table no longer matches its digest
    m = json.loads(art.file("manifest.json").read_text())
    m["files"]["weights.bin"]["sha256"] = "0" * 64
    art.file("manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(("damage", "message"), [
    (_truncate, "weights.bin is 100 bytes, the manifest says 1,024"),
    (_same_size_corruption, "weights.bin content differs"),
    (_delete, "sub/vocab.txt is missing"),
    (_garbage_manifest, "manifest is a JSON list"),
    (_half_manifest, "manifest is not valid JSON"),
    (_edited_manifest, "weights.bin content differs"),
])
def test_damage_is_reported_in_one_line_and_rebuilt(tmp_path, damage, message):
    cache = ArtifactCache(tmp_path / "cache")
    first, _ = _run(cache)
    damage(first.artifact)
    assert cache.get("w", first.artifact.key) is None  # never served
    verdicts = verify_cache(cache)
    assert len(verdicts) == 1 and message in verdicts[0].problem

    again, logs = _run(cache)
    assert not again.hit and message in again.rebuilt
    damaged_lines = [line for line in logs if "damaged" in line]
    assert len(damaged_lines) == 1 and message in damaged_lines[0] and "rebuilding" in damaged_lines[0]
    assert again.artifact.key == first.artifact.key
    assert len(again.artifact.file("weights.bin").read_bytes()) == 1024
    third, _ = _run(cache)
    assert third.hit
    assert all(v.ok for v in verify_cache(cache))
    assert not [p for p in (tmp_path / "cache" / "artifacts" / "w").iterdir() if p.name.startswith(".")]


def other_content(params: P, inputs, ctx) -> dict:
    (ctx.out_dir / "weights.bin").write_bytes(b"x" * 10)
    return {}


def test_verify_names_an_inconsistent_upstream(tmp_path):
    import dataclasses

    cache = ArtifactCache(tmp_path / "cache")
    up, _ = _run(cache)
    _run(cache, Task(DOWN, P(0), {"up": up.artifact}))
    assert all(v.ok for v in verify_cache(cache))
    # Other content under the same key (a code change without a version bump, forced): downstream was
    # built from the old content, and verify says so.
    changed = Task(dataclasses.replace(STAGE, build=other_content), P(4))
    assert changed.key(cache, Runtime()) == up.artifact.key
    run_stage(changed, cache, Runtime(progress=False), force=True, log=lambda m: None)
    verdicts = {v.stage: v for v in verify_cache(cache)}
    assert verdicts["w"].ok
    assert not verdicts["copy"].ok and "content has changed" in verdicts["copy"].upstream[0]


def test_verify_notes_a_cleared_upstream_without_calling_it_damage(tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    up, _ = _run(cache)
    _run(cache, Task(DOWN, P(0), {"up": up.artifact}))
    cache.clear("w")
    (v,) = verify_cache(cache)
    assert v.ok and "no longer in the cache" in v.notes[0]


def test_a_downstream_artifact_of_replaced_upstream_content_is_rebuilt(tmp_path):
    import dataclasses

    cache = ArtifactCache(tmp_path / "cache")
    up, _ = _run(cache)
    down, _ = _run(cache, Task(DOWN, P(0), {"up": up.artifact}))
    changed = Task(dataclasses.replace(STAGE, build=other_content), P(4))  # same key, other bytes
    new_up = run_stage(changed, cache, Runtime(progress=False), force=True, log=lambda m: None).artifact
    again, logs = _run(cache, Task(DOWN, P(0), {"up": new_up}))
    assert not again.hit and again.artifact.key == down.artifact.key
    assert [line for line in logs if "out of date" in line and "rebuilding" in line]
    assert again.artifact.file("copy.bin").read_bytes() == b"x" * 10
    assert all(v.ok for v in verify_cache(cache))


def test_a_hit_does_not_reread_unchanged_files_but_a_restored_mtime_does_not_hide_a_change(tmp_path, monkeypatch):
    import os

    import nlp_pipeline.engine.cache as cache_mod

    cache = ArtifactCache(tmp_path / "cache")
    first, _ = _run(cache)
    hashed: list = []
    real = cache_mod.sha256_file
    monkeypatch.setattr(cache_mod, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert _run(cache)[0].hit and hashed == []  # stat signatures match: nothing re-read
    f = first.artifact.file("weights.bin")
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[7] ^= 0x01
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only the change time moved
    again, logs = _run(cache)
    assert not again.hit and "weights.bin content differs" in again.rebuilt
    hashed.clear()
    assert all(v.ok for v in verify_cache(cache)) and hashed  # cache verify re-hashes everything
