"""Where shards run: in this process, in a pool of local worker processes, or on a Dask cluster.

All three call the same `run_shard`, so output, resume and error handling do not depend on the
engine. The local pool uses the ``spawn`` start method (no fork of a parent that holds torch's
thread pools or tqdm's monitor thread) and each worker loads the task once (`load_task` caches it
per process); workers report (documents, tokens) per batch through a queue for the progress bar.
Dask workers write their shards straight into the output folder, which must therefore be on storage
every worker sees (as must the inputs and the model folder); they report per finished shard.

A shard whose worker raised or died is returned as a ``failed`` result with ``scope: worker``: the
other shards still finish, and `nlp_pipeline.batch.process` raises at the end.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from nlp_pipeline.batch.shards import Progress, ShardJob, ShardResult, run_shard
from nlp_pipeline.batch.tasks import load_task
from nlp_pipeline.errors import ConfigError

ENGINES = ("local", "dask")
OnResult = Callable[[ShardResult], None]
POLL_SECONDS = 0.2  # how often the parent turns worker progress messages into progress-bar updates


def run_in_process(jobs: list[ShardJob], on_result: OnResult, progress: Progress) -> int:
    """One worker: this process, no pool to start (what ``workers=1`` means), the task loaded once.

    The task is not cached here once the run is over, and torch's thread count is put back, so a
    notebook that goes on to train something gets its cores back. Returns the number of workers (1).
    """
    if not jobs:
        return 1
    task = load_task(jobs[0].spec, cache=False)
    try:
        for job in jobs:
            try:
                result = run_shard(job, task, progress)
            except Exception as err:  # noqa: BLE001 - reported per shard, as in the pool
                result = _failed(job, err)
            on_result(result)
    finally:
        if task.torch_threads_before:
            import torch

            torch.set_num_threads(task.torch_threads_before)
    return 1


_QUEUE = None  # the progress queue, in a pool worker


def _init_worker(progress_queue) -> None:
    global _QUEUE
    _QUEUE = progress_queue


def _report(documents: int, tokens: int) -> None:
    if _QUEUE is not None:
        _QUEUE.put((documents, tokens))


def _pool_job(job: ShardJob) -> ShardResult:
    return run_shard(job, progress=_report)


def run_pool(jobs: list[ShardJob], workers: int, on_result: OnResult, progress: Progress) -> int:
    """Shards over ``workers`` spawned processes (no more than shards); results come back as shards finish."""
    workers = max(1, min(workers, len(jobs)))
    ctx = mp.get_context("spawn")
    progress_queue = ctx.Queue()

    def drain() -> None:
        while True:
            try:
                documents, tokens = progress_queue.get_nowait()
            except queue_mod.Empty:
                return
            progress(documents, tokens)

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(progress_queue,))
    try:
        futures: dict[Future, ShardJob] = {pool.submit(_pool_job, job): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                on_result(_result(future, futures[future]))
        drain()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress_queue.close()
    return workers


def _result(future, job: ShardJob) -> ShardResult:
    """The worker's result, or a failed one for a worker that raised or died (BrokenProcessPool, KilledWorker)."""
    try:
        return future.result()
    except Exception as err:  # noqa: BLE001 - reported per shard; the run raises once all shards are done
        return _failed(job, err)


def _failed(job: ShardJob, err: BaseException) -> ShardResult:
    message = " ".join(f"{type(err).__name__}: {err}".split())
    entry = {"file": job.shard.source.path, "line": None, "shard": job.shard.name,
             "error": f"worker failed: {message}", "scope": "worker"}
    return ShardResult(job.shard.name, job.shard.source.path, "failed", error=entry)


def run_dask(jobs: list[ShardJob], workers: int, scheduler: str | None, on_result: OnResult,
             progress: Progress) -> int:
    """Shards as Dask tasks: on the cluster at ``scheduler``, or on a `LocalCluster` of ``workers`` processes.

    Returns the number of Dask workers the cluster had when the shards were submitted.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("the dask engine needs dask.distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            message = " ".join(str(err).split())
            raise ConfigError(f"cannot connect to the Dask scheduler at {scheduler!r}: {message}") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        futures = {client.submit(run_shard, job, pure=False): job for job in jobs}
        for future in as_completed(futures):
            result = _result(future, futures[future])
            progress(result.written, result.tokens)
            on_result(result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return n_workers
