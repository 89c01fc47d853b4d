"""word2vec in PyTorch: CBOW and skip-gram with negative sampling, the original algorithm, batched.

What is the same as word2vec / gensim:
- vocabulary (``min_count``, ``max_vocab_size`` pruning), frequent-word subsampling with the
  ``sample`` formula, out-of-vocabulary and discarded words removed *before* windows are formed;
- a dynamic window: each centre word draws ``b`` in ``[0, window)`` and uses ``window - b`` words
  on each side, never crossing a sentence (line) boundary;
- negatives drawn from unigram counts ^ 0.75; a negative equal to the target is skipped;
- skip-gram trains each (context → centre) pair, CBOW the mean of the context vectors → centre,
  and the CBOW error goes unscaled to every context vector (gensim's ``cbow_mean=1``);
- input vectors initialised uniform in ``[-1/dim, 1/dim)`` as gensim 4 does (``init_range="gensim"``;
  ``"word2vec"``: word2vec.c's ``[-0.5/dim, 0.5/dim)``), output vectors zero;
- plain SGD, the learning rate decaying from ``alpha`` to ``min_alpha`` in the shape gensim's corpus_file
  mode gives on two threads (``lr_schedule="per_epoch"``; ``"linear"``: over all epochs, as word2vec.c);
- the text trained as ``streams`` (2) contiguous parts taken in turn, as gensim's corpus_file mode and
  word2vec.c give each thread its own part of the file (`EncodedCorpus.parts`): with ``per_epoch`` each
  part's rate falls from the epoch's start as one of gensim's two threads' does. The order is the setting's,
  not the thread count's, and one worker still gives the same bits for a seed.
  Why these two defaults: users hold our vectors against gensim's default mode, and with word2vec.c's
  start and schedule the vectors were word2vec.c's, 0.02-0.04 below gensim on WordSim and SimLex at
  300 d (docs/results.md, word2vec: three seeds each).

Two update paths. On the CPU the default is the C kernel (`nlp_pipeline.embeddings.native`,
``kernel="native"``): each job's centres are trained in order and every update is applied at once,
in place, as in word2vec.c, with the window and negatives drawn from word2vec's own generator; numpy
prepares the job (subsampling, sentence numbers, learning rates) and holds the weights. It is the
closer of the two to word2vec and, on two cores, the faster (benchmarks/README.md). Without a C
compiler, with ``kernel="tensor"``, and always on CUDA, the batched tensor path
(`nlp_pipeline.embeddings.w2v_tensor`) runs. The kernel is built on the first training use, not when
options are resolved (keys are computed from those); if that build fails, training says why in one
line and runs the tensor path, and ``info["kernel"]`` records the loop that ran.

Memory: a run of the C kernel on the CPU never imports torch (about 185 MB of resident memory before a
weight is allocated); torch is imported only for the tensor path or to resolve a device other than
``cpu``. The weights are numpy arrays on both paths, initialised with the bits torch's generator gave
(`init_weights`), and the subsampling draws the numbers ``torch.rand`` drew (`_uniform`): the vectors
are the ones the torch-held weights gave. ``to_keyed_vectors`` hands the input matrix to gensim without
a copy.

What batching changes (the tensor path): word2vec applies each pair's update immediately; here ``batch_words``
centre words are scored against the same weights and their updates summed with ``index_add_``
(duplicates accumulate, like consecutive SGD steps evaluated at the same point). For the most
frequent words that sum is hundreds of steps in one direction and training diverges, so a row's
summed step is capped at ``max_row_updates`` single steps per batch (`_row_damping`); only
frequent words reach the cap, and quality stays within the issue's bars of gensim (see
benchmarks/README.md). Skip-gram draws ``negative`` negatives per *centre word* and shares them
among that centre's context words (word2vec draws fresh ones per pair): each pair still sees
``negative`` negatives from the right distribution, and the centre's output rows are gathered
once instead of once per pair. The C kernel does the same by default and draws per pair, as
word2vec does, with ``negatives_per_pair``; the tensor path always shares. The sigmoid is exact
(word2vec uses a 1000-entry table clipped at ±6; gensim skips pairs beyond ±6, available as
``skip_saturated``).

Why no autograd: the gradient of negative-sampling loss is two lines of algebra, and a sparse
hand-written update with ``index_add_`` touches only the rows in the batch. Autograd with dense
gradients would write the whole ``vocab × dim`` matrix every step.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from nlp_pipeline.device import device_name
from nlp_pipeline.embeddings.gensim_engine import Word2VecParams
from nlp_pipeline.embeddings.w2v_corpus import (
    EncodedCorpus,
    W2VVocab,
    keep_probabilities,
    negative_table,
    scan_corpus,
)
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.settings import Runtime, Word2Vec, default_of

_log = logging.getLogger(__name__)

CHUNK_TOKENS = 1 << 20  # tokens read from the encoded corpus at a time (4 MiB of ids)
# Centre words per batched update, by architecture (sg=1, cbow=0): the fastest on the IMDB benchmark
# with unchanged quality. A skip-gram centre trains ~6 pairs, a CBOW centre one example. Measured
# (2 cores, 20M tokens): CBOW 746k words/s at 1024, 795k at 2048, 636k at 4096, analogies 24.1%
# for all three.
DEFAULT_BATCH_WORDS = {1: 1024, 0: 2048}
# Cap on a row's summed updates per batch (see _row_damping), by architecture. Skip-gram shares a
# centre's negatives among ~6 context words, so a mid-frequency word drawn as a negative collects
# ~6 updates per draw: at 32, SimLex-999 fell 0.02 below gensim (0.290 vs 0.311); at 128 it
# matched (0.313) with analogies at 28.3% (gensim 29.2%). CBOW was within every bar at 32.
DEFAULT_MAX_ROW_UPDATES = {1: 128.0, 0: 32.0}
# lr_schedule="per_epoch": the share of an epoch's linear decline the rate falls over each of its streams (gensim's
# corpus_file mode on two threads: each thread counts its half of the file against the whole epoch)
PER_EPOCH_SHARE = 0.5


# The tensor path's functions live in `w2v_tensor` (which imports torch); these names still import from here.
_TENSOR_PATH = ("subsample", "sample_negatives", "context_matrix", "skipgram_step", "cbow_step", "SATURATED")


def __getattr__(name: str):
    if name in _TENSOR_PATH:
        from nlp_pipeline.embeddings import w2v_tensor

        return getattr(w2v_tensor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class TorchW2VOptions:
    """Engine settings that do not change the algorithm's definition, only how it is executed."""

    device: str = default_of(Runtime, "device")
    # centre words per update; None: DEFAULT_BATCH_WORDS[sg]
    batch_words: int | None = default_of(Word2Vec, "batch_words")
    # cap per row and batch; None: DEFAULT_MAX_ROW_UPDATES[sg]; 0: none
    max_row_updates: float | None = default_of(Word2Vec, "max_row_updates")
    skip_saturated: bool = default_of(Word2Vec, "skip_saturated")  # gensim's rule: no update for a pair beyond ±6
    # skip-gram in the C kernel: fresh negatives for every (centre, context) pair (word2vec's way) instead of
    # one draw per centre shared by its context words; the tensor path always shares
    negatives_per_pair: bool = default_of(Word2Vec, "negatives_per_pair")
    chunk_tokens: int = CHUNK_TOKENS
    # CPU update loop: native (the C kernel, `nlp_pipeline.embeddings.native`: word2vec's in-place SGD),
    # tensor (batched tensor updates), auto (native where a C compiler or an already built library is found:
    # `native.planned_kernel`; a build that then fails trains with tensor). CUDA always runs the tensor path.
    kernel: str = default_of(Word2Vec, "kernel")

    def resolve(self, sg: int, device: str = "cpu") -> TorchW2VOptions:
        """These options with the per-architecture defaults filled in (what training plans to use).

        ``device`` is the one training runs on (``"cpu"``, ``"cuda:0"``, ``"auto"``): the kernel is
        `native.planned_kernel`'s answer, so resolving never compiles or loads the C kernel.
        """
        from nlp_pipeline.embeddings.native import planned_kernel

        return dataclasses.replace(
            self, kernel=planned_kernel(self.kernel, device), batch_words=self.batch_words or DEFAULT_BATCH_WORDS[sg],
            max_row_updates=DEFAULT_MAX_ROW_UPDATES[sg] if self.max_row_updates is None else self.max_row_updates)


@dataclass
class TorchWord2Vec:
    """Trained weights plus the vocabulary they index. ``to_keyed_vectors()`` for gensim's API.

    The weights are float32 numpy arrays, ``vocab_size × dim``, on the CPU whatever the device trained them.
    """

    vocab: W2VVocab
    input_vectors: np.ndarray  # the word vectors (word2vec's syn0)
    output_vectors: np.ndarray  # negative-sampling weights (syn1neg)
    info: dict = field(default_factory=dict)

    def to_keyed_vectors(self):
        """gensim's `KeyedVectors` of the input vectors, with each word's ``count``.

        The vectors are not copied: ``kv.vectors`` is ``input_vectors`` (as gensim's own ``model.wv.vectors``
        is its trained matrix), so a change to one is a change to the other. Built as gensim's
        ``add_vectors`` would build it (the same words, order, ``key_to_index`` and float32 matrix), without
        the three temporary copies of the matrix that call makes (a mask selection, ``astype``, ``vstack``).
        """
        from gensim.models import KeyedVectors

        vectors = np.ascontiguousarray(self.input_vectors, dtype=np.float32)  # a copy only if not already so
        kv = KeyedVectors(vector_size=vectors.shape[1])
        kv.index_to_key = list(self.vocab.words)
        kv.key_to_index = {word: i for i, word in enumerate(kv.index_to_key)}
        kv.vectors = vectors
        kv.allocate_vecattrs(attrs=["count"], types=[np.int64])
        kv.expandos["count"][:] = self.vocab.counts
        return kv


def _uniform(state: np.random.RandomState, out: np.ndarray) -> np.ndarray:
    """Fill the float32 array ``out`` with what ``torch.rand`` draws on the CPU from a generator in the same
    state: each value is the low 24 bits of one 32-bit Mersenne Twister output, times 2^-24.

    Why: the engine's vectors were defined by torch's generator, and a run of the C kernel no longer imports
    torch. torch's CPU generator is the standard MT19937, seeded like numpy's legacy ``RandomState`` (the
    seed's low 32 bits, `_generator`), whose ``randint`` over the whole uint32 range returns one raw output a
    value; both streams are fixed by their libraries (numpy keeps ``RandomState``'s stream stable by policy).
    The tests compare the two on several seeds and sizes.
    """
    raw = state.randint(0, 1 << 32, size=out.shape, dtype=np.uint32)
    np.bitwise_and(raw, 0xFFFFFF, out=raw)
    out[...] = raw  # exact: below 2^24
    out *= np.float32(2.0 ** -24)
    return out


def _generator(seed: int) -> np.random.RandomState:
    """The Mersenne Twister in the state ``torch.Generator().manual_seed(seed)`` puts torch's CPU generator in."""
    return np.random.RandomState(seed & 0xFFFFFFFF)


INIT_BLOCK = 1 << 20  # values drawn at a time by `init_weights` (its temporaries: 4 MiB, not a second matrix)
# The C kernel's rows: each starts on a 32-byte boundary (a whole number of AVX vectors), the matrix on a
# 64-byte one, so that no vector load of a row splits a cache line. Measured on one thread (5M tokens, one
# epoch, the same jobs): 300-d rows padded to 304 floats took 7% (CBOW) and 11% (skip-gram) less time a
# centre than packed ones; 100-d rows padded to 104, 6%. The padding costs 1.3% (300 d) and 4% (100 d)
# of the matrices' memory while training; `unpadded` gives it back before the vectors leave the engine.
ROW_ALIGN_FLOATS = 8
MATRIX_ALIGN_BYTES = 64
UNPAD_BLOCK = 1 << 20  # floats moved at a time by `unpadded` (its temporary: 4 MiB)


def padded_matrix(rows: int, dim: int) -> np.ndarray:
    """A zeroed, C-contiguous ``rows × stride`` float32 array whose data starts on a 64-byte boundary, with
    ``stride`` = ``dim`` rounded up to `ROW_ALIGN_FLOATS`; row ``w``'s first ``dim`` values are word
    ``w``'s. Allocated zeroed, so its pages are resident only once written."""
    stride = -(-dim // ROW_ALIGN_FLOATS) * ROW_ALIGN_FLOATS
    spare = MATRIX_ALIGN_BYTES // 4
    buffer = np.zeros(rows * stride + spare, dtype=np.float32)
    offset = (-buffer.ctypes.data % MATRIX_ALIGN_BYTES) // 4
    return buffer[offset:offset + rows * stride].reshape(rows, stride)


def unpadded(matrix: np.ndarray, dim: int) -> np.ndarray:
    """``matrix[:, :dim]`` as a C-contiguous array in ``matrix``'s own memory (its rows moved down in place,
    so ``matrix`` is spent): the vectors without a second copy of the matrix. A matrix ``dim`` wide is
    returned as it is."""
    rows, stride = matrix.shape
    if stride == dim:
        return matrix
    packed = matrix.reshape(-1)[:rows * dim].reshape(rows, dim)
    step = max(UNPAD_BLOCK // stride, 1)
    for start in range(0, rows, step):  # front to back: a block's rows land at or before where they were
        packed[start:start + step] = matrix[start:start + step, :dim]  # numpy copies an overlapping source first
    return packed


def init_weights(vocab_size: int, dim: int, seed: int, init_range: str = "word2vec",
                 padded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """word2vec's initialisation: inputs uniform in [-0.5/dim, 0.5/dim), outputs zero (float32 arrays);
    with ``init_range="gensim"`` the same draws doubled, gensim 4's [-1/dim, 1/dim).

    The bits of ``torch.rand(vocab_size, dim, generator=torch.Generator().manual_seed(seed)).sub_(0.5).div_(dim)``
    (the engine's initialisation when torch held the weights), drawn in blocks: ``u - 0.5`` is exact in
    float32 and the division is IEEE's in both libraries. The output matrix is allocated zeroed (its pages
    are resident only once training writes them). ``padded``: both as `padded_matrix` rows (the C kernel's
    layout), the same values in each row's first ``dim`` columns and zeros after them.
    """
    if padded:
        w_in, w_out = padded_matrix(vocab_size, dim), padded_matrix(vocab_size, dim)
    else:
        w_in, w_out = np.empty((vocab_size, dim), dtype=np.float32), np.zeros((vocab_size, dim), dtype=np.float32)
    state, step = _generator(seed), max(INIT_BLOCK // dim, 1)
    block = np.empty(min(step, vocab_size) * dim, dtype=np.float32)
    for start in range(0, vocab_size, step):  # whole rows at a time: the draws run in row order either way
        rows = min(step, vocab_size - start)
        values = _uniform(state, block[:rows * dim])
        values -= np.float32(0.5)
        values /= np.float32(dim)
        if init_range == "gensim":
            values *= np.float32(2.0)  # exact: a power of two
        w_in[start:start + rows, :dim] = values.reshape(rows, dim)
    return w_in, w_out


def _torch_version() -> str | None:
    """torch's version, read from its installed metadata (this run may not have imported it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def train_torch(corpus_file, params: Word2VecParams, *, options: TorchW2VOptions | None = None, progress: bool = True,
                log_fn: Callable[[str], None] | None = None, work_dir=None) -> TorchWord2Vec:
    """Train on a tokenized file (one sentence or document per line, tokens split on spaces).

    ``params.workers`` threads (0 = all cores). With one worker the result is a function of the
    seed alone (on CPU); with several, workers update shared weights without locks (Hogwild, as in
    word2vec and gensim), so the last bits depend on thread timing, as with gensim.
    """
    options = options or TorchW2VOptions()
    device = device_name(options.device)
    options = options.resolve(params.sg, device)
    workers = params.workers if params.workers > 0 else (os.cpu_count() or 1)
    if not _on_cpu(device):
        workers = 1  # one stream of large batches keeps a GPU busy; threads would only contend
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="w2v-", dir=work_dir) as tmp:
        vocab, encoded = scan_corpus(corpus_file, params.min_count, params.max_vocab_size, tmp)
        prep_seconds = time.perf_counter() - start
        model = _train_loop(vocab, encoded, params, options, device, workers, progress, log_fn)
    seconds = time.perf_counter() - start
    model.info.update({
        "engine": "torch", "torch_version": _torch_version(), "device": device, "workers": workers,
        "vocab_size": len(vocab), "corpus_words": vocab.corpus_words, "seconds": round(seconds, 2),
        "prepare_seconds": round(prep_seconds, 2),
        "words_per_second": round(vocab.corpus_words * params.epochs / seconds) if seconds > 0 else None,
        "loss_is_estimate": False, "loss_note": "exact: sum over trained pairs of -log σ(pos) - Σ log σ(-neg)",
        "batch_words": options.batch_words, "max_row_updates": options.max_row_updates,
        "negatives_per_pair": bool(options.negatives_per_pair and params.sg and model.info["kernel"] == "native"),
    })
    return model


@dataclass
class _Job:
    """A run of whole sentences, with its place in the training (for the learning rate)."""

    number: int
    epoch: int
    ids: np.ndarray
    lengths: np.ndarray
    raw_words: int
    words_before: int  # raw words trained before this job, all epochs and streams
    stream: int  # which of the text's parts (`_jobs`)
    stream_words_before: int  # raw words before it in its stream, this epoch
    stream_words: int  # its stream's raw words an epoch


def _on_cpu(device) -> bool:
    """Whether ``device`` (``"cpu"``, ``"cuda:0"``, a `torch.device`) is the CPU."""
    return str(device).split(":", 1)[0] == "cpu"


class _Trainer:
    """The weights (float32 numpy arrays), the subsampling and negative tables, and one job's training.

    The C kernel trains the arrays in place. Otherwise (no kernel, ``kernel="tensor"``, CUDA) a
    `w2v_tensor.TensorPath` holds them as tensors (on the CPU, views of the same arrays) and trains; torch is
    imported only then. `close` ends it; `weights` are the trained arrays.
    """

    def __init__(self, vocab, params: Word2VecParams, options: TorchW2VOptions, device="cpu",
                 log_fn: Callable[[str], None] | None = None):
        self.params, self.options, self.device = params, options, str(device)
        self.vocab_size = len(vocab)
        self.native = None
        self.tensor = None
        if options.kernel == "native" and _on_cpu(self.device):
            from nlp_pipeline.embeddings.native import load_kernel

            self.native, why = load_kernel()  # builds the library on first use (time-limited)
            if self.native is None:
                # Not an error: the tensor path trains the same model (the last bits differ), and the
                # stage cannot tell a planned "auto" from an explicit "native" (both arrive as native).
                (log_fn or _log.warning)(f"word2vec: the native kernel is unavailable ({why}); "
                                         "training with the tensor path instead")
        # the kernel's rows are padded (`padded_matrix`); `weights` packs them back
        self.w_in, self.w_out = init_weights(len(vocab), params.vector_size, params.seed, params.init_range,
                                             padded=self.native is not None)
        self.keep_prob = keep_probabilities(vocab.counts, params.sample).astype(np.float32)
        self.neg_table = negative_table(vocab.counts)  # int32
        self.total_words = vocab.corpus_words * params.epochs
        self.negatives_drawn = 0  # by the C kernel (its per-pair or shared draws), over all jobs
        self._tally_lock = threading.Lock()
        if self.native is None:
            from nlp_pipeline.embeddings.w2v_tensor import TensorPath

            self.tensor = TensorPath(self.w_in, self.w_out, self.keep_prob, self.neg_table, self.device, params,
                                     options)
            if not _on_cpu(self.device):  # the tensors are copies on the device: the host's arrays go
                self.w_in = self.w_out = self.keep_prob = self.neg_table = None

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The trained input and output weights, C-contiguous ``vocab × dim`` float32 arrays on the CPU.

        The kernel's padded matrices are packed in place (`unpadded`): call this once training is over."""
        if self.tensor is not None:
            return self.tensor.weights()
        dim = self.params.vector_size
        self.w_in, self.w_out = unpadded(self.w_in, dim), unpadded(self.w_out, dim)
        return self.w_in, self.w_out

    def close(self) -> None:
        if self.tensor is not None:
            self.tensor.close()

    def learning_rate(self, job: _Job, done: float = 0.0) -> float:
        """The rate once ``done`` (0 to 1) of ``job``'s raw words are trained (``lr_schedule``).

        linear: from alpha to min_alpha over all the words trained, in the order they are (word2vec.c's global
        count). per_epoch: over each stream of epoch e of E the progress runs from e/E only to
        (e + PER_EPOCH_SHARE)/E, and restarts at (e + 1)/E with the next epoch (gensim's corpus_file mode on
        two threads, where each thread counts its half of the file against the whole epoch).
        """
        p = self.params
        if p.lr_schedule == "per_epoch":
            within = min(max((job.stream_words_before + done * job.raw_words) / job.stream_words, 0.0), 1.0)
            progress = (job.epoch + PER_EPOCH_SHARE * within) / p.epochs
        else:
            progress = (job.words_before + done * job.raw_words) / self.total_words
        return max(p.min_alpha, p.alpha - (p.alpha - p.min_alpha) * progress)

    def run(self, job: _Job) -> tuple[float, int, float]:
        """Train on one job; returns (loss, training examples, last learning rate)."""
        if self.tensor is not None:
            return self.tensor.run(job, self.learning_rate)
        ids, sentence_ids = subsample_job(job, self.keep_prob, self.params.seed)
        if ids.shape[0] == 0:
            return 0.0, 0, self.learning_rate(job)
        return self._run_native(job, ids, sentence_ids)

    def _run_native(self, job: _Job, ids: np.ndarray, sentence_ids: np.ndarray) -> tuple[float, int, float]:
        """The job in the C kernel: its centres in order, every update applied at once, in place."""
        p = self.params
        lr_start, lr_end = self.learning_rate(job), self.learning_rate(job, 1.0)
        stride = self.w_in.shape[1]  # the padded row (`padded_matrix`)
        work = padded_matrix(2, p.vector_size).reshape(-1)  # two aligned rows: the error and CBOW's mean
        negs = np.zeros(2 * p.negative, dtype=np.int64)
        out = np.zeros(3, dtype=np.float64)
        seed = (p.seed * 1_000_003 + job.number) & 0xFFFFFFFFFFFFFFFF
        n, weights = ids.shape[0], self.vocab_size * stride
        self.native.w2v_train(
            int(p.sg), c_pointer("w_in", self.w_in, "float32", weights),
            c_pointer("w_out", self.w_out, "float32", weights), p.vector_size, stride,
            c_pointer("ids", ids, "int64", n),
            c_pointer("sentence_ids", sentence_ids, "int64", n), n, p.window, p.negative,
            c_pointer("neg_table", self.neg_table, "int32"), self.neg_table.shape[0], lr_start, lr_end, seed,
            int(self.options.skip_saturated), int(self.options.negatives_per_pair),
            c_pointer("work", work, "float32", 2 * stride), c_pointer("negs", negs, "int64", 2 * p.negative),
            c_pointer("out", out, "float64", 3))
        with self._tally_lock:
            self.negatives_drawn += int(out[2])
        return float(out[0]), int(out[1]), lr_end


def subsample_job(job: _Job, keep_prob: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The job's word ids left by subsampling and their sentence numbers (int64 arrays, in order).

    Each occurrence of word ``w`` is kept when ``u < keep_prob[w]`` (float32), ``u`` the job's uniform draws
    from the generator seeded with ``seed * 1_000_003 + job.number``: the numbers torch drew there when it
    prepared the kernel's jobs (`_uniform`), so the kept words are the same.
    """
    u = _uniform(_generator(seed * 1_000_003 + job.number), np.empty(job.ids.shape[0], dtype=np.float32))
    keep = u < keep_prob[job.ids]
    sentence_ids = np.repeat(np.arange(job.lengths.shape[0], dtype=np.int64), job.lengths)
    return job.ids[keep].astype(np.int64), sentence_ids[keep]


def c_pointer(name: str, value, dtype: str, numel: int | None = None) -> int:
    """The address of ``value``'s first element, once it is known to be what the C kernel reads there.

    Why: ctypes hands over a bare address, and the kernel walks it as a flat, contiguous CPU array of
    ``dtype`` (of ``numel`` elements when given). A wrong dtype, a CUDA tensor, a strided view or a
    short buffer would not raise there; it would train on garbage, write past the end, or crash the
    process. ``name`` is the kernel argument's, for the message.
    """
    torch = sys.modules.get("torch")  # a tensor can only come from a process that imported torch
    is_tensor = torch is not None and isinstance(value, torch.Tensor)
    if is_tensor:
        kind, device, contiguous = str(value.dtype).removeprefix("torch."), value.device.type, value.is_contiguous()
    elif isinstance(value, np.ndarray):
        kind, device, contiguous = str(value.dtype), "cpu", bool(value.flags.c_contiguous)
    else:
        raise TypeError(f"native kernel argument {name!r}: expected a tensor or array, got {type(value).__name__}")
    if kind != dtype:
        raise TypeError(f"native kernel argument {name!r}: expected {dtype}, got {kind}")
    if device != "cpu":
        raise ValueError(f"native kernel argument {name!r}: expected a CPU tensor, got one on {value.device}")
    if not contiguous:
        raise ValueError(f"native kernel argument {name!r}: expected a contiguous array, got strides "
                         f"{tuple(value.stride()) if is_tensor else value.strides}")
    size = value.numel() if is_tensor else value.size
    if numel is not None and size != numel:
        raise ValueError(f"native kernel argument {name!r}: expected {numel} elements, got {size}")
    return value.data_ptr() if is_tensor else value.ctypes.data


def _jobs(encoded: EncodedCorpus, epochs: int, chunk_tokens: int, streams: int = 1) -> Iterator[_Job]:
    """Every epoch's jobs: the text's ``streams`` parts (`EncodedCorpus.parts`) a chunk of each in turn, so that
    workers taking jobs in order train different parts of the text at once, each part from its own start."""
    parts = [part for part in encoded.parts(streams) if part.stop > part.start]
    number, words_before = 0, 0
    for epoch in range(epochs):
        left = [(stream, part, encoded.chunks(chunk_tokens, part)) for stream, part in enumerate(parts)]
        before = [0] * len(parts)  # each stream's raw words so far this epoch
        while left:
            for entry in list(left):
                stream, part, chunks = entry
                chunk = next(chunks, None)
                if chunk is None:
                    left.remove(entry)
                    continue
                ids, lengths, raw_words = chunk
                yield _Job(number, epoch, ids, lengths, raw_words, words_before, stream, before[stream],
                           part.raw_words)
                number, words_before = number + 1, words_before + raw_words
                before[stream] += raw_words


# Mean loss per scored pair above which training has diverged: an untrained model scores log 2 = 0.69 a pair,
# trained ones 0.3-0.6; the one divergence seen (the tensor path on a 60-word corpus) scored 13 in its first epoch.
DIVERGED_LOSS_PER_PAIR = 5.0


def _check_not_diverged(epoch: int, loss: float, examples: int, params: Word2VecParams) -> None:
    """Stop a run whose loss exploded, rather than save vectors that are noise.

    Why: the batched tensor path sums many updates of one row in a batch; on a tiny vocabulary with a high
    rate that can blow up (loss 1e7 → 4e13), and nothing downstream would notice."""
    per_pair = loss / max(examples * (1 + params.negative), 1)
    if not math.isfinite(per_pair) or per_pair > DIVERGED_LOSS_PER_PAIR:
        raise ConfigError(f"word2vec diverged in epoch {epoch + 1}: mean loss {per_pair:.3g} per scored pair (an "
                          "untrained model scores 0.69); lower embed.alpha, or set embed.lr_schedule=linear and "
                          "embed.init_range=word2vec, or embed.kernel=native on the CPU")


def _train_loop(vocab: W2VVocab, encoded: EncodedCorpus, params: Word2VecParams, options: TorchW2VOptions,
                device: str, workers: int, progress: bool,
                log_fn: Callable[[str], None] | None) -> TorchWord2Vec:
    trainer = _Trainer(vocab, params, options, device, log_fn)
    epoch_loss = [0.0] * params.epochs
    epoch_examples = [0] * params.epochs
    epoch_end = [0.0] * params.epochs
    epoch_words = [0] * params.epochs
    bar = tqdm(total=trainer.total_words, desc=f"embed (torch, {'skip-gram' if params.sg else 'CBOW'})",
               unit="w", unit_scale=True, disable=None if progress else True, smoothing=0.1)
    t0 = time.perf_counter()
    # smaller jobs with several workers, so that they train at nearly the same learning rate
    chunk = options.chunk_tokens if workers == 1 else max(options.chunk_tokens // (2 * workers), 4096)
    jobs = _jobs(encoded, params.epochs, chunk, params.streams)

    def finish(job: _Job, result: tuple[float, int, float]) -> None:
        loss, examples, lr = result
        epoch_loss[job.epoch] += loss
        epoch_examples[job.epoch] += examples
        epoch_words[job.epoch] += job.raw_words
        bar.update(job.raw_words)
        bar.set_postfix(lr=f"{lr:.5f}", refresh=False)
        if epoch_words[job.epoch] == vocab.corpus_words:
            epoch_end[job.epoch] = time.perf_counter() - t0
            _check_not_diverged(job.epoch, epoch_loss[job.epoch], epoch_examples[job.epoch], params)
            if log_fn:
                seconds = epoch_end[job.epoch] - (epoch_end[job.epoch - 1] if job.epoch else 0.0)
                # no words/s here: the one figure is the whole run's (vocabulary and encoding included), logged once
                log_fn(f"embed epoch {job.epoch + 1}/{params.epochs}: loss {epoch_loss[job.epoch]:.4g}, "
                       f"{seconds:.2f}s, lr {lr:.5f}")

    try:
        if workers == 1:
            for job in jobs:
                finish(job, trainer.run(job))
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="w2v") as pool:
                pending: list = []
                for job in jobs:
                    pending.append((job, pool.submit(trainer.run, job)))
                    while len(pending) >= 2 * workers:  # bounded: memory stays flat
                        done_job, future = pending.pop(0)
                        finish(done_job, future.result())
                for done_job, future in pending:
                    finish(done_job, future.result())
    finally:
        trainer.close()
    bar.close()
    info = {"epoch_loss": [round(x, 1) for x in epoch_loss],
            "epoch_seconds": [round(b - a, 2) for a, b in zip([0.0, *epoch_end[:-1]], epoch_end)],
            "epoch_examples": epoch_examples,
            "kernel": "native" if trainer.native is not None else "tensor",  # the update loop that ran
            "negatives_drawn": trainer.negatives_drawn}  # by the C kernel; 0 on the tensor path
    w_in, w_out = trainer.weights()
    return TorchWord2Vec(vocab=vocab, input_vectors=w_in, output_vectors=w_out, info=info)
