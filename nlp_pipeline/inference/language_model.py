"""Language-model inference: text generation and perplexity, from a saved model folder.

`LanguageModel` bundles the model, its vocabulary and the tokenizer it was trained with, so that a
prompt or a file is read exactly as the training text was. A backward model reads right to left:
its prompt is the *end* of a text and it generates what comes before; its perplexity is that of
each document read backwards.

>>> lm = LanguageModel.load("reports/lm/latest/model")                 # doctest: +SKIP
>>> lm.generate("the movie was", max_tokens=20, seed=1)["text"]        # doctest: +SKIP
>>> lm.perplexity(["a new review to score ."])["perplexity"]            # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from nlp_pipeline.device import resolve_device
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.models.language_model import RNNLanguageModel, State
from nlp_pipeline.models.language_model_io import EOS, load_language_model
from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig
from nlp_pipeline.text.vocab import Vocab

SCORE_CHUNK = 2048  # tokens scored per forward pass when measuring perplexity (the state is carried across)

_NO_SPACE_BEFORE = re.compile(r" (?=[.,!?;:%)\]}]|n't\b|'(?:s|re|ve|ll|d|m)\b)")
_NO_SPACE_AFTER = re.compile(r"(?<=[(\[{$]) ")


def detokenize(tokens: list[str]) -> str:
    """Tokens joined for reading: no space before closing punctuation and clitics (``do n't`` → ``don't``)."""
    return _NO_SPACE_AFTER.sub("", _NO_SPACE_BEFORE.sub("", " ".join(tokens)))


def check_sampling(max_tokens: int, temperature: float, top_k: int, top_p: float) -> None:
    """`ConfigError` naming the option for a value that cannot be sampled with."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ConfigError(f"--max-tokens: must be a positive integer, got {max_tokens!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"--temperature: must be >= 0 (0 = always the most likely word), got {temperature}")
    if top_k < 0:
        raise ConfigError(f"--top-k: must be >= 0 (0 = no cut), got {top_k}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"--top-p: must be in (0, 1], got {top_p}")


def sample_next(log_probs: torch.Tensor, temperature: float, top_k: int, top_p: float,
                generator: torch.Generator) -> int:
    """One token id from ``log_probs [V]``: greedy at temperature 0, else sampled from the
    temperature-scaled distribution cut to its ``top_k`` most likely words and to the smallest set
    whose probability reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020)."""
    if temperature == 0:
        return int(torch.argmax(log_probs))
    logits = log_probs.double() / temperature
    if top_k > 0 and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=0)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, dim=0) - sorted_probs  # mass of the words ranked above each
        sorted_probs[before >= top_p] = 0.0  # the most likely word always stays
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
    return int(torch.multinomial(probs, 1, generator=generator))


class LanguageModel:
    """A trained language model with the vocabulary and tokenizer it was trained with."""

    def __init__(self, model: RNNLanguageModel, vocab: Vocab, tokenizer: TokenizerConfig, meta: dict[str, Any]):
        self.model = model.eval()
        self.vocab = vocab
        self.tokenizer = Tokenizer(tokenizer)
        self.meta = meta
        self.eos = vocab.stoi[EOS]
        self.backward = model.config.direction == "backward"

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "auto") -> LanguageModel:
        model, payload, vocab = load_language_model(path, device=resolve_device(device))
        return cls(model, vocab, TokenizerConfig(**payload.get("tokenizer", {})), payload)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _read(self, tokens: list[str]) -> list[str]:
        return tokens[::-1] if self.backward else tokens

    @torch.inference_mode()
    def _advance(self, ids: list[int], state: State | None) -> tuple[torch.Tensor, State]:
        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        features, state = self.model(x, state)
        return features[0], state

    @torch.inference_mode()
    def generate(self, prompt: str = "", *, max_tokens: int = 50, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int | None = None) -> dict[str, Any]:
        """Continue ``prompt`` (a backward model: precede it) by up to ``max_tokens`` words.

        Generation starts as a new document (after ``<eos>``) and stops at the next ``<eos>``. ``<pad>``
        and ``<unk>`` are never sampled. Sampling draws from a CPU generator seeded with ``seed``, so
        the same seed gives the same text on any device (up to float differences between devices).
        Returns ``{"prompt", "text", "generated", "tokens", "stopped"}`` (``stopped``: ``eos`` or
        ``max_tokens``).
        """
        check_sampling(max_tokens, temperature, top_k, top_p)
        generator = torch.Generator().manual_seed(seed if seed is not None else torch.seed())
        prompt_tokens = self.tokenizer.tokenize(prompt) if prompt.strip() else []
        features, state = self._advance([self.eos, *self.vocab.encode(self._read(prompt_tokens))], None)
        last = features[-1:]
        out: list[str] = []
        stopped = "max_tokens"
        for _ in range(max_tokens):
            log_probs = self.model.log_probs(last)[0].float().cpu()
            log_probs[[Vocab.PAD_INDEX, Vocab.UNK_INDEX]] = -math.inf
            token = sample_next(log_probs, temperature, top_k, top_p, generator)
            if token == self.eos:
                stopped = "eos"
                break
            out.append(self.vocab.itos[token])
            features, state = self._advance([token], state)
            last = features[-1:]
        generated = self._read(out)
        tokens = [*generated, *prompt_tokens] if self.backward else [*prompt_tokens, *generated]
        return {"prompt": prompt, "text": detokenize(tokens), "generated": detokenize(generated),
                "tokens": len(out), "stopped": stopped}

    def _stream(self, texts: Iterable[str], counts: dict[str, int]) -> Iterator[int]:
        for tokens in self.tokenizer.pipe(t for t in texts if t.strip()):
            ids = self.vocab.encode(self._read(tokens))
            counts["documents"] += 1
            counts["unknown"] += sum(1 for i in ids if i == Vocab.UNK_INDEX)
            yield from ids
            yield self.eos

    @torch.inference_mode()
    def score_ids(self, ids: Iterable[int]) -> tuple[float, int]:
        """Summed negative log-likelihood (nats) and count of a stream of token ids, read in
        `SCORE_CHUNK` pieces with the state carried across; the first id is predicted from ``<eos>``."""
        nll, tokens = 0.0, 0
        state: State | None = None
        previous = self.eos
        chunk: list[int] = []

        def score(chunk: list[int], previous: int, state: State | None) -> tuple[float, State]:
            x = torch.tensor([[previous, *chunk[:-1]]], dtype=torch.long, device=self.device)
            y = torch.tensor([chunk], dtype=torch.long, device=self.device)
            features, state = self.model(x, state)
            return float(self.model.loss(features, y)) * len(chunk), state

        for token in ids:
            chunk.append(token)
            if len(chunk) == SCORE_CHUNK:
                part, state = score(chunk, previous, state)
                nll, tokens, previous, chunk = nll + part, tokens + len(chunk), chunk[-1], []
        if chunk:
            part, state = score(chunk, previous, state)
            nll, tokens = nll + part, tokens + len(chunk)
        return nll, tokens

    def perplexity(self, texts: Iterable[str]) -> dict[str, Any]:
        """Perplexity of ``texts`` (one document each; blank ones skipped), streamed: any number of them.

        Every document's words and its ``<eos>`` are predicted, in one stream with the state carried
        from document to document (as the model was trained and its held-out perplexity measured);
        the first from ``<eos>``. A word outside the vocabulary is predicted as ``<unk>``, so the
        share of such words (``unknown_rate``) is reported alongside: perplexities of models with
        different vocabularies are comparable only when it is small.
        """
        counts = {"documents": 0, "unknown": 0}
        nll, tokens = self.score_ids(self._stream(texts, counts))
        words = tokens - counts["documents"]
        return {
            "documents": counts["documents"],
            "tokens": tokens,  # words + one <eos> a document
            "perplexity": round(math.exp(nll / tokens), 3) if tokens else None,
            "nll_per_token": round(nll / tokens, 5) if tokens else None,
            "unknown_rate": round(counts["unknown"] / words, 5) if words else None,
            "direction": self.model.config.direction,
        }
