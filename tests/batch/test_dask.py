"""The Dask engine on a LocalCluster started here gives byte-for-byte the output of the local engine."""

from __future__ import annotations

import pytest
from batch_helpers import make_docs, write_jsonl, write_text
from click.testing import CliRunner

from nlp_pipeline.batch import process
from nlp_pipeline.cli import main

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.e2e  # a Dask cluster of two worker processes


def test_dask_engine_matches_local_engine(tmp_path, tiny_model):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_text(inputs / "a.txt", make_docs(300, seed=1) + [""])
    write_jsonl(inputs / "b.jsonl.gz", make_docs(200, seed=2))
    write_text(inputs / "c.txt", make_docs(100, seed=3))
    local = tmp_path / "local"
    expected = process([inputs], "sentiment", local, model=str(tiny_model), workers=1, progress=False)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        result = CliRunner().invoke(main, ["process", str(tiny_model), str(inputs),
                                           "-o", str(out), "--engine", "dask", "--scheduler",
                                           cluster.scheduler_address, "--json", "-q"])
        assert result.exit_code == 0, result.output
        assert '"written": 600' in result.stdout and '"rejected": 1' in result.stdout
        for name in ("a.jsonl", "b.jsonl", "c.jsonl", "errors.jsonl"):
            assert (out / name).read_bytes() == (local / name).read_bytes(), name
        # text_column as the CLI passes it: the read options are part of each shard's key
        again = process([inputs], "sentiment", out, model=str(tiny_model), engine="dask",
                        scheduler=cluster.scheduler_address, progress=False)
    assert (again.shards_skipped, again.shards_done) == (3, 0)  # resume works across engines
    assert expected.written == 600
