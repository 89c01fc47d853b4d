"""``nlp-pipeline serve``: the trained models behind a versioned JSON API (FastAPI), batching concurrent requests.

`create_app` builds the app (for uvicorn, tests, or mounting in another service); `load_models` loads and
verifies the artifacts it answers with. FastAPI is an optional dependency (``pip install "nlp-pipeline[serve]"``):
nothing else in the package imports this one.

>>> from nlp_pipeline.serve import create_app             # doctest: +SKIP
>>> app = create_app(model="latest", vectors="latest")    # doctest: +SKIP
"""

from nlp_pipeline.serve.app import create_app
from nlp_pipeline.serve.loading import LoadedModels, load_models

__all__ = ["LoadedModels", "create_app", "load_models"]
