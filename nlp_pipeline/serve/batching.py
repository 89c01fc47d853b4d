"""Batching across requests: the items of concurrent requests gathered for a few milliseconds, then run as one
model call on the model's worker thread.

The shape of Ray Serve's ``@serve.batch``: a caller awaits the results of its own items; one consumer task
takes the oldest waiting request and lets others join it until the batch holds ``max_size`` items or
``wait_s`` has passed since that request arrived, then hands the batch to the worker thread. While the worker
runs a batch, new requests wait, so the next batch forms at once from everything that arrived meanwhile:
under load batches grow and the per-call cost (a model forward, a matrix product) is shared, while a lone
request waits at most ``wait_s``. With batching off, every request is its own call (the baseline a benchmark
compares against); the worker thread still keeps the CPU work off the event loop.

The batch function maps a list of items to a list of results, one each, in order, and must give each item
the result it would get alone: the classifier and tagger mask their padding, so they do. A batcher made with
``streams=True`` also passes it ``deliver(positions, results)``, which it calls on the worker thread as parts
of the batch are done (the classifier: each length group it scores); a request is answered as soon as all of
its items are, so the event loop writes the first answers, and reads those clients' next requests, while the
model still works on the rest, instead of idling until the whole batch is done.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

# What a streaming batch function calls, on the worker thread, with (positions in the batch, their results)
# as parts of the batch are done.
Deliver = Callable[[list[int], list[Any]], None]


@dataclass
class BatchStats:
    """What a batcher has done: requests and items submitted, model calls made, the largest call in items."""

    requests: int = 0
    items: int = 0
    model_calls: int = 0
    largest_batch: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Waiting:
    items: list[Any]
    future: asyncio.Future
    arrived: float


class Batcher:
    """Runs ``run(items) -> results`` on ``executor`` for batches of concurrently submitted items."""

    def __init__(self, name: str, run: Callable[[list[Any]], list[Any]], executor: Executor, *, enabled: bool,
                 wait_s: float, max_size: int, stats: BatchStats | None = None, streams: bool = False) -> None:
        self.name = name
        self.run = run
        self.streams = streams  # run(items, deliver) hands back parts of a batch as they are done
        self.executor = executor
        self.enabled = enabled
        self.wait_s = wait_s
        self.max_size = max_size
        self.stats = stats if stats is not None else BatchStats()  # given: it outlives this batcher
        # Bound to the event loop that first submits (a test may run the app on several loops in turn).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: collections.deque[_Waiting] = collections.deque()
        self._waiting_items = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """The results of ``items`` (in order), computed in a batch with other requests' items."""
        items = list(items)
        self.stats.requests += 1
        self.stats.items += len(items)
        loop = asyncio.get_running_loop()
        if not self.enabled or not items:
            return await self._call(loop, items)
        self._start(loop)
        future = loop.create_future()
        self._waiting.append(_Waiting(items, future, loop.time()))
        self._waiting_items += len(items)
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    def close(self) -> None:
        """Stop the consumer task; requests still waiting are cancelled."""
        if self._task is not None:
            self._task.cancel()
        for waiting in self._waiting:
            waiting.future.cancel()
        self._waiting.clear()
        self._waiting_items = 0
        self._task = None

    # ------------------------------------------------------------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop and self._task is not None and not self._task.done():
            return
        if self._loop is not loop:  # a new loop: what waited on the old one can never be answered
            self._waiting.clear()
            self._waiting_items = 0
        self._loop = loop
        self._wakeup = asyncio.Event()
        self._task = loop.create_task(self._consume(), name=f"batcher-{self.name}")

    async def _call(self, loop: asyncio.AbstractEventLoop, items: list[Any],
                    deliver: Deliver | None = None) -> list[Any]:
        self.stats.model_calls += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(items))
        if deliver is None:
            results = await loop.run_in_executor(self.executor, self.run, items)
        else:  # parts come back to the loop thread as they are done
            def on_loop(positions: list[int], part: list[Any]) -> None:
                loop.call_soon_threadsafe(deliver, positions, part)

            results = await loop.run_in_executor(self.executor, self.run, items, on_loop)
        if len(results) != len(items):
            raise RuntimeError(f"{self.name}: {len(results)} results for {len(items)} items")
        return results

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> list[_Waiting]:
        """Wait for a first request, then for others until the batch is full or the first has waited wait_s."""
        wakeup = self._wakeup
        assert wakeup is not None
        while not self._waiting:
            wakeup.clear()
            await wakeup.wait()
        deadline = self._waiting[0].arrived + self.wait_s
        while self._waiting_items < self.max_size:
            timeout = deadline - loop.time()
            if timeout <= 0:
                break
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), timeout)
            except TimeoutError:
                break
        batch, size = [], 0
        while self._waiting and (not batch or size + len(self._waiting[0].items) <= self.max_size):
            waiting = self._waiting.popleft()
            self._waiting_items -= len(waiting.items)
            if waiting.future.cancelled():  # its client went away
                continue
            batch.append(waiting)
            size += len(waiting.items)
        return batch

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather(loop)
            if not batch:
                continue
            answers = _Answers(batch)
            try:
                results = await self._call(loop, [item for waiting in batch for item in waiting.items],
                                           answers.deliver if self.streams else None)
            except Exception as err:  # noqa: BLE001  (each request gets the error; the consumer goes on)
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(err)
                continue
            answers.finish(results)


class _Answers:
    """Hands each request of a batch its results, as soon as all of its items are done: a batch function that
    streams (``deliver``) lets the first requests be answered, and their clients send their next ones, while the
    rest of the batch is still computing, so the HTTP work overlaps the model's instead of alternating with it."""

    def __init__(self, batch: list[_Waiting]) -> None:
        self.batch = batch
        # position in the batch -> (its request, its place among that request's items)
        self.owner = [(w, at) for w, waiting in enumerate(batch) for at in range(len(waiting.items))]
        self.parts: list[list[Any]] = [[None] * len(waiting.items) for waiting in batch]
        self.missing = [len(waiting.items) for waiting in batch]

    def deliver(self, positions: list[int], results: list[Any]) -> None:
        for position, result in zip(positions, results):
            w, at = self.owner[position]
            self.parts[w][at] = result
            self.missing[w] -= 1
            if self.missing[w] == 0 and not self.batch[w].future.done():
                self.batch[w].future.set_result(self.parts[w])

    def finish(self, results: list[Any]) -> None:
        """The whole batch's results: every request not yet answered gets its part."""
        at = 0
        for waiting in self.batch:
            part, at = results[at:at + len(waiting.items)], at + len(waiting.items)
            if not waiting.future.done():
                waiting.future.set_result(part)
