"""SequenceClassifier shapes and padding invariance for every encoder × pooling; config checks; the word
table it builds from a matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.batching import pad_batch
from nlp_pipeline.models.classifier import POOLINGS, ClassifierConfig, SequenceClassifier
from nlp_pipeline.models.encoder import ENCODERS

VOCAB_SIZE = 20


def _model(encoder: str, pooling: str, **kw) -> SequenceClassifier:
    torch.manual_seed(0)
    config = ClassifierConfig(
        vocab_size=VOCAB_SIZE,
        num_classes=3,
        embedding_dim=8,
        hidden_size=6,
        encoder=encoder,
        pooling=pooling,
        embedding_mode="random",
        **kw,
    )
    return SequenceClassifier(config).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("encoder", ENCODERS)
def test_logits_shape_and_padding_never_changes_output(encoder, pooling):
    model = _model(encoder, pooling, num_layers=2)
    target = [4, 7, 9]
    others = [[3, 5, 6, 8, 10, 11, 12], [13, 2, 14, 15, 16]]
    token_ids, lengths = pad_batch([others[0], target, others[1]], max_length=None)
    # Fill padding with real (non-pad) tokens: if any padded position leaked into the encoder or the
    # pooling, the target's logits would move.
    garbage = torch.randint(2, VOCAB_SIZE, token_ids.shape, generator=torch.Generator().manual_seed(1))
    positions = torch.arange(token_ids.size(1))[None, :]
    token_ids = torch.where(positions < lengths[:, None], token_ids, garbage)

    with torch.no_grad():
        batched = model(token_ids, lengths)
        alone = model(torch.tensor([target]), torch.tensor([3]))
    assert batched.shape == (3, 3)
    assert torch.allclose(batched[1], alone[0], atol=1e-6)
    assert not torch.allclose(batched[0], batched[1])  # different inputs do give different logits


def test_bilstm_last_pooling_is_forward_last_plus_backward_first():
    model = _model("bilstm", "last")
    seq = torch.tensor([[4, 7, 9, 2]])
    token_ids, lengths = pad_batch([[4, 7, 9, 2], [1, 3, 5, 6, 8, 10, 12]], max_length=None)
    with torch.no_grad():
        outputs, _ = model.encoder(model.embedding(seq), torch.tensor([4]))  # unpadded, [1, T, 2H]
        features = model.features(token_ids, lengths)[0]
    hidden = model.config.hidden_size
    expected = torch.cat([outputs[0, -1, :hidden], outputs[0, 0, hidden:]])
    assert torch.allclose(features, expected, atol=1e-6)


def test_invalid_choices_are_config_errors_listing_valid_values():
    with pytest.raises(ConfigError, match="rnn, gru, lstm, bilstm"):
        ClassifierConfig(vocab_size=10, num_classes=2, encoder="transformer")
    with pytest.raises(ConfigError, match="last, max, mean"):
        ClassifierConfig(vocab_size=10, num_classes=2, pooling="attention")
    with pytest.raises(ConfigError, match="frozen, fine-tuned, random"):
        ClassifierConfig(vocab_size=10, num_classes=2, embedding_mode="static")
    with pytest.raises(ConfigError, match="dropout"):
        ClassifierConfig(vocab_size=10, num_classes=2, dropout=1.5)
    with pytest.raises(ConfigError, match="valid: vocab_size"):
        ClassifierConfig.from_dict({"vocab_size": 10, "num_classes": 2, "hiden_size": 3})


def test_config_dict_roundtrip():
    config = ClassifierConfig(vocab_size=10, num_classes=2, encoder="gru", pooling="mean")
    assert ClassifierConfig.from_dict(config.to_dict()) == config


def test_embedding_matrix_is_copied_unless_random_and_pad_row_is_zero():
    matrix = np.random.default_rng(0).normal(size=(VOCAB_SIZE, 8)).astype(np.float32)
    matrix[0] = 0
    for mode in ("frozen", "fine-tuned"):
        config = ClassifierConfig(vocab_size=VOCAB_SIZE, num_classes=2, embedding_dim=8, embedding_mode=mode)
        model = SequenceClassifier(config, matrix)
        assert np.array_equal(model.embedding.weight.detach().numpy(), matrix)
        assert model.embedding.weight.requires_grad == (mode == "fine-tuned")
    config = ClassifierConfig(vocab_size=VOCAB_SIZE, num_classes=2, embedding_dim=8, embedding_mode="random")
    weight = SequenceClassifier(config, matrix).embedding.weight.detach().numpy()
    assert not np.allclose(weight[1:], matrix[1:])
    assert not weight[0].any()
