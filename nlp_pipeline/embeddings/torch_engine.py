"""word2vec in PyTorch: CBOW and skip-gram with negative sampling, the original algorithm, batched.

What is the same as word2vec / gensim:
- vocabulary (``min_count``, ``max_vocab_size`` pruning), frequent-word subsampling with the
  ``sample`` formula, out-of-vocabulary and discarded words removed *before* windows are formed;
- a dynamic window: each centre word draws ``b`` in ``[0, window)`` and uses ``window - b`` words
  on each side, never crossing a sentence (line) boundary;
- negatives drawn from unigram counts ^ 0.75; a negative equal to the target is skipped;
- skip-gram trains each (context → centre) pair, CBOW the mean of the context vectors → centre,
  and the CBOW error goes unscaled to every context vector (gensim's ``cbow_mean=1``);
- input vectors initialised uniform in ``[-0.5/dim, 0.5/dim)``, output vectors zero;
- plain SGD, the learning rate decaying linearly from ``alpha`` to ``min_alpha`` over all epochs
  (``lr_schedule="linear"``; ``"per_epoch"`` is the shape gensim's corpus_file mode gives on two threads).

Two update paths. On the CPU the default is the C kernel (`nlp_pipeline.embeddings.native`,
``kernel="native"``): each job's centres are trained in order and every update is applied at once,
in place, as in word2vec.c, with the window and negatives drawn from word2vec's own generator; torch
prepares the job (subsampling, sentence numbers, learning rates) and holds the weights. It is the
closer of the two to word2vec and, on two cores, the faster (benchmarks/README.md). Without a C
compiler, with ``kernel="tensor"``, and always on CUDA, the batched tensor path below runs. The
kernel is built on the first training use, not when options are resolved (keys are computed from
those); if that build fails, training says why in one line and runs the tensor path, and
``info["kernel"]`` records the loop that ran.

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
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nlp_pipeline.device import resolve_device
from nlp_pipeline.embeddings.gensim_engine import Word2VecParams
from nlp_pipeline.embeddings.w2v_corpus import (
    EncodedCorpus,
    W2VVocab,
    build_vocab,
    encode_corpus,
    keep_probabilities,
    negative_table,
)
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
# lr_schedule="per_epoch": the share of an epoch's linear decline the rate falls within that epoch (gensim's
# corpus_file mode on two threads: each thread counts its half of the file against the whole epoch)
PER_EPOCH_SHARE = 0.5


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
    """Trained weights plus the vocabulary they index. ``to_keyed_vectors()`` for gensim's API."""

    vocab: W2VVocab
    input_vectors: torch.Tensor  # the word vectors (word2vec's syn0)
    output_vectors: torch.Tensor  # negative-sampling weights (syn1neg)
    info: dict = field(default_factory=dict)

    def to_keyed_vectors(self):
        from gensim.models import KeyedVectors

        kv = KeyedVectors(vector_size=self.input_vectors.shape[1])
        kv.add_vectors(self.vocab.words, self.input_vectors.detach().cpu().numpy().astype(np.float32))
        kv.allocate_vecattrs(attrs=["count"], types=[np.int64])
        kv.expandos["count"][:] = self.vocab.counts
        return kv


# --------------------------------------------------------------------------------------------
# Batch construction: subsample, shrink windows, gather contexts — all vectorised per chunk.


def subsample(ids: torch.Tensor, keep_prob: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Boolean mask: keep each occurrence of word ``w`` with probability ``keep_prob[w]``."""
    u = torch.rand(ids.shape[0], generator=generator, device=ids.device)
    return u < keep_prob.index_select(0, ids)


def sample_negatives(table: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Word ids drawn uniformly from word2vec's unigram table (see `negative_table`)."""
    slots = torch.randint(0, table.shape[0], shape, generator=generator, device=table.device)
    return table.index_select(0, slots.reshape(-1)).view(shape).long()


def context_matrix(ids: torch.Tensor, sentence_ids: torch.Tensor, window: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For every position, the ids of its context words and a mask of the valid ones.

    Returns ``(contexts, valid)``, both ``n × 2·window``: column ``j`` is offset
    ``-window..-1, 1..window``. A context is valid when it lies in the same sentence and within
    the centre's shrunk window ``window - b``, ``b`` uniform in ``[0, window)``.
    """
    n, dev = ids.shape[0], ids.device
    offsets = torch.cat([torch.arange(-window, 0, device=dev), torch.arange(1, window + 1, device=dev)])
    reduced = torch.randint(0, window, (n,), generator=generator, device=dev)
    effective = window - reduced  # in [1, window]
    positions = torch.arange(n, device=dev).unsqueeze(1) + offsets.unsqueeze(0)
    inside = (positions >= 0) & (positions < n)
    positions = positions.clamp_(0, max(n - 1, 0)).reshape(-1)
    valid = inside & (offsets.abs().unsqueeze(0) <= effective.unsqueeze(1))
    valid &= sentence_ids.index_select(0, positions).view(n, -1) == sentence_ids.unsqueeze(1)
    return ids.index_select(0, positions).view(n, -1), valid


# --------------------------------------------------------------------------------------------
# The two update rules. Each returns the batch's negative-sampling loss (sum over pairs).


SATURATED = 6.0  # word2vec's MAX_EXP: the sigmoid table's range


def _sgns_scores_to_grad(scores: torch.Tensor, lr: float, mask: torch.Tensor,
                         skip_saturated: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``g = (label - sigmoid(score)) * lr`` with label 1 in column 0 (the target), 0 elsewhere.

    ``skip_saturated`` follows gensim, which skips every pair whose score is beyond ±6 (word2vec.c
    instead clips, so a confidently wrong pair still gets a full step; exact sigmoid does the same).
    """
    sig = torch.sigmoid(scores)
    grad = sig.neg_()
    grad[..., 0] += 1.0
    grad.mul_(mask).mul_(lr)
    if skip_saturated:
        grad.masked_fill_(scores.abs() >= SATURATED, 0.0)
    # loss: -log σ(s_pos) - Σ log σ(-s_neg), from the same scores (logsigmoid is stable)
    signed = scores.clone()
    signed[..., 1:].neg_()
    loss = -(F.logsigmoid(signed) * mask).sum()
    return grad, loss


def _row_damping(rows: torch.Tensor, weights: torch.Tensor, vocab_size: int, cap: float | None) -> torch.Tensor | None:
    """Per-slot factor ``min(1, cap / m)``, where ``m`` counts the batch's updates to that row.

    Why: sequential SGD sees each of a frequent word's ``m`` updates after the previous one
    moved the row; a batch sums all ``m`` computed at the same point, a step ``m`` times larger
    along the same direction. For the top words ``m`` reaches hundreds per batch and training
    diverges (measured: loss 5e24 with 2048 skip-gram centres per batch). Capping the summed
    step at ``cap`` single steps only touches rows updated more than ``cap`` times in a batch —
    function words, which get thousands of updates an epoch anyway.
    """
    if not cap:
        return None
    counts = torch.bincount(rows, weights=weights, minlength=vocab_size).to(weights.dtype)
    return (cap / counts.index_select(0, rows).clamp_(min=1.0)).clamp_(max=1.0)


def _targets(centres: torch.Tensor, negatives: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Each centre's output rows ``[centre, negatives...]`` (B × (K+1)) and a 0/1 mask that skips a
    negative equal to its centre, as word2vec does."""
    targets = torch.cat([centres.unsqueeze(1), negatives], dim=1)
    ok = torch.ones_like(targets, dtype=dtype)
    ok[:, 1:] = (negatives != centres.unsqueeze(1)).to(dtype)
    return targets, ok


def skipgram_step(w_in: torch.Tensor, w_out: torch.Tensor, centres: torch.Tensor, contexts: torch.Tensor,
                  valid: torch.Tensor, negatives: torch.Tensor, lr: float, max_row_updates: float | None = None,
                  skip_saturated: bool = False) -> torch.Tensor:
    """One batched skip-gram update: every valid context word predicts its centre word.

    ``centres`` B, ``contexts``/``valid`` B×C, ``negatives`` B×K (shared by a centre's contexts).
    """
    targets, target_ok = _targets(centres, negatives, w_in.dtype)  # B × (K+1)
    out = F.embedding(targets, w_out)  # B × (K+1) × d
    hidden = F.embedding(contexts, w_in)  # B × C × d
    scores = torch.bmm(hidden, out.transpose(1, 2))  # B × C × (K+1)
    valid_f = valid.to(scores.dtype)
    mask = valid_f.unsqueeze(2) * target_ok.unsqueeze(1)
    grad, loss = _sgns_scores_to_grad(scores, lr, mask, skip_saturated)
    grad_t = grad.transpose(1, 2)  # B × (K+1) × C
    vocab_size = w_in.shape[0]
    target_rows, context_rows = targets.reshape(-1), contexts.reshape(-1)
    damp_out = _row_damping(target_rows, mask.sum(1).reshape(-1), vocab_size, max_row_updates)
    if damp_out is not None:  # folded into the small coefficient tensors, not the d-wide products
        damp_in = _row_damping(context_rows, valid_f.reshape(-1), vocab_size, max_row_updates)
        grad_t = grad_t * damp_out.view(-1, grad.shape[2], 1)
        grad = grad * damp_in.view(-1, grad.shape[1], 1)
    d = w_in.shape[1]
    w_out.index_add_(0, target_rows, torch.bmm(grad_t, hidden).reshape(-1, d))  # B·(K+1) × d
    w_in.index_add_(0, context_rows, torch.bmm(grad, out).reshape(-1, d))  # B·C × d
    return loss


def cbow_step(w_in: torch.Tensor, w_out: torch.Tensor, centres: torch.Tensor, contexts: torch.Tensor,
              valid: torch.Tensor, negatives: torch.Tensor, lr: float, max_row_updates: float | None = None,
              skip_saturated: bool = False) -> torch.Tensor:
    """One batched CBOW update: the mean of the valid context vectors predicts the centre word (arguments as
    `skipgram_step`'s)."""
    count = valid.sum(1)
    keep = count > 0
    if not bool(keep.all()):
        centres, contexts, valid, negatives, count = (t[keep] for t in (centres, contexts, valid, negatives, count))
        if centres.shape[0] == 0:  # one-word sentences only: nothing to predict from
            return torch.zeros((), dtype=w_in.dtype, device=w_in.device)
    ctx = contexts.reshape(-1).index_select(0, valid.reshape(-1).nonzero().squeeze(1))  # row by row
    offsets = torch.zeros_like(count)
    torch.cumsum(count[:-1], 0, out=offsets[1:])
    d = w_in.shape[1]
    hidden = F.embedding_bag(ctx, w_in, offsets, mode="mean")  # B × d, one fused gather-and-mean
    targets, mask = _targets(centres, negatives, w_in.dtype)  # B × (K+1)
    out = F.embedding(targets, w_out)  # B × (K+1) × d
    scores = torch.bmm(out, hidden.unsqueeze(2)).squeeze(2)  # B × (K+1)
    grad, loss = _sgns_scores_to_grad(scores, lr, mask, skip_saturated)
    grad_hidden = torch.bmm(grad.unsqueeze(1), out).squeeze(1)  # B × d
    target_rows = targets.reshape(-1)
    damp = _row_damping(target_rows, mask.reshape(-1), w_in.shape[0], max_row_updates)
    if damp is not None:
        grad = grad * damp.view_as(grad)
    w_out.index_add_(0, target_rows, (grad.unsqueeze(2) * hidden.unsqueeze(1)).reshape(-1, d))
    grad_ctx = grad_hidden.repeat_interleave(count, dim=0, output_size=ctx.shape[0])
    if damp is not None:
        grad_ctx.mul_(_row_damping(ctx, torch.ones_like(ctx, dtype=damp.dtype), w_in.shape[0],
                                   max_row_updates).unsqueeze(1))
    w_in.index_add_(0, ctx, grad_ctx)
    return loss


def init_weights(vocab_size: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """word2vec's initialisation: inputs uniform in [-0.5/dim, 0.5/dim), outputs zero."""
    gen = torch.Generator().manual_seed(seed)
    w_in = torch.rand(vocab_size, dim, generator=gen).sub_(0.5).div_(dim)  # in place: no temporaries
    return w_in, torch.zeros(vocab_size, dim)


def train_torch(corpus_file, params: Word2VecParams, *, options: TorchW2VOptions | None = None, progress: bool = True,
                log_fn: Callable[[str], None] | None = None, work_dir=None) -> TorchWord2Vec:
    """Train on a tokenized file (one sentence or document per line, tokens split on spaces).

    ``params.workers`` threads (0 = all cores). With one worker the result is a function of the
    seed alone (on CPU); with several, workers update shared weights without locks (Hogwild, as in
    word2vec and gensim), so the last bits depend on thread timing, as with gensim.
    """
    options = options or TorchW2VOptions()
    device = resolve_device(options.device)
    options = options.resolve(params.sg, str(device))
    workers = params.workers if params.workers > 0 else (os.cpu_count() or 1)
    if device.type != "cpu":
        workers = 1  # one stream of large batches keeps a GPU busy; threads would only contend
    previous_threads = torch.get_num_threads()
    start = time.perf_counter()
    try:
        vocab = build_vocab(corpus_file, params.min_count, params.max_vocab_size)
        with tempfile.TemporaryDirectory(prefix="w2v-", dir=work_dir) as tmp:
            encoded = encode_corpus(corpus_file, vocab, tmp)
            prep_seconds = time.perf_counter() - start
            # every worker thread runs its ops single-threaded: Hogwild across cores scales, while
            # intra-op threading of small gathers and scatters does not (index_add_: 1.15x on 2
            # threads) and collapses when the cores are shared with other processes
            torch.set_num_threads(1)
            model = _train_loop(vocab, encoded, params, options, device, workers, progress, log_fn)
    finally:
        torch.set_num_threads(previous_threads)
    seconds = time.perf_counter() - start
    model.info.update({
        "engine": "torch", "torch_version": torch.__version__, "device": str(device), "workers": workers,
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
    """A run of whole sentences, with its place in the stream (for the learning rate)."""

    number: int
    epoch: int
    ids: np.ndarray
    lengths: np.ndarray
    raw_words: int
    words_before: int  # raw words of all epochs' text before this job


class _Trainer:
    def __init__(self, vocab, params: Word2VecParams, options: TorchW2VOptions, device: torch.device,
                 log_fn: Callable[[str], None] | None = None):
        self.params, self.options, self.device = params, options, device
        self.vocab_size = len(vocab)
        w_in, w_out = init_weights(len(vocab), params.vector_size, params.seed)
        self.w_in, self.w_out = w_in.to(device), w_out.to(device)
        self.keep_prob = torch.from_numpy(keep_probabilities(vocab.counts, params.sample)).float().to(device)
        self.neg_table = torch.from_numpy(negative_table(vocab.counts)).to(device)
        self.step = skipgram_step if params.sg else cbow_step
        self.total_words = vocab.corpus_words * params.epochs
        self.native = None
        self.negatives_drawn = 0  # by the C kernel (its per-pair or shared draws), over all jobs
        self._tally_lock = threading.Lock()
        if options.kernel == "native" and device.type == "cpu":
            from nlp_pipeline.embeddings.native import load_kernel

            self.native, why = load_kernel()  # builds the library on first use (time-limited)
            if self.native is None:
                # Not an error: the tensor path trains the same model (the last bits differ), and the
                # stage cannot tell a planned "auto" from an explicit "native" (both arrive as native).
                (log_fn or _log.warning)(f"word2vec: the native kernel is unavailable ({why}); "
                                         "training with the tensor path instead")
            else:
                self.neg_table_np = self.neg_table.numpy()  # the same memory (int32)

    def learning_rate(self, words_before: float, epoch: int) -> float:
        """The rate after ``words_before`` raw words of all epochs' text, in epoch ``epoch`` (``lr_schedule``).

        linear: from alpha to min_alpha over all epochs. per_epoch: within epoch e of E the progress runs
        from e/E only to (e + PER_EPOCH_SHARE)/E and restarts at (e + 1)/E with the next epoch (gensim's
        corpus_file mode on two threads, where each thread counts its half of the epoch against the whole).
        """
        p = self.params
        if p.lr_schedule == "per_epoch":
            per_epoch = self.total_words / p.epochs
            within = min(max((words_before - epoch * per_epoch) / per_epoch, 0.0), 1.0)
            progress = (epoch + PER_EPOCH_SHARE * within) / p.epochs
        else:
            progress = words_before / self.total_words
        return max(p.min_alpha, p.alpha - (p.alpha - p.min_alpha) * progress)

    def run(self, job: _Job) -> tuple[float, int, float]:
        """Train on one job; returns (loss, training examples, last learning rate)."""
        p, dev = self.params, self.device
        gen = torch.Generator(device=dev).manual_seed(p.seed * 1_000_003 + job.number)
        ids = torch.from_numpy(job.ids.astype(np.int64)).to(dev)
        lengths = torch.from_numpy(job.lengths.astype(np.int64)).to(dev)
        sentence_ids = torch.repeat_interleave(torch.arange(len(lengths), device=dev), lengths)
        keep = subsample(ids, self.keep_prob, gen)
        ids, sentence_ids = ids[keep], sentence_ids[keep]
        n = ids.shape[0]
        if n == 0:
            return 0.0, 0, self.learning_rate(job.words_before, job.epoch)
        if self.native is not None:
            return self._run_native(job, ids, sentence_ids)
        contexts, valid = context_matrix(ids, sentence_ids, p.window, gen)
        negatives = sample_negatives(self.neg_table, (n, p.negative), gen)
        bw = self.options.batch_words
        batches = math.ceil(n / bw)
        loss = torch.zeros((), dtype=torch.float64, device=dev)
        lr = 0.0
        for b in range(batches):
            sl = slice(b * bw, (b + 1) * bw)
            lr = self.learning_rate(job.words_before + job.raw_words * b / batches, job.epoch)
            loss += self.step(self.w_in, self.w_out, ids[sl], contexts[sl], valid[sl], negatives[sl], lr,
                              self.options.max_row_updates, self.options.skip_saturated)
        examples = int(valid.sum()) if p.sg else int((valid.sum(1) > 0).sum())
        return float(loss), examples, lr

    def _run_native(self, job: _Job, ids: torch.Tensor, sentence_ids: torch.Tensor) -> tuple[float, int, float]:
        """The job in the C kernel: its centres in order, every update applied at once, in place."""
        p = self.params
        ids, sentence_ids = ids.contiguous(), sentence_ids.contiguous()
        lr_start = self.learning_rate(job.words_before, job.epoch)
        lr_end = self.learning_rate(job.words_before + job.raw_words, job.epoch)
        work = np.zeros(2 * p.vector_size, dtype=np.float32)
        negs = np.zeros(2 * p.negative, dtype=np.int64)
        out = np.zeros(3, dtype=np.float64)
        seed = (p.seed * 1_000_003 + job.number) & 0xFFFFFFFFFFFFFFFF
        n, weights = ids.shape[0], self.vocab_size * p.vector_size
        self.native.w2v_train(
            int(p.sg), c_pointer("w_in", self.w_in, "float32", weights),
            c_pointer("w_out", self.w_out, "float32", weights), p.vector_size, c_pointer("ids", ids, "int64", n),
            c_pointer("sentence_ids", sentence_ids, "int64", n), n, p.window, p.negative,
            c_pointer("neg_table", self.neg_table_np, "int32"), self.neg_table_np.shape[0], lr_start, lr_end, seed,
            int(self.options.skip_saturated), int(self.options.negatives_per_pair),
            c_pointer("work", work, "float32", 2 * p.vector_size), c_pointer("negs", negs, "int64", 2 * p.negative),
            c_pointer("out", out, "float64", 3))
        with self._tally_lock:
            self.negatives_drawn += int(out[2])
        return float(out[0]), int(out[1]), lr_end


def c_pointer(name: str, value: torch.Tensor | np.ndarray, dtype: str, numel: int | None = None) -> int:
    """The address of ``value``'s first element, once it is known to be what the C kernel reads there.

    Why: ctypes hands over a bare address, and the kernel walks it as a flat, contiguous CPU array of
    ``dtype`` (of ``numel`` elements when given). A wrong dtype, a CUDA tensor, a strided view or a
    short buffer would not raise there; it would train on garbage, write past the end, or crash the
    process. ``name`` is the kernel argument's, for the message.
    """
    if isinstance(value, torch.Tensor):
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
                         f"{tuple(value.stride()) if isinstance(value, torch.Tensor) else value.strides}")
    size = value.numel() if isinstance(value, torch.Tensor) else value.size
    if numel is not None and size != numel:
        raise ValueError(f"native kernel argument {name!r}: expected {numel} elements, got {size}")
    return value.data_ptr() if isinstance(value, torch.Tensor) else value.ctypes.data


def _jobs(encoded: EncodedCorpus, epochs: int, chunk_tokens: int, corpus_words: int):
    number = 0
    for epoch in range(epochs):
        words_before = epoch * corpus_words
        for ids, lengths, raw_words in encoded.chunks(chunk_tokens):
            yield _Job(number, epoch, ids, lengths, raw_words, words_before)
            number += 1
            words_before += raw_words


def _train_loop(vocab: W2VVocab, encoded: EncodedCorpus, params: Word2VecParams, options: TorchW2VOptions,
                device: torch.device, workers: int, progress: bool,
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
    jobs = _jobs(encoded, params.epochs, chunk, vocab.corpus_words)

    def finish(job: _Job, result: tuple[float, int, float]) -> None:
        loss, examples, lr = result
        epoch_loss[job.epoch] += loss
        epoch_examples[job.epoch] += examples
        epoch_words[job.epoch] += job.raw_words
        bar.update(job.raw_words)
        bar.set_postfix(lr=f"{lr:.5f}", refresh=False)
        if epoch_words[job.epoch] == vocab.corpus_words:
            epoch_end[job.epoch] = time.perf_counter() - t0
            if log_fn:
                seconds = epoch_end[job.epoch] - (epoch_end[job.epoch - 1] if job.epoch else 0.0)
                # no words/s here: the one figure is the whole run's (vocabulary and encoding included), logged once
                log_fn(f"embed epoch {job.epoch + 1}/{params.epochs}: loss {epoch_loss[job.epoch]:.4g}, "
                       f"{seconds:.2f}s, lr {lr:.5f}")

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
    bar.close()
    info = {"epoch_loss": [round(x, 1) for x in epoch_loss],
            "epoch_seconds": [round(b - a, 2) for a, b in zip([0.0, *epoch_end[:-1]], epoch_end)],
            "epoch_examples": epoch_examples,
            "kernel": "native" if trainer.native is not None else "tensor",  # the update loop that ran
            "negatives_drawn": trainer.negatives_drawn}  # by the C kernel; 0 on the tensor path
    return TorchWord2Vec(vocab=vocab, input_vectors=trainer.w_in.cpu(), output_vectors=trainer.w_out.cpu(), info=info)
