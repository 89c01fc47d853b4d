"""Pretraining text never contains an evaluation document (the IMDB unsup / test overlap, in small)."""

import json
from pathlib import Path

from click.testing import CliRunner

from nlp_pipeline.cli import main
from nlp_pipeline.text.tokenize import read_token_lines


def test_evaluation_documents_are_removed_from_pretraining_text(tmp_path):
    # Pretrain on *all* of pang_lee_polarity: its dev and test snippets must be dropped.
    args = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--json", "-q",
            "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"),
            "--set", "data.text=pang_lee_polarity", "--set", "embed.min_count=1",
            "--set", "embed.vector_size=8", "--set", "embed.epochs=1", "--set", "runtime.threads=1",
            "--set", "model.hidden_size=4", "--set", "train.epochs=1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    arts = {k: Path(v) for k, v in out["variants"][0]["artifacts"].items()}
    pretrain = json.loads((arts["pretrain_text"] / "manifest.json").read_text())["metadata"]
    tokenize = json.loads((arts["tokenize"] / "manifest.json").read_text())["metadata"]
    held_out = tokenize["splits"]["dev"]["documents"] + tokenize["splits"]["test"]["documents"]
    stats = pretrain["sources"]["pang_lee_polarity"]
    assert stats["dropped_evaluation_duplicates"] == held_out
    corpus = {" ".join(t) for t in read_token_lines(arts["pretrain_text"] / "corpus.txt")}
    for split in ("dev", "test"):
        for tokens in read_token_lines(arts["tokenize"] / f"{split}.tokens.txt"):
            assert " ".join(tokens) not in corpus
    assert stats["documents"] == tokenize["splits"]["train"]["documents"] - stats["dropped_repeats"]
