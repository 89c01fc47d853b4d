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


def load_encoder_lms(forward_dir: str | Path, backward_dir: str | Path | None = None) -> EncoderLMs:
    """Load the forward (and backward) language model; they must share vocabulary and architecture."""
    fwd, _, vocab = load_language_model(forward_dir)
    if fwd.config.direction != "forward":
        raise ConfigError(f"model.lm: {forward_dir} is a {fwd.config.direction} language model where a forward "
                          "one is needed")
    bwd = None
    if backward_dir is not None:
        bwd, _, bwd_vocab = load_language_model(backward_dir)
        if bwd.config.direction != "backward":
            raise ConfigError(f"model.lm: {backward_dir} is a {bwd.config.direction} language model where a "
                              "backward one is needed")
        a, b = fwd.config, bwd.config
        mismatch = [k for k in ("cell", "hidden_size", "num_layers", "embedding_dim") if getattr(a, k) != getattr(b, k)]
        if mismatch or bwd_vocab != vocab:
            what = ", ".join(mismatch) if mismatch else "vocabulary"
            raise ConfigError(f"model.lm: the forward and backward language models differ in {what}; train both "
                              "with the same settings (run lm --grid lm.direction=forward,backward)")
    return EncoderLMs(fwd, vocab, bwd, tuple(str(p) for p in (forward_dir, backward_dir) if p is not None))


def encoder_settings(lms: EncoderLMs, encoder: str) -> dict:
    """The encoder settings that must follow the language models; `ConfigError` where ``encoder`` contradicts them."""
    cell = "lstm" if encoder == "bilstm" else encoder
    if cell != lms.cell:
        raise ConfigError(f"model.encoder={encoder} contradicts the language model, a {lms.cell}: use "
                          f"model.encoder={'bilstm or lstm' if lms.cell == 'lstm' else lms.cell}")
    if encoder == "bilstm" and lms.backward is None:
        raise ConfigError("model.encoder=bilstm with model.init=lm needs a backward language model too "
                          "(run lm --set lm.direction=backward, or list both in model.lm)")
    return {"hidden_size": lms.hidden_size, "embedding_dim": lms.embedding_dim}


def check_encoder_against(folders: list[Path], encoder: str) -> None:
    """`encoder_settings`' checks from the models' ``config.json`` alone (no weights read), so that a
    contradiction is reported before any stage runs; the first folder must hold a forward model and
    the second a backward one."""
    from nlp_pipeline.errors import read_json

    configs = [read_json(Path(f) / "config.json", "language model config").get("model", {}) for f in folders]
    for config, direction, folder in zip(configs, ("forward", "backward"), folders, strict=False):
        if config.get("direction") != direction:
            raise ConfigError(f"model.lm: {folder} is a {config.get('direction')} language model where a "
                              f"{direction} one is needed (forward first, then backward)")
    cell = configs[0].get("cell")
    wanted = "lstm" if encoder == "bilstm" else encoder
    if cell != wanted:
        raise ConfigError(f"model.encoder={encoder} contradicts the language model, a {cell}: use "
                          f"model.encoder={'bilstm or lstm' if cell == 'lstm' else cell}")


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
