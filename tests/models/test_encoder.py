"""RecurrentEncoder against torch's own bidirectional RNNs on padded batches; reverse_within_length."""

from __future__ import annotations

import pytest
import torch

from nlp_pipeline.models.encoder import RecurrentEncoder, reverse_within_length


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
