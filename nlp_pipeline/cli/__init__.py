"""The ``nlp-pipeline`` command: parse options, call the library, print results.

Every command is a few lines over the public API; the modules group them by the work they do.
"""

from nlp_pipeline.cli import cache, config, models, process, run, serve, vectors  # noqa: F401  (they register commands)
from nlp_pipeline.cli.common import main

__all__ = ["main"]
