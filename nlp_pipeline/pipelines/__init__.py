"""Pipelines: chains of cached stages behind ``nlp-pipeline run <name>``."""

from nlp_pipeline.pipelines.runner import PipelineResult, VariantResult, run_pipeline

__all__ = ["PipelineResult", "VariantResult", "run_pipeline"]
