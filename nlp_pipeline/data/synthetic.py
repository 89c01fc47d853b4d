"""A synthetic classification task with one long dependency: the label is the first of 100 tokens.

Each document is ``length`` tokens: the first is ``a`` or ``b``, which is its label, and the rest are
drawn uniformly from ``words`` filler words (``w0``, ``w1``, ...) that say nothing about it. A classifier
that decides from the encoder's last state (``model.pooling: last``) must carry one bit across
``length - 1`` steps, and the gradient that teaches it to must come back as far: the textbook case of
vanishing gradients (Bengio et al. 1994; Hochreiter & Schmidhuber 1997). A plain RNN stays at chance;
an LSTM whose forget gate starts open (``model.forget_bias``) learns it in a few epochs. The fillers are
random, so a model that memorises the training documents instead learns nothing that holds on dev.

It is a labelled folder like any other (``train.tsv``, ``dev.tsv``, ``test.tsv`` with a ``text`` and a
``label`` column), so every pipeline runs on it: see the training guide (docs/training.md).

>>> import tempfile
>>> folder = write_first_token_task(tempfile.mkdtemp(), train=4, dev=2, test=2, length=5)
>>> (folder / "train.tsv").read_text().splitlines()[0]
'text\\tlabel'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABELS = ("a", "b")


def first_token_documents(n: int, length: int, words: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """``n`` documents ``(text, label)``: the label, then ``length - 1`` filler words drawn from ``words``."""
    labels = rng.integers(0, len(LABELS), size=n)
    fillers = rng.integers(0, words, size=(n, length - 1))
    return [(" ".join([LABELS[y], *(f"w{w}" for w in row)]), LABELS[y]) for y, row in zip(labels, fillers, strict=True)]


def write_first_token_task(folder: str | Path, train: int = 2000, dev: int = 500, test: int = 500, length: int = 100,
                           words: int = 20, seed: int = 13) -> Path:
    """Write the task's ``train.tsv``, ``dev.tsv`` and ``test.tsv`` into ``folder`` (created); returns it.
    The same arguments give the same files."""
    if length < 1 or words < 1 or min(train, dev, test) < 1:
        raise ValueError("length, words and every split's size must be at least 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", train), ("dev", dev), ("test", test)):
        rows = first_token_documents(n, length, words, rng)
        (folder / f"{split}.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in rows),
                                             encoding="utf-8")
    return folder
