"""A run on the user's own labelled file trains its vectors on that file's text: offline, with no mirror,
it reads no registered corpus, and its log says where the vectors came from and how to change that."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

WORDS = {"pos": ["good", "great", "fine", "lovely", "superb", "warm", "bright"],
         "neg": ["bad", "awful", "dull", "poor", "grim", "boring", "weak"]}
COMMON = ["the", "film", "was", "a", "and", "plot", "acting", "story", "it", "really"]


def _user_corpus(path: Path, n: int = 120) -> Path:
    rng = random.Random(3)
    lines = ["text\tlabel"]
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choices(COMMON, k=6) + rng.choices(WORDS[label], k=3)
        rng.shuffle(words)
        lines.append(f"{' '.join(words)}\t{label}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_run_on_my_file_offline_reads_only_my_file_and_says_where_the_vectors_come_from(tmp_path):
    corpus = _user_corpus(tmp_path / "my.tsv")
    env = {**os.environ, "NLP_PIPELINE_OFFLINE": "1", "NLP_PIPELINE_DATA_DIR": str(tmp_path / "no-mirror"),
           "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "home" / ".cache")}
    cmd = [sys.executable, "-m", "nlp_pipeline.cli", "run", "sentiment", "--corpus", str(corpus),
           "--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=1",
           "--set", "model.hidden_size=8", "--set", "train.epochs=1", "--set", "runtime.threads=1",
           "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    origin = [line for line in proc.stderr.splitlines() if line.startswith("word vectors:")]
    assert len(origin) == 1, proc.stderr
    assert "your corpus's own text" in origin[0] and str(corpus) in origin[0] and "embed.vectors" in origin[0]
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["variants"][0]["config"]["data"]["text"] == [str(corpus)]
    # No stage read a registered corpus: every input file of every artifact is the user's file.
    registered = ("imdb", "sst2", "ud_en_ewt", "mr", "lee_background", "pang_lee_polarity")
    manifests = list((tmp_path / "cache").rglob("manifest.json"))
    assert manifests
    for manifest in manifests:
        text = manifest.read_text()
        assert not any(f'"{name}' in text for name in registered), (manifest, text[:500])
    assert not (tmp_path / "home" / ".cache" / "nlp-pipeline" / "corpora").exists()


def test_auto_text_follows_the_corpus_in_a_written_pipeline_file(tmp_path):
    """`config init` keeps data.text: [auto], so a copied file still trains on whatever corpus it is given."""
    out = tmp_path / "mine.yaml"
    proc = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "config", "init", "sentiment", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "  text: [auto]" in out.read_text()
    corpus = _user_corpus(tmp_path / "mine.tsv", n=10)
    show = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "config", "show", str(out), "--json",
                           "--set", f"data.corpus={corpus}"], capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stderr
    rows = {r["key"]: r["value"] for r in json.loads(show.stdout)}
    assert rows["data.text"] == [str(corpus)]
    registered = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "config", "show", str(out), "--json"],
                                capture_output=True, text=True, timeout=120)
    assert {r["key"]: r["value"] for r in json.loads(registered.stdout)}["data.text"] == [
        "imdb:train", "imdb_unsup", "sst2:train"]
