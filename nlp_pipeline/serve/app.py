"""The HTTP API: `create_app` builds a FastAPI app over loaded models, for ``nlp-pipeline serve``, for tests, or
to mount in another service.

Endpoints (every JSON body documented at ``/docs``): ``GET /health``; ``GET /v1/models`` (what is loaded);
``POST /v1/classify``, ``/v1/tag``, ``/v1/similar``, ``/v1/similarity``, ``/v1/analogy``, ``/v1/generate``,
``/v1/perplexity``; ``GET /v1/map`` (the vectors' most frequent words in 2-D, for a web page); ``GET /v1/stats``
(requests, items and model calls per batching queue). ``GET /`` is a web page over those endpoints (its files
in ``static/``, served under ``/static/``), public like ``/health``: it holds no data, and asks for the key
when the API needs one.

The event loop never runs model code: each kind of model has its own worker thread (a model is used from one
thread only), and classify, tag and the vector queries go through a `Batcher` that gathers concurrent requests
into one call. Models are loaded when the app is created, never because of a request.

>>> app = create_app(model="latest", settings={"batch_wait_ms": 2})   # doctest: +SKIP
>>> uvicorn.run(app, port=8000)                                         # doctest: +SKIP
"""

import asyncio
import collections
import concurrent.futures
import functools
import logging
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Security
from fastapi.responses import FileResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from nlp_pipeline.device import resolve_threads
from nlp_pipeline.errors import ConfigError, UnknownWordError
from nlp_pipeline.serve import errors, schemas
from nlp_pipeline.serve.batching import Batcher, BatchStats
from nlp_pipeline.serve.errors import ApiError
from nlp_pipeline.serve.guard import STATIC_PREFIX, Guard
from nlp_pipeline.serve.loading import OPTIONS, Loaded, LoadedModels, load_models
from nlp_pipeline.serve.memory import MemoryReleaser, releasing
from nlp_pipeline.serve.work import TagItem, VectorQuery, classify_batch, tag_batch, vector_batch
from nlp_pipeline.settings import Serve, error_message

log = logging.getLogger(__name__)

API_VERSION = "1"
# The batching queues: each endpoint group, the kind of model it runs on, and what that model runs for a batch.
BATCHED: dict[str, tuple[str, Callable[..., list[Any]]]] = {
    "classify": ("classifier", classify_batch), "tag": ("tagger", tag_batch), "vectors": ("vectors", vector_batch)}
STREAMED = {"classify"}  # batch functions that hand back each scored part of a batch at once (``deliver``)
STATIC = Path(__file__).parent / "static"  # the web page's files (package data)
# The page's scripts, styles and requests are this server's own: no CDN, nothing fetched from elsewhere, and no
# other site may frame it.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; script-src 'self'; "
                "style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
MAP_CACHE = 8  # projections kept (by word count and method): a web page asks for one or two
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorResponse, "description": about} for status, about in (
        (400, "the body is not JSON, or not UTF-8"), (401, "no API key, or a wrong one (when the server has one)"),
        (404, "an unknown word, or a kind of model this server does not hold"), (413, "the body is over the limit"),
        (422, "a field is missing, empty, of the wrong type or over a limit"))}


def serve_settings(settings: Serve | Mapping[str, Any] | None) -> Serve:
    """``settings`` as a `Serve` group (a mapping is validated: a bad value is a `ConfigError` naming it)."""
    if settings is None:
        return Serve()
    if isinstance(settings, Serve):
        return settings
    try:
        return Serve(**dict(settings))
    except ValidationError as err:
        raise ConfigError(error_message(err, Serve, "serve")) from None


def torch_threads(settings: Serve, models: LoadedModels) -> int:
    """Torch threads for the workers: ``serve.threads``, or with 0 the cores but one (the event loop's, which
    parses and answers every request) shared out among the loaded models' worker threads (they can run at
    once; more threads than cores only makes them wait on each other). Measured on 2 cores with a classifier
    alone: 2 torch threads answered 400 batched and 131 unbatched classify requests/s under 32 clients, 1
    thread 700 and 244."""
    if settings.threads:
        return settings.threads
    return max(1, (resolve_threads(0) - 1) // max(1, len(models.loaded())))


class Server:
    """One app's state: the loaded models, the settings, a worker thread per kind of model, the batchers, the
    map's projections. Opened lazily by the first request (an app mounted in another app gets no lifespan
    events) and closed by the app's shutdown."""

    def __init__(self, models: LoadedModels, settings: Serve) -> None:
        self.models = models
        self.settings = settings
        self.executors: dict[str, concurrent.futures.ThreadPoolExecutor] = {}
        self.batchers: dict[str, Batcher] = {}
        # What each batching queue has done, kept across a close and a new open (an app's lifespans in tests).
        self.counts = {name: BatchStats() for name, (kind, _) in BATCHED.items() if getattr(models, kind) is not None}
        self._maps: collections.OrderedDict[tuple[int, str], concurrent.futures.Future] = collections.OrderedDict()
        self.map_projections = 0
        self.releaser = MemoryReleaser()  # what batches free goes back to the system, once a second at most

    def open(self) -> None:
        if self.executors:
            return
        for loaded in self.models.loaded():
            self.executors[loaded.kind] = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"serve-{loaded.kind}")
        if self.models.vectors is not None:  # a projection takes seconds: not on the queries' thread
            self.executors["map"] = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="serve-map")
        s = self.settings
        for name in self.counts:
            kind, run = BATCHED[name]
            run_batch = releasing(functools.partial(run, getattr(self.models, kind).engine), self.releaser)
            self.batchers[name] = Batcher(name, run_batch, self.executors[kind], enabled=s.batching,
                                          wait_s=s.batch_wait_ms / 1000, max_size=s.batch_max_size,
                                          stats=self.counts[name], streams=name in STREAMED)

    def close(self) -> None:
        for batcher in self.batchers.values():
            batcher.close()
        for executor in self.executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self.batchers.clear()
        self.executors.clear()

    def require(self, kind: str) -> Loaded:
        """The loaded artifact of ``kind``; a 404 naming what is loaded when the server holds none."""
        loaded = getattr(self.models, kind)
        if loaded is None:
            have = ", ".join(k.replace("_", " ") for k in self.models.kinds())
            raise ApiError(404, OPTIONS[kind].lstrip("-"), f"this server holds no {kind.replace('_', ' ')} (start it "
                           f"with {OPTIONS[kind]} REF); it holds: {have}")
        self.open()
        return loaded

    async def run(self, kind: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the worker thread of ``kind``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executors[kind], functools.partial(fn, *args, **kwargs))

    async def rows(self, queries: list[list[str]], field: str) -> list[tuple[int, ...]]:
        """Each query's words as rows of the vectors; an unknown word is a 404 naming it (``field[i]`` or
        ``field[i][j]``) with close spellings, which are looked for on the vectors' thread."""
        index = self.models.vectors.engine  # type: ignore[union-attr]
        out = []
        for i, words in enumerate(queries):
            for j, word in enumerate(words):
                if word not in index:
                    suggestions = await self.run("vectors", index.suggest, word)
                    where = f"{field}[{i}]" + (f"[{j}]" if field != "words" else "")
                    err = UnknownWordError(word, suggestions, vocab_size=len(index))
                    raise ApiError(404, where, err.message, suggestions=suggestions)
            out.append(tuple(index.key_to_index[w] for w in words))
        return out

    async def projection(self, n: int, method: str) -> list[dict[str, Any]]:
        """The map's points for ``n`` words by ``method``: computed once (on the map's thread), then cached."""
        key = (n, method)
        future = self._maps.get(key)
        if future is None:
            index = self.models.vectors.engine  # type: ignore[union-attr]
            future = self.executors["map"].submit(self._project, index, n, method)
            self._maps[key] = future
            while len(self._maps) > MAP_CACHE:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(key)
        try:
            return await asyncio.wrap_future(future)
        except ValueError as err:  # a method that needs a package not installed (umap)
            self._maps.pop(key, None)
            raise ApiError(422, "method", str(err)) from None

    def _project(self, index: Any, n: int, method: str) -> list[dict[str, Any]]:
        """The report's embedding map (`nlp_pipeline.reports.embedding_map`), its code, not a copy of it."""
        from nlp_pipeline.reports.embedding_map import map_words, project_2d

        self.map_projections += 1
        words = map_words(index.words, n)
        coords = project_2d(index.matrix[[index.key_to_index[w] for w in words]], method, seed=schemas.MAP_SEED)
        return [{"word": w, "x": float(x), "y": float(y)} for w, (x, y) in zip(words, coords.tolist())]


def create_app(model: str | Path | None = None, tagger: str | Path | None = None, vectors: str | Path | None = None,
               lm: str | Path | None = None, *, settings: Serve | Mapping[str, Any] | None = None,
               cache_dir: str | Path | None = None, device: str = "auto", api_key: str | None = None,
               models: LoadedModels | None = None) -> FastAPI:
    """A FastAPI app answering with the models these references name (as the CLI takes them: a folder, a key
    prefix, ``latest``; none at all: the latest of each kind in the cache), or with ``models`` already loaded
    (`load_models`). ``settings`` are `nlp_pipeline.settings.Serve` (or a mapping of them); with ``api_key``
    every endpoint but ``/health`` needs it. A reference that names nothing, or a damaged artifact, is a
    `PipelineError` here, before any request.

    Torch's thread count is the process's, so the app leaves it alone: ``nlp-pipeline serve`` sets it from
    ``serve.threads`` (`torch_threads`); a service that embeds the app sets it as it sees fit."""
    limits = serve_settings(settings)
    if models is None:
        models = load_models(model, tagger, vectors, lm, cache_dir=cache_dir, device=device)
    server = Server(models, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        server.open()
        yield
        server.close()

    app = FastAPI(title="nlp-pipeline", version=API_VERSION, lifespan=lifespan,
                  description="Label, tag, query word vectors and generate text with the models of nlp-pipeline. "
                              "Every error is `{\"error\": {\"field\", \"message\"}}` with a 4xx status.")
    app.state.server = server
    errors.install(app)
    app.add_middleware(Guard, api_key=api_key, max_body_bytes=limits.max_body_bytes)
    # Documentation only: the Guard checks the key; these make the /docs page offer an "Authorize" button.
    auth = [Security(HTTPBearer(auto_error=False)), Security(APIKeyHeader(name="X-API-Key", auto_error=False))] \
        if api_key else []
    req = schemas.request_models(limits)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        """The web page: what is loaded, the vectors' neighbours, analogies and map, a text's label, tags and
        continuation; it calls the endpoints below from the browser."""
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=schemas.Health, tags=["server"])
    async def health() -> dict[str, Any]:
        """Whether the server answers (no API key needed)."""
        return {"status": "ok", "loaded": models.kinds()}

    @app.get("/v1/models", response_model=schemas.ModelsResponse, tags=["server"], dependencies=auth)
    async def list_models() -> dict[str, Any]:
        """The loaded artifacts: key, kind, path, labels or tags, vocabulary size, the metrics their build recorded."""
        return {"models": [a.describe() for a in models.loaded()]}

    @app.get("/v1/stats", response_model=schemas.StatsResponse, tags=["server"], dependencies=auth)
    async def stats() -> dict[str, Any]:
        """Requests, items and model calls per batching queue (fewer calls than requests: batching worked)."""
        return {"batching": limits.batching, "batch_wait_ms": limits.batch_wait_ms,
                "batch_max_size": limits.batch_max_size, "map_projections": server.map_projections,
                "queues": {name: counts.to_dict() for name, counts in server.counts.items()}}

    @app.post("/v1/classify", response_model=schemas.ClassifyResponse, tags=["classifier"], responses=ERRORS,
              dependencies=auth)
    async def classify(body: req.Classify) -> dict[str, Any]:
        """Label each text with the loaded classifier: its label and every label's probability."""
        loaded = server.require("classifier")
        results = await server.batchers["classify"].submit(body.texts)
        return {"model": loaded.short_key, "labels": loaded.engine.labels, "results": results}

    @app.post("/v1/tag", response_model=schemas.TagResponse, tags=["tagger"], responses=ERRORS, dependencies=auth)
    async def tag(body: req.Tag) -> dict[str, Any]:
        """Tag each token of each text (tokenized as the tagger was trained), or of each given token list."""
        loaded = server.require("tagger")
        if (body.texts is None) == (body.tokens is None):
            raise ApiError(422, "texts", "give texts (raw text) or tokens (token lists), one of the two")
        items = ([TagItem(t) for t in body.texts] if body.texts is not None
                 else [TagItem(" ".join(words), tuple(words)) for words in body.tokens or ()])
        return {"model": loaded.short_key, "results": await server.batchers["tag"].submit(items)}

    @app.post("/v1/similar", response_model=schemas.SimilarResponse, tags=["vectors"], responses=ERRORS,
              dependencies=auth)
    async def similar(body: req.Similar) -> dict[str, Any]:
        """The nearest words to each word by cosine similarity (the word itself left out)."""
        loaded = server.require("vectors")
        rows = await server.rows([[w] for w in body.words], "words")
        queries = [VectorQuery("similar", (w,), r, topn=body.topn) for w, r in zip(body.words, rows)]
        return {"vectors": loaded.short_key, "results": await server.batchers["vectors"].submit(queries)}

    @app.post("/v1/similarity", response_model=schemas.SimilarityResponse, tags=["vectors"], responses=ERRORS,
              dependencies=auth)
    async def similarity(body: req.Similarity) -> dict[str, Any]:
        """The cosine similarity of each pair of words."""
        loaded = server.require("vectors")
        rows = await server.rows(body.pairs, "pairs")
        queries = [VectorQuery("similarity", tuple(p), r) for p, r in zip(body.pairs, rows)]
        return {"vectors": loaded.short_key, "results": await server.batchers["vectors"].submit(queries)}

    @app.post("/v1/analogy", response_model=schemas.AnalogyResponse, tags=["vectors"], responses=ERRORS,
              dependencies=auth)
    async def analogy(body: req.Analogy) -> dict[str, Any]:
        """a is to b as c is to ?: the best answers for each [a, b, c] (a, b and c are never answers)."""
        loaded = server.require("vectors")
        rows = await server.rows(body.queries, "queries")
        queries = [VectorQuery("analogy", tuple(q), r, topn=body.topn, method=body.method)
                   for q, r in zip(body.queries, rows)]
        return {"vectors": loaded.short_key, "results": await server.batchers["vectors"].submit(queries)}

    @app.post("/v1/generate", response_model=schemas.GenerateResponse, tags=["language model"], responses=ERRORS,
              dependencies=auth)
    async def generate(body: req.Generate) -> dict[str, Any]:
        """Continue the prompt (a backward model: precede it) with the loaded language model."""
        loaded = server.require("language_model")
        out = await server.run("language_model", loaded.engine.generate, body.prompt, max_tokens=body.max_tokens,
                               temperature=body.temperature, top_k=body.top_k, top_p=body.top_p, seed=body.seed)
        return {"model": loaded.short_key, **out}

    @app.post("/v1/perplexity", response_model=schemas.PerplexityResponse, tags=["language model"],
              responses=ERRORS, dependencies=auth)
    async def perplexity(body: req.Perplexity) -> dict[str, Any]:
        """The language model's perplexity on the texts, one document each, read as one stream (as `perplexity`
        reads a file's lines)."""
        loaded = server.require("language_model")
        out = await server.run("language_model", loaded.engine.perplexity, body.texts)
        return {"model": loaded.short_key, **out}

    @app.get("/v1/map", response_model=schemas.MapResponse, tags=["vectors"], responses=ERRORS, dependencies=auth)
    async def embedding_map(
        n: Annotated[int, Query(ge=3, le=limits.max_map_words, description="the N most frequent words")] =
            min(schemas.MAP_DEFAULT_WORDS, limits.max_map_words),
        method: Annotated[schemas.MAP_METHODS, Query(description="PCA to 50 dimensions, then tsne | umap; or pca "
                                                                 "alone")] = schemas.MAP_DEFAULT_METHOD,
    ) -> dict[str, Any]:
        """The vectors' N most frequent words in 2-D: the projection of the report's embedding map, computed on
        the first request (t-SNE: seconds) and cached."""
        loaded = server.require("vectors")
        points = await server.projection(n, method)
        return {"vectors": loaded.short_key, "method": method, "seed": schemas.MAP_SEED, "points": points}

    return app
