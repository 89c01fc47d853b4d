"""Every test runs offline, with a private cache: no test touches ~/.cache or the network."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("NLP_PIPELINE_OFFLINE", "1")
    mp.setenv("NLP_PIPELINE_CACHE_DIR", str(tmp_path_factory.mktemp("nlp-pipeline-cache")))
    mp.setenv("MPLBACKEND", "Agg")
    yield
    mp.undo()
