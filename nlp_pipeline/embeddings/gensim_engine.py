"""word2vec with gensim, in ``corpus_file`` mode (no Python iterator in the hot loop: ~3x faster).

Loss reporting. gensim's ``running_training_loss`` is a float32 accumulated over the whole
``train()`` call, so it saturates and has to be differenced per epoch. Worse, every worker thread
copies the model's tally when it starts a job and writes its own total back when it finishes: with
N workers only the last writer's share survives (measured on lee_background ×20, skip-gram: 11.7M
with 1 worker, 6.3M with 2). We reset the tally at the start of every epoch (no saturation, no
differencing) and, with N > 1 workers, report the surviving tally × N, flagged as an estimate.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from tqdm.auto import tqdm

from nlp_pipeline.settings import EngineConfig, Runtime, Word2Vec


class Word2VecParams(Word2Vec, EngineConfig):
    """word2vec hyperparameters (the declared Word2Vec settings, `nlp_pipeline.settings`, where every
    default lives) and the threads that train them."""

    section: ClassVar[str] = "embed"
    workers: int = Runtime.model_fields["threads"]  # threads; 0 = all cores

    def to_dict(self) -> dict:
        return self.model_dump()


def stable_hash(text: str) -> int:
    """Deterministic replacement for Python's salted ``hash`` when gensim seeds each word's vector."""
    return zlib.crc32(text.encode("utf-8"))


def train_gensim(corpus_file: str | Path, params: Word2VecParams, *, total_words: int | None = None,
                 progress: bool = True, log_fn: Callable[[str], None] | None = None, iterable: bool = False):
    """Train word2vec on a tokenized file (one document per line). Returns ``(KeyedVectors, info)``.

    ``info`` holds per-epoch loss, wall time, words/s and the vocabulary size.

    ``iterable=True`` streams the file through gensim's Python job producer (``LineSentence``)
    instead of ``corpus_file`` mode. It is slower, but its learning rate follows the exact linear
    schedule: with N > 1 workers, ``corpus_file`` mode measures each worker's progress as its own
    words over the whole corpus, so within an epoch the rate falls only 1/N as far. The benchmark
    uses it as the schedule-exact reference.
    """
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec
    from gensim.models.word2vec import LineSentence

    from .w2v_corpus import MAX_SENTENCE_WORDS

    workers = params.workers if params.workers > 0 else (os.cpu_count() or 1)

    class _EpochLogger(CallbackAny2Vec):
        def __init__(self) -> None:
            self.losses: list[float] = []
            self.epoch_seconds: list[float] = []
            self.bar = tqdm(total=params.epochs, desc="embed (gensim)", unit="epoch",
                            disable=None if progress else True)  # None: on a terminal only
            self._t0 = 0.0

        def on_epoch_begin(self, model) -> None:
            model.running_training_loss = 0.0
            self._t0 = time.perf_counter()

        def on_epoch_end(self, model) -> None:
            loss = float(model.get_latest_training_loss()) * workers
            self.losses.append(loss)
            self.epoch_seconds.append(time.perf_counter() - self._t0)
            self.bar.set_postfix(loss=f"{loss:.3g}")
            self.bar.update(1)
            if log_fn:
                log_fn(f"embed epoch {len(self.losses)}/{params.epochs}: loss {loss:.4g}")

    callback = _EpochLogger()
    start = time.perf_counter()
    # corpus_file mode cuts lines at 10,000 words; LineSentence is told to cut at the same length
    source = ({"sentences": LineSentence(str(corpus_file), max_sentence_length=MAX_SENTENCE_WORDS)} if iterable
              else {"corpus_file": str(corpus_file)})
    model = Word2Vec(**source, sg=params.sg, vector_size=params.vector_size, window=params.window,
                     negative=params.negative, hs=0, min_count=params.min_count, sample=params.sample,
                     epochs=params.epochs, alpha=params.alpha, min_alpha=params.min_alpha,
                     max_vocab_size=params.max_vocab_size, workers=workers, seed=params.seed, hashfxn=stable_hash,
                     compute_loss=True, callbacks=[callback])
    seconds = time.perf_counter() - start
    callback.bar.close()
    corpus_words = total_words if total_words is not None else model.corpus_total_words
    info = {
        "engine": "gensim",
        "gensim_version": _gensim_version(),
        "gensim_mode": "iterable" if iterable else "corpus_file",
        "workers": workers,
        "vocab_size": len(model.wv),
        "corpus_words": int(corpus_words),
        "seconds": round(seconds, 2),
        "words_per_second": round(corpus_words * params.epochs / seconds) if seconds > 0 else None,
        "epoch_loss": [round(x, 1) for x in callback.losses],
        "epoch_seconds": [round(x, 2) for x in callback.epoch_seconds],
        "loss_is_estimate": workers > 1,
        "loss_note": "gensim keeps only the last worker thread's loss tally; shown: that tally x workers"
                     if workers > 1 else "exact",
    }
    return model.wv, info


def _gensim_version() -> str:
    import gensim

    return gensim.__version__
