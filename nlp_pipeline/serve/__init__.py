"""``nlp-pipeline serve``: the trained models behind a versioned JSON API (FastAPI), batching concurrent requests.

`create_app` builds the app (for uvicorn, tests, or mounting in another service); `load_models` loads and
verifies the artifacts it answers with. FastAPI is an optional dependency (``pip install "nlp-pipeline[serve]"``),
imported only when `create_app` is first asked for: nothing else in the package imports this one, and loading
models needs no FastAPI.

>>> from nlp_pipeline.serve import create_app             # doctest: +SKIP
>>> app = create_app(model="latest", vectors="latest")    # doctest: +SKIP
"""

from typing import Any

from nlp_pipeline.serve.loading import LoadedModels, load_models

__all__ = ["LoadedModels", "create_app", "load_models"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from nlp_pipeline.serve.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
