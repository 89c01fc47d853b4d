"""A rank of a launched run of the sentiment pipeline through the Python API, each rank with a cache of its own
(as machines without a shared filesystem have): ``python pipeline_worker.py ROOT`` runs it with the cache
``ROOT/cache<rank>`` and writes what its `run_pipeline` returned to ``ROOT/rank<rank>.json``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from nlp_pipeline.pipelines import run_pipeline

TINY = ["data.corpus=pang_lee_polarity", "data.text=[lee_background,pang_lee_polarity:train]",
        "model.embedding_mode=random", "runtime.threads=1", "model.hidden_size=8", "train.epochs=2",
        "train.batch_size=16"]

if __name__ == "__main__":
    root, rank = Path(sys.argv[1]), os.environ["RANK"]
    lines: list[str] = []
    result = run_pipeline("sentiment", TINY, cache_dir=root / f"cache{rank}", report_dir=root / "reports",
                          progress=False, log=lines.append)
    (root / f"rank{rank}.json").write_text(json.dumps({
        "runs": result.variants[0].stage_runs, "model": result.model.key, "report": str(result.report_dir),
        "lines": lines}))
