"""The stages, one module each: its frozen parameter type, its build function, what `cache ls` says.

A stage module never imports the pipeline configuration: its build function receives its parameter
object, its inputs and a `BuildContext` (output folder, runtime settings, log), nothing else. How a
pipeline's settings become each stage's parameters is declared in `nlp_pipeline.pipelines`, which also
lists every stage in use (`nlp_pipeline.pipelines.registry.stages`).
"""
