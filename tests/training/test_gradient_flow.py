"""The gradient-flow curve: the unrolled layer computes what the whole-sequence call does, the curve is the
total gradient of the loss with respect to each step's state (checked against a hand-written tanh RNN), and
measuring leaves the model as it was."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.training.gradient_flow import classifier_flow, gradient_flow, longest, unrolled


@pytest.mark.parametrize("cell", [nn.RNN, nn.GRU, nn.LSTM])
def test_the_unrolled_layer_computes_what_the_whole_sequence_call_does(cell):
    torch.manual_seed(0)
    rnn = cell(4, 6, batch_first=True)
    x = torch.randn(3, 7, 4)
    whole, _ = rnn(x)
    with unrolled(rnn) as states:
        stepped, _ = rnn(x)
    assert len(states) == 7 and isinstance(states[0], tuple) == (cell is nn.LSTM)
    torch.testing.assert_close(stepped, whole)
    assert "forward" not in vars(rnn)  # its own forward again


class LastState(nn.Module):
    """A tanh RNN whose loss reads its last state only: ``(h_T · w)`` summed over the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(3, 4, batch_first=True)
        self.w = nn.Parameter(torch.randn(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return (out[:, -1] @ self.w).sum()


def test_the_curve_is_the_total_gradient_with_respect_to_each_steps_state():
    torch.manual_seed(1)
    model = LastState()
    x = torch.randn(2, 5, 3)
    flow = gradient_flow(model, "rnn", lambda m: m(x.double()), of="the loss")
    # by hand, in float64: h_t = tanh(W x_t + b + U h_{t-1} + c), each h_t kept to read its gradient
    W, U = model.rnn.weight_ih_l0.double(), model.rnn.weight_hh_l0.double()
    b = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).double()
    h, states = torch.zeros(2, 4, dtype=torch.float64), []
    for t in range(5):
        h = torch.tanh(x[:, t].double() @ W.T + h @ U.T + b)
        h.retain_grad()
        states.append(h)
    (h @ model.w.double()).sum().backward()
    want = [float(s.grad.norm(dim=1).mean()) for s in reversed(states)]
    assert flow["steps"] == 5 and flow["sequences"] == 2 and flow["state"] == "h"
    assert flow["norms"] == pytest.approx(want, rel=1e-3)
    assert flow["norms"][0] == pytest.approx(float(model.w.detach().norm()), rel=1e-3)  # the last step: w itself


def test_measuring_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(vocab_size=10, num_classes=2, embedding_dim=4, hidden_size=5,
                                                encoder="bilstm", pooling="last", embedding_mode="random"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    ids = [[2, 3, 4, 5, 6, 7], [3, 4], [5, 6, 7, 8, 9]]
    flow = classifier_flow(model, ids, [0, 1, 1], cap=None, device=torch.device("cpu"))
    assert flow["steps"] == 2 and flow["sequences"] == 3  # the longest 32 (here 3), cut to the shortest of them
    assert flow["layer"] == "encoder.forward_layers.0" and flow["state"] == "h, c"
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, before[k]) and v.dtype == before[k].dtype for k, v in model.state_dict().items())


def test_the_batch_is_the_longest_sequences_cut_to_a_common_length():
    index, steps = longest([3, 9, 5, 12, 1], cap=8)
    assert index[:3] == [3, 1, 2] and steps == 1  # 32 longest (all 5): the shortest of them has 1 step
    assert longest([10, 12, 40], cap=None) == ([2, 1, 0], 10)
    assert longest([300, 250], cap=None)[1] == 200  # FLOW_MAX_STEPS
