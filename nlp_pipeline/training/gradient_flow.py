"""How far back in a sequence a trained model's loss gradient reaches: the gradient-flow curve.

A plain (tanh) RNN multiplies its gradient by the same Jacobian at every step back in time, so the loss
of the last step barely reaches the first ones (Bengio et al. 1994; Pascanu et al. 2013): what lies 100
tokens back cannot be learned. Gated cells (LSTM, GRU) carry their state, and its gradient, through a
path that a forget gate near 1 leaves almost untouched. `gradient_flow` measures it on the trained model:
for a fixed batch of the longest dev sequences, the norm of the loss gradient with respect to the hidden
state of each time step, as a curve over the distance from the last step. The training stages store the
curve in their artifact's metadata (``gradient_flow``), and the report draws a grid's variants in one
figure (``gradient_flow.png``).

The hidden state is that of the recurrent layer the output reads (the top one; a bidirectional encoder's
forward direction); an LSTM's state is the pair of its output and its cell (``h_t``, ``c_t``: the cell is
where it keeps what it remembers), and its norm is that of both gradients together. The total gradient,
through every later step, is only reachable when the layer runs one step at a time: a whole-sequence
``nn.LSTM`` call hides the steps inside one kernel. `unrolled` does that for the measurement, and nothing
else changes: a float64 copy of the trained model (a gradient that vanishes is measured, not rounded to
zero as float32 rounds anything below 1e-45), eval mode (no dropout), gradients taken with
`torch.autograd.grad`. What the loss is: the classifier's loss on the batch's labels
(with ``pooling: last`` only the last state reads the sequence, so the curve is the flow through time
alone); for a tagger and a language model, the loss of the last token's tag or next word.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FLOW_SEQUENCES = 32  # the batch: this many of the longest dev sequences
FLOW_MAX_STEPS = 200  # cut to at most this many steps (and to the shortest of them: no padding)


@contextlib.contextmanager
def unrolled(rnn: nn.RNNBase) -> Iterator[list[torch.Tensor]]:
    """While inside, ``rnn`` (one layer, one direction, ``batch_first``) runs one step at a time; the list
    yielded receives each step's state: ``h [1, B, H]``, or an LSTM's ``(h, c)``, the very tensors the next
    step and the output read, so their gradients are the total ones."""
    states: list[Any] = []
    step = type(rnn).forward

    def forward(x: torch.Tensor, hx: Any = None) -> tuple[torch.Tensor, Any]:
        outputs = []
        for t in range(x.size(1)):
            _, hx = step(rnn, x[:, t:t + 1], hx)
            states.append(hx)
            outputs.append((hx[0] if isinstance(hx, tuple) else hx)[-1])
        return torch.stack(outputs, dim=1), hx

    rnn.forward = forward
    try:
        yield states
    finally:
        del rnn.forward


def gradient_flow(model: nn.Module, layer: str, loss: Callable[[nn.Module], torch.Tensor],
                  of: str) -> dict[str, Any] | None:
    """The curve: ``norms[d]`` is the mean over the batch of ``‖∂loss/∂h_t‖`` (an LSTM: of ``(h_t, c_t)``) at
    ``d`` steps from the last one, ``layer`` naming the recurrent layer (``encoder.forward_layers.0``) and
    ``loss(model)`` the loss summed over the batch (so each sequence's gradient is its own), computed on a
    float64 copy of ``model`` in eval mode. None when nothing in the layer is trainable."""
    if not any(p.requires_grad for p in model.get_submodule(layer).parameters()):
        return None
    probe = copy.deepcopy(model).double().eval()
    # cuDNN's recurrent kernels refuse a backward pass in eval mode; the one-step calls need none of them.
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False), unrolled(probe.get_submodule(layer)) as states:
        value = loss(probe)
        parts = [s if isinstance(s, tuple) else (s,) for s in states]
        flat = torch.autograd.grad(value, [t for p in parts for t in p], allow_unused=True)
    squares, i = [], 0
    for p in parts:  # per step: the squared norm of each sequence's state gradient, its parts summed
        square = sum(g[0].pow(2).sum(dim=-1) for g in flat[i:i + len(p)] if g is not None)
        squares.append(square if isinstance(square, torch.Tensor) else torch.zeros(1, device=value.device))
        i += len(p)
    per_step = torch.stack([s.sqrt().mean() for s in squares])
    norms = per_step.flip(0).tolist()  # index = distance from the last step
    return {"layer": layer, "of": of, "state": "h, c" if isinstance(states[0], tuple) else "h",
            "steps": len(states), "sequences": int(parts[0][0].size(1)), "norms": [float(f"{v:.4g}") for v in norms]}


def longest(lengths: Sequence[int] | np.ndarray, cap: int | None = None) -> tuple[list[int], int]:
    """The indices of the `FLOW_SEQUENCES` longest sequences, and the steps they all have (at most ``cap``
    and `FLOW_MAX_STEPS`)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    index = np.argsort(-lengths, kind="stable")[:FLOW_SEQUENCES]
    steps = int(lengths[index].min()) if len(index) else 0
    return index.tolist(), max(1, min(steps, cap or FLOW_MAX_STEPS, FLOW_MAX_STEPS))


def classifier_flow(model: nn.Module, ids: Sequence[list[int]], labels: Sequence[int], cap: int | None,
                    device: torch.device) -> dict[str, Any] | None:
    """`gradient_flow` of a classifier (``model.encoder``, a `RecurrentEncoder`) on its dev split."""
    index, steps = longest([len(s) for s in ids], cap)
    if not index:
        return None
    tokens = torch.tensor([(list(ids[i][:steps]) + [0] * steps)[:steps] for i in index], device=device)  # 0: <pad>
    lengths = torch.full((len(index),), steps, dtype=torch.long)
    targets = torch.tensor([labels[i] for i in index], device=device)
    layer = f"encoder.forward_layers.{len(model.encoder.forward_layers) - 1}"
    return gradient_flow(model, layer, lambda m: F.cross_entropy(m(tokens, lengths), targets, reduction="sum"),
                         of="the loss")


def tagger_flow(model: nn.Module, dev: Any, device: torch.device) -> dict[str, Any] | None:
    """`gradient_flow` of a tagger on its dev sentences (`EncodedSentences`): the last token's tag loss."""
    from nlp_pipeline.models.tagger_encoding import pad_tagged_batch

    index, steps = longest(dev.lengths)
    if not index:
        return None
    words, chars, _, tags = pad_tagged_batch(dev, index)
    words, chars, tags = words[:, :steps].to(device), chars[:, :steps].to(device), tags[:, steps - 1].to(device)
    lengths = torch.full((len(index),), steps, dtype=torch.long)
    layer = f"encoder.forward_layers.{len(model.encoder.forward_layers) - 1}"
    return gradient_flow(model, layer, lambda m: F.cross_entropy(m(words, chars, lengths)[:, -1], tags,
                                                                 reduction="sum"), of="the last token's loss")


def language_model_flow(model: nn.Module, heldout: np.ndarray, device: torch.device) -> dict[str, Any] | None:
    """`gradient_flow` of a language model on rows of its held-out stream: the loss of each row's next word
    after `FLOW_MAX_STEPS` words (fewer when the held-out text is short)."""
    steps = min(FLOW_MAX_STEPS, len(heldout) - 1)
    if steps < 1:
        return None
    rows = max(1, min(FLOW_SEQUENCES, len(heldout) // (steps + 1)))
    data = torch.from_numpy(np.asarray(heldout[:rows * (steps + 1)], dtype=np.int64).reshape(rows, steps + 1))
    x, y = data[:, :steps].to(device), data[:, steps:].to(device)

    def loss(m: nn.Module) -> torch.Tensor:
        features, _ = m(x)
        return m.loss(features[:, -1:], y) * rows

    return gradient_flow(model, f"layers.{len(model.layers) - 1}", loss, of="the last word's loss")
