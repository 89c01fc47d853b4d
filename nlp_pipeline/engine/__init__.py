"""Stages, fingerprints, the content-addressed artifact cache, and pipelines as declared lists of steps.

A *stage* declares its name, a code version, a frozen parameter type and its inputs; its build
function receives exactly those. Its cache key hashes all of them plus the major library versions,
so a re-run redoes exactly the stages whose key changed and those after them (DVC's rule, made
stricter), and a setting the key leaves out cannot reach the build.
"""

from nlp_pipeline.engine.cache import (
    SHORT_KEY,
    Artifact,
    ArtifactCache,
    DiskFullError,
    Lookup,
    Pointer,
    default_cache_dir,
    short_key,
)
from nlp_pipeline.engine.fingerprint import fingerprint_path, hash_json
from nlp_pipeline.engine.pipeline import Pipeline, Step
from nlp_pipeline.engine.stage import (
    ArtifactRef,
    BuildContext,
    DataRef,
    PartialBuild,
    Runtime,
    Stage,
    StageRun,
    Task,
    run_stage,
)

__all__ = ["SHORT_KEY", "Artifact", "ArtifactCache", "ArtifactRef", "BuildContext", "DataRef", "DiskFullError",
           "Lookup", "PartialBuild", "Pipeline", "Pointer", "Runtime", "Stage", "StageRun", "Step", "Task",
           "default_cache_dir", "fingerprint_path", "hash_json", "run_stage", "short_key"]
