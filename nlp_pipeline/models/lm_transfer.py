"""Starting a classifier or tagger from language models: their embedding and recurrent layers.

Dai & Le (2015) and ULMFiT (Howard & Ruder, 2018): an LSTM whose weights come from a language
model trained on unlabelled text of the domain learns the task from far fewer labels than one
started from word vectors alone. Here:

- the **embedding** is the forward language model's: every word of the task vocabulary that the
  language model knows gets its row (the rest are drawn on the same scale, as for word2vec rows);
- **recurrent layer i** of the encoder's forward direction is the forward model's layer i, and of
  its backward direction the backward model's (which read the text right to left): the modules
  have the same parameter names and shapes (`nlp_pipeline.models.encoder.RecurrentEncoder`);
- the encoder's cell and hidden size **follow** the language models (a BiLSTM needs LSTM models
  of both directions, an LSTM or GRU encoder a model of that cell), and a setting that contradicts
  them is a `ConfigError` naming it. The encoder may have more layers than the models (the extra
  ones start at random) or fewer (the models' top layers are left out).

Where an encoder layer reads more than the model's layer did (a tagger's character features; the
other direction's outputs above a bidirectional encoder's first layer), those input columns start
at zero: at the start each direction computes exactly what its language model does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.encoder import RecurrentEncoder
from nlp_pipeline.models.language_model import RNNLanguageModel
from nlp_pipeline.models.language_model_io import load_language_model
from nlp_pipeline.text.vocab import Vocab


@dataclass
class EncoderLMs:
    """The language model(s) an encoder starts from: a forward one, and for a BiLSTM a backward one."""

    forward: RNNLanguageModel
    vocab: Vocab
    backward: RNNLanguageModel | None = None
    sources: tuple[str, ...] = ()

    @property
    def cell(self) -> str:
        return self.forward.config.cell

    @property
    def hidden_size(self) -> int:
        return self.forward.config.hidden_size

    @property
    def embedding_dim(self) -> int:
        return self.forward.config.embedding_dim

    @property
    def num_layers(self) -> int:
        return self.forward.config.num_layers


def check_language_models(configs: list[dict], folders: list, encoder: str | None = None,
                          nonlinearity: str | None = None) -> None:
    """Every rule the language models an encoder starts from must follow, on their ``config.json``
    ``"model"`` dicts (forward first, then backward): each of the direction its place asks for, both
    of one architecture, and, given the ``encoder`` setting, of its cell, with a backward model for a
    BiLSTM, and of the plain rnn's ``nonlinearity`` (a model saved before the setting existed is tanh).
    The runner applies it to the files before any stage runs; `load_encoder_lms` and `encoder_settings`
    to the loaded models."""
    for config, direction, folder in zip(configs, ("forward", "backward"), folders, strict=False):
        if config.get("direction") != direction:
            raise ConfigError(f"model.lm: {folder} is a {config.get('direction')} language model where a "
                              f"{direction} one is needed (forward first, then backward)")
    if len(configs) > 1:
        mismatch = [k for k in ("cell", "hidden_size", "num_layers", "embedding_dim")
                    if configs[0].get(k) != configs[1].get(k)]
        if mismatch:
            raise ConfigError(f"model.lm: the forward and backward language models differ in {', '.join(mismatch)}; "
                              "train both with the same settings (run lm --grid lm.direction=forward,backward)")
    if encoder is None:
        return
    cell = configs[0].get("cell")
    if ("lstm" if encoder == "bilstm" else encoder) != cell:
        raise ConfigError(f"model.encoder={encoder} contradicts the language model, a {cell}: use "
                          f"model.encoder={'bilstm or lstm' if cell == 'lstm' else cell}")
    lm_nonlinearity = configs[0].get("nonlinearity", "tanh")
    if cell == "rnn" and nonlinearity is not None and nonlinearity != lm_nonlinearity:
        raise ConfigError(f"model.nonlinearity={nonlinearity} contradicts the language model, a {lm_nonlinearity} "
                          f"rnn: use model.nonlinearity={lm_nonlinearity}")
    if encoder == "bilstm" and len(configs) < 2:
        raise ConfigError("model.encoder=bilstm with model.init=lm needs a backward language model too "
                          "(run lm --set lm.direction=backward, or list both in model.lm)")


def load_encoder_lms(forward_dir: str | Path, backward_dir: str | Path | None = None) -> EncoderLMs:
    """Load the forward (and backward) language model; they must share vocabulary and architecture."""
    folders = [p for p in (forward_dir, backward_dir) if p is not None]
    loaded = [load_language_model(p) for p in folders]
    check_language_models([m.config.to_dict() for m, _, _ in loaded], folders)
    (fwd, _, vocab), bwd = loaded[0], (loaded[1][0] if len(loaded) > 1 else None)
    if bwd is not None and loaded[1][2] != vocab:
        raise ConfigError("model.lm: the forward and backward language models differ in vocabulary; train both "
                          "with the same settings (run lm --grid lm.direction=forward,backward)")
    return EncoderLMs(fwd, vocab, bwd, tuple(str(p) for p in folders))


def encoder_settings(lms: EncoderLMs, encoder: str, nonlinearity: str | None = None) -> dict:
    """The encoder settings that must follow the language models; `ConfigError` where ``encoder`` (or the plain
    rnn's ``nonlinearity``) contradicts them."""
    models = [m for m in (lms.forward, lms.backward) if m is not None]
    check_language_models([m.config.to_dict() for m in models], list(lms.sources), encoder, nonlinearity)
    return {"hidden_size": lms.hidden_size, "embedding_dim": lms.embedding_dim}


def check_encoder_against(folders: list[Path], encoder: str, nonlinearity: str | None = None) -> None:
    """`check_language_models` on the models' ``config.json`` alone (no weights read), so that a
    contradiction is reported before any stage runs."""
    from nlp_pipeline.errors import read_json

    configs = [read_json(Path(f) / "config.json", "language model config").get("model", {}) for f in folders]
    check_language_models(configs, folders, encoder, nonlinearity)


def embedding_vectors(lms: EncoderLMs):
    """The forward model's embedding as gensim `KeyedVectors` (its words, specials left out), so the
    classifier and tagger build their word table from it as from word2vec vectors."""
    from gensim.models import KeyedVectors

    words = lms.vocab.itos[3:]  # <pad>, <unk>, <eos> are the language model's own
    weight = lms.forward.embedding.weight.detach().cpu().numpy()[3:]
    kv = KeyedVectors(weight.shape[1], dtype=np.float32)
    kv.add_vectors(words, weight)
    return kv


def copy_recurrent_layers(encoder: RecurrentEncoder, lms: EncoderLMs) -> int:
    """Copy the language models' layers into ``encoder``'s directions; returns how many layers came
    from them.

    Where an encoder layer reads more than the language model's layer did, the input columns the
    model had are copied and the others start at zero, so that at the start each direction computes
    exactly what its language model computes: a tagger's first layer also reads the character
    encoding (columns after the word embedding), and above the first layer of a bidirectional
    encoder each direction also reads the other's outputs (the forward outputs come first, then the
    backward ones, so the backward model's columns are the second half).
    """
    copied = 0
    for i, target in enumerate(encoder.forward_layers):
        if i >= lms.num_layers:
            break
        _copy_layer(target, lms.forward.layers[i], offset=0)
        if encoder.backward_layers:
            assert lms.backward is not None
            offset = encoder.backward_layers[i].hidden_size if i > 0 else 0
            _copy_layer(encoder.backward_layers[i], lms.backward.layers[i], offset=offset)
        copied += 1
    return copied


def _copy_layer(target: nn.RNNBase, source: nn.RNNBase, offset: int) -> None:
    with torch.no_grad():
        for name, value in source.state_dict().items():
            dest = getattr(target, name)
            if dest.shape == value.shape:
                dest.copy_(value)
            elif (name.startswith("weight_ih") and dest.shape[0] == value.shape[0]
                  and dest.shape[1] >= offset + value.shape[1]):
                dest.zero_()
                dest[:, offset:offset + value.shape[1]].copy_(value)
            else:
                raise ConfigError(f"cannot start {name} {tuple(dest.shape)} from the language model's "
                                  f"{tuple(value.shape)}")
