"""Classifiers and taggers as ONNX graphs, so they run in onnxruntime (or any ONNX runtime) without PyTorch.

Why one graph with a dynamic batch *and* a dynamic sequence length is exact: the recurrent encoder never
packs sequences. It runs over the right-padded batch, the forward direction's state at a real position
never depends on the padding after it, and the backward direction (BiLSTM) reads each row reversed
*within its own length* (`reverse_within_length`, a gather over indices computed from ``lengths``); last
states, max and mean pooling and the tagger's character model all mask with ``lengths``. So the graph
takes ``lengths`` as an input and gives, for every row, what the model gives that row alone: the export
needs no batch-of-one restriction and no packed-sequence operator. A padded position's output is
meaningless (as in PyTorch) and must be ignored.

What the graphs compute:

- classifier: ``token_ids [batch, sequence]`` (int64, right-padded with 0 = ``<pad>``) and ``lengths
  [batch]`` → ``probabilities [batch, num_classes]`` (softmax, the saved label order). Sequences longer
  than the model's ``max_length`` are cut inside the graph, as `pad_batch` cuts them in PyTorch.
- tagger: ``word_ids [batch, sequence]``, ``char_ids [batch, sequence, chars]`` and ``lengths [batch]`` →
  ``tag_scores [batch, sequence, num_tags]`` (per-token scores; argmax is the tag, or with a CRF the
  emissions its Viterbi decoding reads). An input the model does not use (``char_ids`` without a character
  model) is not in the graph: `graph_input_names` says which are.

The TorchScript-based exporter (``torch.onnx.export(dynamo=False)``) is used: the models' control flow
depends on shapes only, which tracing records symbolically with ``dynamic_axes``, and it needs no
onnxscript. `max_abs_difference` compares onnxruntime's outputs with PyTorch's on real positions.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nlp_pipeline.models.batching import pad_batch
from nlp_pipeline.models.classifier import SequenceClassifier
from nlp_pipeline.models.tagger import SequenceTagger
from nlp_pipeline.models.tagger_encoding import EncodedSentences, pad_tagged_batch

OPSET = 17  # onnxruntime >= 1.14 runs it; LSTM, GRU, RNN, GatherElements and masking are all in it
CLASSIFIER_INPUTS = ("token_ids", "lengths")
CLASSIFIER_OUTPUT = "probabilities"
TAGGER_INPUTS = ("word_ids", "char_ids", "lengths")
TAGGER_OUTPUT = "tag_scores"


class ClassifierGraph(nn.Module):
    """What an exported classifier computes: the ``max_length`` cut, the model, softmax over its labels."""

    def __init__(self, model: SequenceClassifier, max_length: int | None) -> None:
        super().__init__()
        self.model = model
        self.max_length = max_length
        self.eval()  # the exporter puts the whole tree back in the top module's mode afterwards: eval, not train

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.max_length is not None:
            token_ids = token_ids[:, : self.max_length]
            lengths = lengths.clamp(max=self.max_length)
        return torch.softmax(self.model(token_ids, lengths), dim=1)


class TaggerGraph(nn.Module):
    """What an exported tagger computes: the model's per-token tag scores."""

    def __init__(self, model: SequenceTagger) -> None:
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, word_ids: torch.Tensor, char_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(word_ids, char_ids, lengths)


def classifier_inputs(ids: Sequence[list[int]]) -> dict[str, np.ndarray]:
    """Encoded documents → the classifier graph's inputs (right-padded with 0; an empty document is one
    ``<pad>`` of length 1, as `pad_batch` reads it). No cut: the graph applies ``max_length`` itself."""
    token_ids, lengths = pad_batch(list(ids))
    return {"token_ids": token_ids.numpy(), "lengths": lengths.numpy()}


def tagger_inputs(data: EncodedSentences, batch: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Encoded sentences (``batch``: which of them, default all) → the tagger graph's inputs."""
    rows = list(range(len(data))) if batch is None else list(batch)
    words, chars, lengths, _ = pad_tagged_batch(data, rows)
    return {"word_ids": words.numpy(), "char_ids": chars.numpy(), "lengths": lengths.numpy()}


def export_classifier(model: SequenceClassifier, max_length: int | None, path: str | Path) -> ClassifierGraph:
    """Write ``model`` (with its ``max_length`` cut and softmax) as ONNX to ``path``; returns the traced module."""
    graph = ClassifierGraph(model.cpu(), max_length)
    example = classifier_inputs([[2, 3, 4], [5, 6]])
    _export(graph, tuple(torch.from_numpy(example[n]) for n in CLASSIFIER_INPUTS), path, CLASSIFIER_INPUTS,
            CLASSIFIER_OUTPUT, {"token_ids": {0: "batch", 1: "sequence"}, "lengths": {0: "batch"},
                                CLASSIFIER_OUTPUT: {0: "batch"}})
    return graph


def export_tagger(model: SequenceTagger, path: str | Path) -> TaggerGraph:
    """Write ``model``'s per-token scores as ONNX to ``path``; returns the traced module."""
    graph = TaggerGraph(model.cpu())
    chars = [np.array([[2, 3, 0], [4, 0, 0], [5, 6, 7]]), np.array([[3, 0, 0], [2, 4, 0]])]
    example = tagger_inputs(EncodedSentences(words=[[2, 3, 4], [5, 6]], chars=chars))
    _export(graph, tuple(torch.from_numpy(example[n]) for n in TAGGER_INPUTS), path, TAGGER_INPUTS, TAGGER_OUTPUT,
            {"word_ids": {0: "batch", 1: "sequence"}, "char_ids": {0: "batch", 1: "sequence", 2: "chars"},
             "lengths": {0: "batch"}, TAGGER_OUTPUT: {0: "batch", 1: "sequence"}})
    return graph


def _export(graph: nn.Module, example: tuple[torch.Tensor, ...], path: str | Path, inputs: Sequence[str],
            output: str, dynamic_axes: dict) -> None:
    with warnings.catch_warnings():
        # The legacy exporter's deprecation notice, and its generic warning that an LSTM traced at one batch size
        # may fail at another: ours builds its initial state from the input's shape (checked at export time
        # by `max_abs_difference` on a batch of another size, and in the tests).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*", category=UserWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(graph, example, str(path), dynamo=False, input_names=list(inputs), output_names=[output],
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)


def graph_input_names(path: str | Path) -> list[str]:
    """The inputs an exported graph takes (tracing drops one the model never reads)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in initializers]


def real_positions(inputs: dict[str, np.ndarray], output: np.ndarray) -> np.ndarray:
    """``output`` at real positions only: a tagger's padded positions are meaningless and left out."""
    if output.ndim == 2:
        return output
    mask = np.arange(output.shape[1])[None, :] < inputs["lengths"][:, None]
    return output[mask]


def max_abs_difference(graph: nn.Module, path: str | Path, batches: Sequence[dict[str, np.ndarray]],
                       threads: int = 1) -> float:
    """Largest absolute difference between onnxruntime's outputs for ``path`` and ``graph``'s (PyTorch, CPU)
    on ``batches`` of inputs, over real positions."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    names = CLASSIFIER_INPUTS if isinstance(graph, ClassifierGraph) else TAGGER_INPUTS
    graph.eval()
    worst = 0.0
    for feeds in batches:
        ours = session.run(None, {n: feeds[n] for n in wanted})[0]
        with torch.inference_mode():
            theirs = graph(*(torch.from_numpy(feeds[n]) for n in names)).numpy()
        worst = max(worst, float(np.abs(real_positions(feeds, ours) - real_positions(feeds, theirs)).max()))
    return worst
