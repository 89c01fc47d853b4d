"""A pipeline run by two processes whose caches are not shared (one per machine): rank 0 builds, and the other
process receives each artifact's files over the process group, so both caches end with the same artifacts, byte
for byte; the training stage is built by both, committed by rank 0 alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.training.distributed import launch

pytestmark = pytest.mark.e2e  # a whole pipeline in two fresh processes

WORKER = Path(__file__).with_name("pipeline_worker.py")


def test_two_processes_with_a_cache_each_end_with_the_same_artifacts(tmp_path):
    assert launch([sys.executable, str(WORKER), str(tmp_path)], 2) == 0
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["stage"] for r in ranks[0]["runs"]] == ["tokenize", "train", "evaluate"]
    assert ranks[0]["model"] == ranks[1]["model"]
    assert ranks[1]["lines"] == [f"rank 1 of 2: done, train [{ranks[0]['model'][:12]}] is the artifact rank 0 "
                                 "committed"]
    assert Path(ranks[0]["report"]).is_dir() and ranks[1]["report"] == "."  # rank 0 writes the report
    caches = [ArtifactCache(tmp_path / f"cache{r}") for r in (0, 1)]
    for run in ranks[0]["runs"]:
        arts = [c.lookup(run["stage"], run["key"], rehash=True).artifact for c in caches]
        assert all(a is not None for a in arts), run["stage"]
        assert arts[0].digest == arts[1].digest and arts[0].manifest["files"] == arts[1].manifest["files"]
        assert arts[0].manifest["created"] == arts[1].manifest["created"]  # rank 0's build, copied
    for cache in caches:
        assert sorted(k for s, k in cache.entries() if s == "train") == [ranks[0]["model"]]
        assert not list(cache.artifacts_dir.glob("*/.tmp-*"))
