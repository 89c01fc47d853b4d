"""`make bench-word2vec`'s anchors run end to end: the original C tool (Google's word2vec.c, from the `word2vec`
package) and fastText train on a tiny corpus (gensim's Lee corpus, 60k tokens) next to our engine, each row has a
positive words/s and scores, and ours/each anchor is printed. An anchor whose tool is not installed is skipped with
the benchmark's reason. No timing is asserted."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_word2vec.py"
ANCHORS = {"c": "C word2vec.c", "fasttext": "fastText"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_word2vec", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from gensim.test.utils import datapath

    folder = tmp_path_factory.mktemp("bench_word2vec")
    # with its last line ended: word2vec.c (the word2vec package's revision) drops a file's last word otherwise
    corpus, out = folder / "lee.txt", folder / "results.json"
    corpus.write_text(Path(datapath("lee_background.cor")).read_text(encoding="utf-8").rstrip("\n") + "\n",
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--corpus", str(corpus), "--engines",
                           "torch,c,fasttext", "--archs", "sg,cbow", "--epochs", "1", "--dim", "32", "--json",
                           str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


@pytest.mark.parametrize("anchor", sorted(ANCHORS))
def test_anchor_trains_and_scores_next_to_ours(tiny_run, anchor):
    printed, results = tiny_run
    skipped = next((line for line in printed.splitlines() if line.startswith(f"{anchor}: skipped: ")), None)
    if skipped:
        pytest.skip(skipped)
    for arch in ("sg", "cbow"):
        ours, row = results[f"{arch}/torch"], results[f"{arch}/{anchor}"]
        assert row["words_per_second"] > 0 and row["seconds"] > 0 and row["peak_mb"] > 0
        for score in ("analogy", "wordsim353", "simlex999"):
            assert isinstance(row[score], float), (arch, score, row[score])
        # the same corpus and min_count give the same vocabulary (the tools' end-of-line token dropped)
        assert row["vocab_size"] == ours["vocab_size"]
        assert row["command"] and len(row["runs"]) == 1
        assert f"ours / {ANCHORS[anchor]}" in printed
    assert "speed bar, ours ≥ 4x the words/s of the C tool and of fastText" in printed


def test_fasttext_rows_cover_every_word():
    """fastText initializes thread/10 of its input matrix: the rows it is given must put every word in that part."""
    bench = _bench()
    for threads in (1, 2, 3, 7, 9, 10, 11, 16):
        for vocab in (1, 10, 6_674, 123_457):
            for dim in (16, 100, 300):
                p = {"sg": 1, "vector_size": dim, "window": 5, "epochs": 1, "min_count": 5, "negative": 5,
                     "sample": 1e-3, "alpha": 0.025, "workers": threads}
                kwargs = bench.fasttext_kwargs("corpus.txt", p, vocab)
                rows = vocab + kwargs.get("bucket", 0)
                initialized = sum(min(rows * dim, (rows * dim // 10) * (block + 1)) - (rows * dim // 10) * block
                                  for block in range(threads) if (rows * dim // 10) * block < rows * dim)
                assert initialized >= vocab * dim, (threads, vocab, dim)
                assert kwargs["maxn"] == 0 and (kwargs["wordNgrams"] == 2) == ("bucket" in kwargs)
