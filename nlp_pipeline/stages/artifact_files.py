"""The files the tokenize and treebank stages write, named once, and how later stages read them back.

A stage reads an upstream artifact through these functions, never by importing the stage that wrote
it: stage modules do not import each other, so the file layout they share lives here, beside the
writers' own file names.
"""

from __future__ import annotations

import json

from nlp_pipeline.engine import Artifact
from nlp_pipeline.text.tokenize import read_token_lines

# tokenize: per split, one document a line (tokens space-separated) and its label, row-aligned.
TOKENS_FILE = "{}.tokens.txt"
LABELS_FILE = "{}.labels.txt"
LABEL_LIST_FILE = "labels.json"  # every label, in the model's output order

# treebank: per split, one sentence a line: {"words", "upos", "xpos", "source", "line"}.
TREEBANK_SPLIT_FILE = "{}.jsonl"


def read_tokenized_split(art: Artifact, split: str) -> tuple[list[list[str]], list[str]] | None:
    """``(token lists, labels)`` of one split of a tokenize artifact; ``None`` when the split is absent."""
    tokens_path = art.file(TOKENS_FILE.format(split))
    if not tokens_path.is_file():
        return None
    tokens = list(read_token_lines(tokens_path))
    labels = art.file(LABELS_FILE.format(split)).read_text(encoding="utf-8").splitlines()
    return tokens, labels


def label_list(art: Artifact) -> list[str]:
    """A tokenize artifact's labels, in the model's output order."""
    return json.loads(art.file(LABEL_LIST_FILE).read_text())


def read_treebank_split(art: Artifact, split: str, tagset: str) -> tuple[list[list[str]], list[list[str]],
                                                                          list[str]] | None:
    """``(words, tags, where)`` per sentence of one split of a treebank artifact (``None`` when the split
    is absent); ``tagset`` (``upos`` or ``xpos``) picks the tag column."""
    path = art.file(TREEBANK_SPLIT_FILE.format(split))
    if not path.is_file():
        return None
    words, tags, where = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            words.append(record["words"])
            tags.append(record[tagset])
            where.append(f"{record['source']}:{record['line']}")
    return words, tags, where


def tag_list(art: Artifact, tagset: str) -> list[str]:
    """Every tag of the tag set seen in any split of a treebank artifact, sorted: the model's output order."""
    found: set[str] = set()
    for split in ("train", "dev", "test"):
        data = read_treebank_split(art, split, tagset)
        if data is not None:
            found.update(t for sent in data[1] for t in sent)
    return sorted(found)
