"""End to end: `nlp-pipeline run tagging` on a toy treebank, then `nlp-pipeline tag`, through the real CLI.

Word vectors train on gensim's bundled lee_background text (small dimensions), so the whole module
runs in well under a minute.
"""

import json
import re
from pathlib import Path

import pytest
from cli_helpers import invoke, report_variant, stdout_json

SMALL = [
    "--set", "data.text=lee_background",
    "--set", "embed.min_count=1",
    "--set", "embed.vector_size=16",
    "--set", "embed.epochs=1",
    "--set", "runtime.threads=1",  # one word2vec thread: the same vectors on every run (Hogwild threads differ)
    "--set", "model.hidden_size=16",
    "--set", "model.char_hidden=16",
    # 12 epochs at a constant rate, no early stop: every seed tried (6) reaches 100% on the toy grammar;
    # with the defaults' early stop and lr decay, 3 of 6 seeds stalled at 88% after 8 epochs.
    "--set", "train.epochs=12",
    "--set", "train.patience=0",
    "--set", "train.lr_decay=1.0",
    "--set", "train.lr=0.01",
    "--set", "train.batch_size=8",
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory, make_treebank):
    root = tmp_path_factory.mktemp("tag-e2e")
    treebank = make_treebank(root / "treebank", n_train=80, n_dev=30,
                             names=("en_toy-ud-train.conllu", "en_toy-ud-dev.conllu"))
    ws = {"root": root, "cache": str(root / "cache"), "reports": str(root / "reports"), "treebank": treebank}
    ws["first"] = _run(ws)
    again = _run(ws, "--json")  # all cached: gives the artifacts
    ws["model_key"] = stdout_json(again)["variants"][0]["stage_runs"][3]["key"]
    return ws


def _run(ws, *extra, corpus=None):
    return invoke("run", "tagging", "--corpus", corpus or ws["treebank"], *SMALL, "--cache-dir", ws["cache"],
                  "--report-dir", ws["reports"], *extra)


def test_run_prints_the_tagging_table_and_writes_a_report(ws):
    out = ws["first"].stdout
    for column in ("dev acc", "dev unseen acc", "dev macro-F1", "train time", "tag tok/s"):
        assert column in out
    row = next(line for line in out.splitlines() if line.startswith("bilstm"))
    assert float(re.split(r"\s{2,}", row)[4]) > 90.0  # dev accuracy on the toy grammar
    report = report_variant(out, "bilstm-fine-tuned-char_cnn", ("metrics.json", "per_tag_dev.md",
                            "confusion_matrix_dev.png", "learning_curve.png", "history.json", "embeddings.json"))
    variant = report / "bilstm-fine-tuned-char_cnn"
    metrics = json.loads((variant / "metrics.json").read_text())
    assert metrics["dev"]["unseen_tokens"] > 0 and metrics["dev"]["tokens"] > 100
    table = (variant / "per_tag_dev.md").read_text()
    assert "| NOUN" in table and "macro avg" in table


def test_second_run_is_all_cache_hits(ws):
    result = _run(ws, "--json")
    runs = stdout_json(result)["variants"][0]["stage_runs"]
    assert [r["stage"] for r in runs] == ["treebank", "pretrain_text", "embed", "train_tagger", "evaluate_tagger"]
    assert all(r["hit"] for r in runs)


def test_grid_over_encoder_chars_and_mode_gives_one_row_each(ws):
    result = _run(ws, "--grid", "model.encoder=rnn,lstm", "--grid", "model.char_encoder=none,cnn",
                  "--set", "train.epochs=2")
    rows = [line for line in result.stdout.splitlines() if line.startswith(("rnn", "lstm"))]
    assert len(rows) == 4
    assert {tuple(r.split()[:2]) for r in rows} == {("rnn", "none"), ("rnn", "cnn"), ("lstm", "none"),
                                                   ("lstm", "cnn")}


def test_xpos_tagset(ws):
    result = _run(ws, "--set", "data.tagset=xpos", "--set", "model.embedding_mode=random", "--json")
    variant = stdout_json(result)["variants"][0]
    model = Path(variant["artifacts"]["train_tagger"])
    assert json.loads((model / "config.json").read_text())["tags"] == [".", "DT", "JJ", "NN", "RB", "VBZ"]


def test_tag_command_prints_each_token_with_its_tag(ws):
    result = invoke("tag", ws["model_key"][:10], "The curious nation sleeps quickly.", "--cache-dir", ws["cache"],
                    "--format", "inline")
    pairs = [p.rsplit("/", 1) for p in result.stdout.split()]
    assert [w for w, _ in pairs] == ["The", "curious", "nation", "sleeps", "quickly", "."]
    assert [t for _, t in pairs] == ["DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"]


def test_tag_reads_a_file_and_writes_json_lines(ws, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a nation waits .\n\nevery station falls .\n")
    result = invoke("tag", ws["model_key"], "--file", path, "--tokenized", "--format", "json",
                    "--cache-dir", ws["cache"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["tokens"] for r in records] == [["a", "nation", "waits", "."], ["every", "station", "falls", "."]]
    assert all(len(r["tags"]) == len(r["tokens"]) for r in records)


def test_tag_with_a_missing_model_or_bad_file_is_one_line_and_exit_2(ws, tmp_path):
    result = invoke("tag", "nonexistent-key", "hello", "--cache-dir", ws["cache"], ok=False)
    assert result.exit_code == 2 and "neither a model folder nor the key of a tagger" in result.stderr
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\n\xff\xfe broken\n")
    result = invoke("tag", "latest", "--file", bad, "--cache-dir", ws["cache"], ok=False)
    assert result.exit_code == 2 and f"{bad}:2" in result.stderr and "Traceback" not in result.output


def test_malformed_treebank_is_one_line_naming_file_and_line(ws, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "train.conllu").write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n2\tthere\tADV\n")
    (folder / "dev.conllu").write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    result = invoke("run", "tagging", "--corpus", folder, *SMALL, "--cache-dir", ws["cache"], ok=False)
    assert result.exit_code == 2
    assert f"{folder / 'train.conllu'}:3: malformed CoNLL-U line" in result.stderr
    assert "Traceback" not in result.output
