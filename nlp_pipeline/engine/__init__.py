"""Stages, fingerprints and the content-addressed artifact cache.

A *stage* declares its name, a code version, the parameters it reads and its inputs (files or
upstream artifacts). Its cache key is a hash of all of these plus the major library versions, so a
re-run redoes exactly the stages whose key changed and those after them (DVC's rule, made stricter).
"""

from nlp_pipeline.engine.cache import Artifact, ArtifactCache, default_cache_dir
from nlp_pipeline.engine.fingerprint import fingerprint_path, hash_json
from nlp_pipeline.engine.stage import Stage, StageContext, StageRun, run_stage

__all__ = [
    "Artifact",
    "ArtifactCache",
    "Stage",
    "StageContext",
    "StageRun",
    "default_cache_dir",
    "fingerprint_path",
    "hash_json",
    "run_stage",
]
