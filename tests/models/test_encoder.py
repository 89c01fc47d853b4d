"""RecurrentEncoder against torch's own bidirectional RNNs on padded batches; reverse_within_length."""

from __future__ import annotations

import pytest
import torch

from nlp_pipeline.models.encoder import RecurrentEncoder, reverse_within_length, set_forget_bias


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_recurrent_encoder_equals_torch_bidirectional_rnn_on_padded_batches(cell):
    """Same weights as nn.LSTM(bidirectional=True, num_layers=2): identical outputs at every real position."""
    torch.manual_seed(0)
    reference = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](
        5, 4, num_layers=2, batch_first=True, bidirectional=True
    ).eval()
    ours = RecurrentEncoder(cell, 5, 4, num_layers=2, bidirectional=True, dropout=0.0).eval()
    with torch.no_grad():
        for layer in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ours.forward_layers[layer], f"{name}_l0").copy_(getattr(reference, f"{name}_l{layer}"))
                getattr(ours.backward_layers[layer], f"{name}_l0").copy_(getattr(reference, f"{name}_l{layer}_reverse"))
    lengths = torch.tensor([6, 3, 1])
    x = torch.randn(3, 6, 5)
    with torch.no_grad():
        outputs, last = ours(x, lengths)
        for b, n in enumerate(lengths.tolist()):
            expected, _ = reference(x[b : b + 1, :n])
            assert torch.allclose(outputs[b, :n], expected[0], atol=1e-5)
            assert torch.allclose(last[b], torch.cat([expected[0, -1, :4], expected[0, 0, 4:]]), atol=1e-5)


def test_reverse_within_length_keeps_padding_and_is_its_own_inverse():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1).float()
    lengths = torch.tensor([3, 2])
    assert reverse_within_length(x, lengths).squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within_length(reverse_within_length(x, lengths), lengths), x)


def test_a_relu_rnn_is_an_rnn_with_relu_and_gated_cells_take_no_activation():
    torch.manual_seed(0)
    relu = RecurrentEncoder("rnn", 3, 4, num_layers=2, bidirectional=False, dropout=0.0, nonlinearity="relu")
    assert all(layer.nonlinearity == "relu" for layer in relu.forward_layers)
    outputs, _ = relu(torch.randn(2, 5, 3), torch.tensor([5, 2]))
    assert outputs.min() >= 0  # every state is a relu's
    lstm = RecurrentEncoder("lstm", 3, 4, num_layers=1, bidirectional=True, dropout=0.0, nonlinearity="relu")
    assert isinstance(lstm.forward_layers[0], torch.nn.LSTM)  # the setting's validator refuses this pairing


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_forget_bias_sets_that_gate_alone_and_draws_nothing(cell):
    torch.manual_seed(0)
    plain = RecurrentEncoder(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.0)
    torch.manual_seed(0)
    opened = RecurrentEncoder(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.0)
    assert set_forget_bias(opened.modules(), 5.0) == 4  # two layers, two directions
    after = torch.rand(1)  # the same draw as without: the bias took nothing from the generator
    torch.manual_seed(0)
    RecurrentEncoder(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.0)
    assert torch.equal(torch.rand(1), after)
    for (name, a), (_, b) in zip(plain.named_parameters(), opened.named_parameters(), strict=True):
        if name.endswith(("bias_ih_l0", "bias_hh_l0")):
            gate = slice(4, 8)  # LSTM: i|f|g|o; GRU: r|z|n
            assert torch.all(b[gate] == (5.0 if "bias_ih" in name else 0.0))
            assert torch.equal(torch.cat([a[:4], a[8:]]), torch.cat([b[:4], b[8:]]))
        else:
            assert torch.equal(a, b)
    rnn = RecurrentEncoder("rnn", 3, 4, num_layers=1, bidirectional=False, dropout=0.0)
    assert set_forget_bias(rnn.modules(), 5.0) == 0  # no gate
