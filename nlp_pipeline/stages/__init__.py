"""The stages, one module each: its frozen parameter type, its build function, what `cache ls` says.

A stage module never imports the pipeline configuration: its build function receives its parameter
object, its inputs and a `BuildContext` (output folder, runtime settings, log), nothing else. How a
pipeline's settings become each stage's parameters is declared in `nlp_pipeline.pipelines`, which also
lists every stage in use (`nlp_pipeline.pipelines.registry.stages`).

Nor does a stage module import another one: what stages share is in `common` (progress bars, what
the training stages do alike) and `artifact_files` (the files tokenize and treebank write, and their
readers), the two modules here that are not stages.
"""
