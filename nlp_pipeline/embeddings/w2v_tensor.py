"""The torch engine's batched tensor path: word2vec's updates as tensor operations, on CUDA or the CPU.

It runs on CUDA always, and on the CPU with ``kernel="tensor"`` or where the C kernel cannot be built
(`nlp_pipeline.embeddings.native`); the engine (`nlp_pipeline.embeddings.torch_engine`, whose docstring
says what batching changes) imports this module, and so torch, only then: a run of the C kernel never
imports torch (about 185 MB of resident memory).

`TensorPath` holds the weights and tables as tensors on the run's device and trains a job at a time; on
the CPU its weight tensors share the memory of the engine's numpy arrays, on CUDA they are copied there
and back once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

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


class TensorPath:
    """The weights and tables as tensors on ``device``, and one job's training at a time.

    ``w_in``, ``w_out`` (float32), ``keep_prob`` (float32) and ``neg_table`` (int32) are the engine's
    numpy arrays: on the CPU the tensors are views of them (training updates the arrays in place), on
    CUDA copies that `weights` brings back. While it is open, torch runs its operations on one thread
    per worker (`close` restores the count): Hogwild across cores scales, while intra-op threading of
    small gathers and scatters does not (index_add_: 1.15x on 2 threads) and collapses when the cores
    are shared with other processes.
    """

    def __init__(self, w_in: np.ndarray, w_out: np.ndarray, keep_prob: np.ndarray, neg_table: np.ndarray,
                 device: str, params, options) -> None:
        self.params, self.options, self.device = params, options, torch.device(device)
        self.w_in = torch.from_numpy(w_in).to(self.device)
        self.w_out = torch.from_numpy(w_out).to(self.device)
        self.keep_prob = torch.from_numpy(keep_prob).to(self.device)
        self.neg_table = torch.from_numpy(neg_table).to(self.device)
        self.step = skipgram_step if params.sg else cbow_step
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def close(self) -> None:
        torch.set_num_threads(self._threads)

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The trained weights as CPU arrays (on the CPU, the engine's own arrays)."""
        return self.w_in.cpu().numpy(), self.w_out.cpu().numpy()

    def run(self, job, learning_rate: Callable[..., float]) -> tuple[float, int, float]:
        """Train on one job (`torch_engine._Job`); returns (loss, training examples, last learning rate)."""
        p, dev = self.params, self.device
        gen = torch.Generator(device=dev).manual_seed(p.seed * 1_000_003 + job.number)
        ids = torch.from_numpy(job.ids.astype(np.int64)).to(dev)
        lengths = torch.from_numpy(job.lengths.astype(np.int64)).to(dev)
        sentence_ids = torch.repeat_interleave(torch.arange(len(lengths), device=dev), lengths)
        keep = subsample(ids, self.keep_prob, gen)
        ids, sentence_ids = ids[keep], sentence_ids[keep]
        n = ids.shape[0]
        if n == 0:
            return 0.0, 0, learning_rate(job)
        contexts, valid = context_matrix(ids, sentence_ids, p.window, gen)
        negatives = sample_negatives(self.neg_table, (n, p.negative), gen)
        bw = self.options.batch_words
        batches = math.ceil(n / bw)
        loss = torch.zeros((), dtype=torch.float64, device=dev)
        lr = 0.0
        for b in range(batches):
            sl = slice(b * bw, (b + 1) * bw)
            lr = learning_rate(job, b / batches)
            loss += self.step(self.w_in, self.w_out, ids[sl], contexts[sl], valid[sl], negatives[sl], lr,
                              self.options.max_row_updates, self.options.skip_saturated)
        examples = int(valid.sum()) if p.sg else int((valid.sum(1) > 0).sum())
        return float(loss), examples, lr
