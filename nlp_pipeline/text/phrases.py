"""Collocations (``new_york``, ``the_matrix``): learned with gensim's `Phrases`, saved as JSON, applied anywhere.

A phrase model is learned on the tokenized pretraining text, one pass per n-gram order (pass 2 runs
on pass 1's output, so it can join ``new_york`` and ``city``); each pass reads the text twice (count,
then collect the phrases as they occur). Its phrasegrams (phrase → score) and
settings are saved as ``phrases.json`` next to the vectors; every later user of those vectors (the
classifier's training, its evaluation, ``predict`` and ``process``) loads the same file and applies
it after tokenization, so the words a model sees are the words its vectors were trained on.

Applying is gensim's own `FrozenPhrases` logic (left to right, connector words inside a phrase,
the score checked against the threshold); only its state comes from JSON instead of a pickle.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from nlp_pipeline.errors import DataError
from nlp_pipeline.settings import Phrases

PHRASES_FILE = "phrases.json"
FORMAT = "nlp-pipeline phrases"
FORMAT_VERSION = 1
CONNECTORS = ("english", "none")


PhraseSettings = Phrases  # the declared phrase settings (`nlp_pipeline.settings`)


def _frozen(layer: dict):
    """A gensim `FrozenPhrases` whose state comes from JSON (gensim's own loader unpickles)."""
    from gensim.models.phrases import FrozenPhrases

    frozen = FrozenPhrases.__new__(FrozenPhrases)  # its __init__ copies from a trained Phrases
    frozen.threshold = float(layer["threshold"])
    frozen.min_count = layer["min_count"]
    frozen.delimiter = str(layer["delimiter"])
    frozen.scoring = layer["scoring"]
    frozen.connector_words = frozenset(layer["connector_words"])
    frozen.phrasegrams = {str(k): float(v) for k, v in layer["phrasegrams"].items()}
    return frozen


class PhraseModel:
    """One or more frozen phrase layers, applied in order."""

    def __init__(self, layers: list[dict]) -> None:
        self.layers = layers
        self._frozen = [_frozen(layer) for layer in layers]

    def __call__(self, tokens: list[str]) -> list[str]:
        for layer in self._frozen:
            tokens = layer[tokens]
        return tokens

    @property
    def n_phrases(self) -> list[int]:
        return [len(layer["phrasegrams"]) for layer in self.layers]

    def top(self, n: int = 20) -> list[tuple[str, float]]:
        """The highest-scoring phrases of every pass (for the report)."""
        found = [(p, s) for layer in self.layers for p, s in layer["phrasegrams"].items()]
        return sorted(found, key=lambda x: -x[1])[:n]

    @classmethod
    def learn(cls, documents: Callable[[], Iterable[list[str]]], settings: PhraseSettings,
              log: Callable[[str], None] = lambda msg: None) -> PhraseModel:
        """Learn ``settings.passes`` layers; ``documents()`` streams the tokenized text once per pass."""
        from gensim.models.phrases import ENGLISH_CONNECTOR_WORDS, Phrases

        connectors = ENGLISH_CONNECTOR_WORDS if settings.connector_words == "english" else frozenset()
        layers: list[dict] = []
        for n in range(settings.passes):
            model = cls(list(layers))
            phrases = Phrases((model(d) for d in documents()), min_count=settings.min_count,
                              threshold=settings.threshold, scoring=settings.scoring,
                              connector_words=connectors)
            # Not phrases.freeze(): it re-splits each counted n-gram on '_', so a second pass's
            # 'new_york' + 'city' is scored as 'new' … 'city' and lost. find_phrases scores the tokens
            # as they occur, the way applying the layer will meet them.
            found = phrases.find_phrases(model(d) for d in documents())
            # Tokenized text has punctuation tokens; '-_year' or '._however' is no collocation.
            found = {p: s for p, s in found.items()
                     if all(any(c.isalnum() for c in part) for part in p.split(phrases.delimiter) if part)}
            layers.append({
                "threshold": phrases.threshold, "min_count": phrases.min_count, "delimiter": phrases.delimiter,
                "scoring": settings.scoring, "connector_words": sorted(phrases.connector_words),
                "phrasegrams": {p: round(float(s), 6) for p, s in sorted(found.items())},
            })
            log(f"  phrases pass {n + 1}: {len(found):,} phrases")
        return cls(layers)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / PHRASES_FILE
        path.write_text(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "layers": self.layers},
                                   ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PhraseModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise ValueError(f"not a phrases file (format {data.get('format')!r})")
            layers = data["layers"]
            model = cls(layers)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise DataError(f"cannot read the phrase model: {err}", path=path) from None
        return model


def load_phrases(folder: str | Path | None) -> PhraseModel | None:
    """The phrase model saved in an artifact or model folder, or None when its words are plain tokens."""
    if folder is None:
        return None
    path = Path(folder) / PHRASES_FILE
    return PhraseModel.load(path) if path.is_file() else None


def apply_phrases(model: PhraseModel | None, documents: Iterable[list[str]]) -> Iterator[list[str]]:
    for tokens in documents:
        yield model(tokens) if model is not None else tokens


def carry_phrases(phrases: Path | None, out_dir: Path, files: dict[str, str]) -> None:
    """Copy the vectors' ``phrases.json`` (when they have one) into the artifact built from them, and
    list it in ``files``: whoever uses those vectors next applies the same phrases."""
    if phrases is not None and phrases.is_file():
        shutil.copyfile(phrases, out_dir / PHRASES_FILE)
        files["phrases"] = PHRASES_FILE
