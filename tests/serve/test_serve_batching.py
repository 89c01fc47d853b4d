"""Batching across requests: concurrent requests become fewer model calls, and every answer is the one the same
text gets alone; model work never blocks the event loop."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from serve_helpers import texts_of_many_lengths


def _app(models, **settings):
    from nlp_pipeline.serve import create_app

    return create_app(models=models, settings=settings)


def _concurrently(app, requests: list[tuple[str, dict]]) -> list[dict]:
    """Every request sent at once (one event loop, as uvicorn runs the app); their JSON answers in order."""

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
            return await asyncio.gather(*(client.post(path, json=body) for path, body in requests))

    try:
        responses = asyncio.run(send())
    finally:
        app.state.server.close()
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    return [r.json() for r in responses]


def _stats(app) -> dict:
    return {name: counts.to_dict() for name, counts in app.state.server.counts.items()}


def test_batched_answers_equal_unbatched_ones_and_each_text_alone(models, lee_lines):
    texts = texts_of_many_lengths(lee_lines, 24)  # 1 to 200 words: a batch pads most of them
    requests = [("/v1/classify", {"texts": [t]}) for t in texts] + [("/v1/classify", {"texts": texts[:5]})]
    requests += [("/v1/tag", {"texts": [t]}) for t in texts[:12]] + [("/v1/tag", {"tokens": [t.split()]})
                                                                     for t in texts[12:]]
    requests += [("/v1/similar", {"words": [w], "topn": 5}) for w in ("police", "government", "fire", "australia")]
    requests += [("/v1/analogy", {"queries": [["man", "king", "woman"]]}), ("/v1/similarity",
                                                                            {"pairs": [["police", "fire"]]})]
    batched_app = _app(models, batching=True, batch_wait_ms=20)
    batched = _concurrently(batched_app, requests)
    unbatched_app = _app(models, batching=False)
    unbatched = _concurrently(unbatched_app, requests)
    gathered, alone = _stats(batched_app), _stats(unbatched_app)
    assert gathered["classify"]["requests"] == alone["classify"]["requests"] == 25
    assert gathered["classify"]["model_calls"] < 25 and gathered["classify"]["largest_batch"] > 1
    assert alone["classify"]["model_calls"] == 25 and alone["classify"]["largest_batch"] == 5
    assert gathered["tag"]["model_calls"] < gathered["tag"]["requests"] == 24
    assert gathered["vectors"]["model_calls"] < gathered["vectors"]["requests"] == 6
    for got, want in zip(batched, unbatched):
        if "labels" in got:  # classify: the same labels, probabilities within 1e-6 (padding is masked)
            assert [r["label"] for r in got["results"]] == [r["label"] for r in want["results"]]
            for g, w in zip(got["results"], want["results"]):
                assert g["probabilities"] == pytest.approx(w["probabilities"], abs=1e-6)
        elif "model" in got:  # tag: the same tokens and tags
            assert got == want
        else:  # vector queries: the same words, scores within the 6th place they are rounded to
            for g, w in zip(got["results"], want["results"]):
                assert g.get("query") == w.get("query") and g.get("similarity") == pytest.approx(
                    w.get("similarity"), abs=1.01e-6)
                assert [n["word"] for n in g.get("results", [])] == [n["word"] for n in w.get("results", [])]
                assert [n["score"] for n in g.get("results", [])] == pytest.approx(
                    [n["score"] for n in w.get("results", [])], abs=1.01e-6)
    predictor = models.classifier.engine
    for text, got in zip(texts, batched):
        alone_probs = predictor.predict([text])[0]["probabilities"]
        assert got["results"][0]["probabilities"] == pytest.approx(alone_probs, abs=1e-6)


def test_sixteen_concurrent_requests_make_fewer_model_calls_within_the_batch_size(models):
    requests = [("/v1/classify", {"texts": [f"film number {i} was {'good' if i % 2 else 'bad'}"]}) for i in range(16)]
    app = _app(models, batching=True, batch_wait_ms=20)
    _concurrently(app, requests)
    stats = _stats(app)["classify"]
    assert stats["requests"] == stats["items"] == 16 and stats["model_calls"] < 16 and stats["largest_batch"] > 1
    capped = _app(models, batching=True, batch_wait_ms=20, batch_max_size=4)
    _concurrently(capped, requests)
    stats = _stats(capped)["classify"]
    assert stats["largest_batch"] <= 4 and stats["model_calls"] >= 4
    # A request larger than a batch still runs, whole, alone.
    big = _app(models, batching=True, batch_max_size=2)
    assert len(_concurrently(big, [("/v1/classify", {"texts": ["a", "b", "c"]})])[0]["results"]) == 3
    assert _stats(big)["classify"]["largest_batch"] == 3


def test_model_work_runs_off_the_event_loop(models, lee_lines):
    """A perplexity over 256 documents (about a second) runs on the language model's thread while the loop
    answers /health and a classification."""
    app = _app(models)

    async def scenario() -> tuple[bool, bool]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
            long = asyncio.create_task(client.post("/v1/perplexity", json={"texts": lee_lines[:256]}))
            await asyncio.sleep(0.05)  # the request is read and handed to its worker
            health = await client.get("/health")
            classified = await client.post("/v1/classify", json={"texts": ["a gorgeous, witty film"]})
            answered_first = not long.done()
            assert health.status_code == classified.status_code == 200
            assert (await long).status_code == 200
            return answered_first, True

    try:
        answered_first, _ = asyncio.run(scenario())
    finally:
        app.state.server.close()
    assert answered_first


def test_a_streaming_batch_answers_its_first_requests_while_the_rest_still_computes():
    """A batch function that delivers parts lets the loop answer those requests before the batch ends."""
    import concurrent.futures
    import threading

    from nlp_pipeline.serve.batching import Batcher

    released = threading.Event()

    def run(items, deliver=None):
        deliver([0], [items[0] * 10])  # the first item is done...
        assert released.wait(10), "the first request was not answered while the batch still ran"
        return [x * 10 for x in items]  # ...the rest only once the test saw that answer

    async def main():
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            batcher = Batcher("t", run, pool, enabled=True, wait_s=0.05, max_size=8, streams=True)
            first = asyncio.ensure_future(batcher.submit([1]))
            rest = asyncio.ensure_future(batcher.submit([2, 3]))
            assert await asyncio.wait_for(first, 5) == [10]
            assert not rest.done()
            released.set()
            assert await asyncio.wait_for(rest, 5) == [20, 30]
            assert batcher.stats.model_calls == 1
            batcher.close()

    asyncio.run(main())
