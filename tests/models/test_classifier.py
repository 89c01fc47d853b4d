"""SequenceClassifier shapes and padding invariance for every encoder × pooling; config checks;
build_embedding_matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.classifier import (
    ENCODERS,
    POOLINGS,
    ClassifierConfig,
    SequenceClassifier,
    build_embedding_matrix,
)
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.batching import pad_batch

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


def test_build_embedding_matrix_copies_known_vectors_and_reports_coverage():
    vocab = Vocab(["<pad>", "<unk>", "good", "bad", "film", "zzz"])
    kv = KeyedVectors(vector_size=4)
    known = {"good": [1, 2, 3, 4], "bad": [-1, -2, -3, -4], "film": [0.5, 0.5, 0.5, 0.5], "other": [9, 9, 9, 9]}
    kv.add_vectors(list(known), np.asarray(list(known.values()), dtype=np.float32))

    matrix, coverage = build_embedding_matrix(vocab, kv, dim=4, seed=0)
    assert matrix.dtype == np.float32 and matrix.shape == (6, 4)
    assert coverage == pytest.approx(3 / 4)
    for word in ("good", "bad", "film"):
        assert np.array_equal(matrix[vocab.stoi[word]], np.asarray(known[word], dtype=np.float32))
    assert not matrix[0].any()  # <pad>
    assert matrix[1].any() and matrix[5].any()  # <unk> and the unknown word: random, not zero
    again, _ = build_embedding_matrix(vocab, kv, dim=4, seed=0)
    assert np.array_equal(matrix, again)  # seeded


def test_build_embedding_matrix_without_vectors_and_dim_mismatch():
    vocab = Vocab(["<pad>", "<unk>", "a"])
    matrix, coverage = build_embedding_matrix(vocab, None, dim=5, seed=1)
    assert coverage == 0.0 and matrix.shape == (3, 5) and not matrix[0].any()
    kv = KeyedVectors(vector_size=3)
    with pytest.raises(ConfigError, match="embedding_dim"):
        build_embedding_matrix(vocab, kv, dim=5, seed=1)


def test_extend_vocabulary_appends_pretrained_rows_and_keeps_outputs():
    from nlp_pipeline.models.classifier import extend_vocabulary

    vocab = Vocab.build([["good", "film"], ["bad", "film"]])
    kv = KeyedVectors(vector_size=4)
    words = ["film", "great", "awful", "good"]
    kv.add_vectors(words, np.arange(16, dtype=np.float32).reshape(4, 4))
    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=len(vocab), num_classes=2, embedding_dim=4, hidden_size=3, encoder="lstm")
    model = SequenceClassifier(cfg).eval()
    ids = torch.tensor([vocab.encode(["good", "film"])])
    before = model(ids, torch.tensor([2]))
    model, new_vocab, added = extend_vocabulary(model, vocab, kv, max_words=10)
    assert added == 2 and new_vocab.itos[-2:] == ["great", "awful"]
    assert model.config.vocab_size == len(new_vocab) == model.embedding.num_embeddings
    assert torch.equal(model.embedding.weight[new_vocab.stoi["great"]], torch.tensor(kv["great"]))
    assert torch.allclose(model(ids, torch.tensor([2])), before)  # known words unchanged
    assert new_vocab.encode(["great"]) != [Vocab.UNK_INDEX]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_recurrent_encoder_equals_torch_bidirectional_rnn_on_padded_batches(cell):
    """Same weights as nn.LSTM(bidirectional=True, num_layers=2): identical outputs at every real position."""
    from nlp_pipeline.models.classifier import RecurrentEncoder

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
    from nlp_pipeline.models.classifier import reverse_within_length

    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1).float()
    lengths = torch.tensor([3, 2])
    assert reverse_within_length(x, lengths).squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within_length(reverse_within_length(x, lengths), lengths), x)
