"""The tagger network: shapes, padding independence, the CRF against brute force, config checks."""

import itertools

import pytest
import torch
from tagger_helpers import random_batch, small_config

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.tagger import IGNORE_INDEX, LinearChainCRF, SequenceTagger


@pytest.mark.parametrize("encoder", ["rnn", "gru", "lstm", "bilstm"])
@pytest.mark.parametrize("char_encoder", ["none", "cnn", "bilstm"])
def test_scores_per_token(encoder, char_encoder):
    model = SequenceTagger(small_config(encoder=encoder, char_encoder=char_encoder)).eval()
    words, chars, lengths = random_batch()
    assert model(words, chars, lengths).shape == (3, 5, 4)


@pytest.mark.parametrize("encoder", ["lstm", "bilstm"])
@pytest.mark.parametrize("char_encoder", ["cnn", "bilstm"])
def test_a_sentences_scores_do_not_depend_on_padding_or_batch_mates(encoder, char_encoder):
    torch.manual_seed(0)
    model = SequenceTagger(small_config(encoder=encoder, char_encoder=char_encoder)).eval()
    words, chars, lengths = random_batch()
    batched = model(words, chars, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = model(words[b : b + 1, :n], chars[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(batched[b, :n], alone[0], atol=1e-5, rtol=1e-5)
    # garbage in the padded positions changes nothing at the real ones
    noisy_words, noisy_chars = words.clone(), chars.clone()
    for b, n in enumerate(lengths.tolist()):
        noisy_words[b, n:] = 7
        noisy_chars[b, n:] = 3
    torch.testing.assert_close(model(noisy_words, noisy_chars, lengths)[1, :2], batched[1, :2])


@pytest.mark.parametrize("crf", [False, True])
def test_loss_ignores_padded_positions(crf):
    torch.manual_seed(0)
    model = SequenceTagger(small_config(crf=crf)).eval()
    words, chars, lengths = random_batch()
    scores = model(words, chars, lengths)
    tags = torch.randint(0, 4, words.shape)
    mask = torch.arange(5)[None, :] < lengths[:, None]
    tags[~mask] = IGNORE_INDEX
    loss = model.loss(scores, tags, lengths)
    # other scores at padded positions: same loss
    scrambled = torch.where(mask[:, :, None], scores, torch.randn_like(scores) * 100)
    torch.testing.assert_close(model.loss(scrambled, tags, lengths), loss)


def test_crf_matches_brute_force_enumeration():
    torch.manual_seed(1)
    crf = LinearChainCRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.randn(2, 4, 3)
    lengths = torch.tensor([4, 2])
    mask = torch.arange(4)[None, :] < lengths[:, None]
    gold = torch.tensor([[0, 1, 2, 1], [2, 0, IGNORE_INDEX, IGNORE_INDEX]])

    def score(b, seq):
        s = crf.start[seq[0]] + emissions[b, 0, seq[0]]
        for t in range(1, len(seq)):
            s = s + crf.transitions[seq[t - 1], seq[t]] + emissions[b, t, seq[t]]
        return s + crf.end[seq[-1]]

    decoded = crf.decode(emissions, mask)
    for b in range(2):
        n = int(lengths[b])
        seqs = list(itertools.product(range(3), repeat=n))
        all_scores = torch.stack([score(b, s) for s in seqs])
        assert decoded[b, :n].tolist() == list(seqs[int(all_scores.argmax())])
        expected_nll = torch.logsumexp(all_scores, 0) - score(b, gold[b, :n].tolist())
        nll = crf.neg_log_likelihood(emissions[b : b + 1], gold[b : b + 1], mask[b : b + 1])
        torch.testing.assert_close(nll.detach(), expected_nll.detach())


def test_frozen_embeddings_get_no_gradient_and_keep_the_vectors():
    matrix = torch.randn(20, 8).numpy()
    matrix[0] = 0
    model = SequenceTagger(small_config(embedding_mode="frozen"), embedding_matrix=matrix)
    assert not model.embedding.weight.requires_grad
    torch.testing.assert_close(model.embedding.weight, torch.as_tensor(matrix))


def test_bad_config_names_the_key():
    with pytest.raises(ConfigError, match="model.char_encoder"):
        small_config(char_encoder="rnn")
    with pytest.raises(ConfigError, match="model.hidden_size"):
        small_config(hidden_size=0)
