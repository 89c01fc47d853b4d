"""An input edited in place, same size, with its old mtime set back, is read again: no stale artifact.

`touch -r`, `cp -p`, `rsync -t` and archive extraction all give a file back its old modification
time; a label flipped from ``pos`` to ``neg`` keeps its size. The input fingerprint memo must notice
(the change time and the inode are part of its check), in a fresh process, through the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROWS = "".join(f"{'a fine film' if i % 2 else 'a dull film'} number {i}\t{'pos' if i % 2 else 'neg'}\n"
               for i in range(40))
TSV = "text\tlabel\n" + ROWS
# Random embeddings: the question is whether tokenize (and what follows it) is rebuilt, not word2vec.
TINY = ["--set", "model.embedding_mode=random", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
        "--set", "runtime.threads=1"]
STAGES = ["tokenize", "train", "evaluate"]


def _run(corpus: Path, tmp_path: Path) -> tuple[dict[str, dict], str]:
    """One `run sentiment` in a new process: ``({stage: stage_run}, stderr)``."""
    cmd = [sys.executable, "-m", "nlp_pipeline.cli", "run", "sentiment", "--corpus", str(corpus), *TINY,
           "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    runs = {r["stage"]: r for r in out["variants"][0]["stage_runs"]}
    assert list(runs) == STAGES
    return runs, proc.stderr


def _cached(stderr: str) -> dict[str, bool]:
    """What the log says per stage: ``✓ <stage> [<key>] cached`` for a hit, ``done in …`` for a build."""
    done = [line.split() for line in stderr.splitlines() if line.startswith("✓ ")]
    return {words[1]: words[-1] == "cached" for words in done}


def _flip_labels_in_place(path: Path) -> None:
    """pos ↔ neg on every line: the same bytes count, the same inode, then the old times back."""
    st = path.stat()
    data = path.read_bytes()
    flipped = data.replace(b"\tpos\n", b"\tPOS\n").replace(b"\tneg\n", b"\tpos\n").replace(b"\tPOS\n", b"\tneg\n")
    assert flipped != data and len(flipped) == len(data)
    with open(path, "r+b") as fh:
        fh.write(flipped)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)


def test_a_same_size_edit_with_the_old_mtime_rebuilds_from_tokenize(tmp_path):
    corpus = tmp_path / "reviews.tsv"
    corpus.write_text(TSV, encoding="utf-8")
    first, log = _run(corpus, tmp_path)
    assert _cached(log) == dict.fromkeys(STAGES, False)

    again, log = _run(corpus, tmp_path)  # nothing changed: every stage is served from the cache
    assert all(r["hit"] for r in again.values()) and _cached(log) == dict.fromkeys(STAGES, True)
    assert {s: r["key"] for s, r in again.items()} == {s: r["key"] for s, r in first.items()}

    _flip_labels_in_place(corpus)
    edited, log = _run(corpus, tmp_path)
    assert not any(r["hit"] for r in edited.values()) and _cached(log) == dict.fromkeys(STAGES, False)
    assert edited["tokenize"]["key"] != first["tokenize"]["key"]
    labels = (Path(edited["tokenize"]["path"]) / "train.labels.txt").read_text(encoding="utf-8")
    assert labels != (Path(first["tokenize"]["path"]) / "train.labels.txt").read_text(encoding="utf-8")
