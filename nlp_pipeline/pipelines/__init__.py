"""Pipelines: chains of cached stages behind ``nlp-pipeline run <name>``."""

from nlp_pipeline.pipelines.runner import run_pipeline
from nlp_pipeline.reports.results import PipelineResult, VariantResult

__all__ = ["PipelineResult", "VariantResult", "run_pipeline"]
