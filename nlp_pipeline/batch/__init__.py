"""Streaming batch processing: tokenize, classify or tag many files in parallel, resumably, locally or on Dask.

>>> from nlp_pipeline.batch import process                                          # doctest: +SKIP
>>> summary = process(["data/reviews/"], "sentiment", "out/", model="latest")      # doctest: +SKIP
>>> summary.written, summary.rejected, round(summary.docs_per_second)              # doctest: +SKIP
(49998, 2, 1234)

Modules: `inputs` (input files → shards; reading is `nlp_pipeline.data.readers`), `tasks` (the task
registry: tokenize, sentiment, tagging), `shards` (one shard, written then renamed; resume),
`executors` (in-process, local process pool, Dask), `runner` (`process` and its summary).
"""

from nlp_pipeline.batch.inputs import InputError, ReadOptions
from nlp_pipeline.batch.runner import ProcessSummary, RejectedRecordsError, WorkerError, process
from nlp_pipeline.batch.tasks import TASKS, ModelSupportError, Task, TaskSpec, register_task

__all__ = ["TASKS", "InputError", "ModelSupportError", "ProcessSummary", "ReadOptions", "RejectedRecordsError", "Task",
           "TaskSpec", "WorkerError", "process", "register_task"]
