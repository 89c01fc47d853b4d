"""Run one toy stage in its own process, for the concurrency tests: ``python stage_process.py CACHE``.

The build sleeps ``$STAGE_SLEEP`` seconds (0 by default) while holding the key's lock, writes its pid
into the artifact and appends it to ``$STAGE_BUILDS`` (a file counting builds across processes).
Prints one JSON line: the key, whether it was a hit, and the pid the artifact was built by.
"""

import json
import os
import sys
import time
from dataclasses import dataclass

from nlp_pipeline.engine import ArtifactCache, Runtime, Stage, Task, run_stage


@dataclass(frozen=True)
class Params:
    n: int


def build(params: Params, inputs, ctx) -> dict:
    with open(os.environ["STAGE_BUILDS"], "a") as fh:
        fh.write(f"{os.getpid()}\n")
    (ctx.out_dir / "pid.txt").write_text(str(os.getpid()))
    (ctx.out_dir / "data.bin").write_bytes(os.urandom(1 << 16))
    time.sleep(float(os.environ.get("STAGE_SLEEP", "0")))
    return {"pid": os.getpid()}


if __name__ == "__main__":
    cache = ArtifactCache(sys.argv[1])
    result = run_stage(Task(Stage("toy", "1", Params, build), Params(1)), cache, Runtime(progress=False),
                       log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps({"key": result.artifact.key, "hit": result.hit,
                      "built_by": int(result.artifact.file("pid.txt").read_text())}))
