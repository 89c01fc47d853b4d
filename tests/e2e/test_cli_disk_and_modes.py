"""Where the cache's disk meets the user, in fresh processes: a full disk is one line and exit 2 with nothing
kept; under umask 022 every file a run writes (cache and report) is readable by group and others.

The full disk is a real one: a 1 MiB tmpfs mounted as the cache folder (root only; elsewhere the test
skips, saying why), on which the tokenized corpus fits and the classifier's weights do not.
"""

from __future__ import annotations

import stat
import subprocess
import sys

SENTIMENT = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--set", "model.hidden_size=8",
             "--set", "train.epochs=1", "--set", "runtime.threads=1", "-q"]


def _cli(*args, umask: int = -1) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, umask=umask)


def test_a_cache_on_a_full_disk_is_one_line_exit_2_and_nothing_partial(full_disk, tmp_path):
    cache = full_disk / "cache"
    # random embeddings of 300 dimensions: the weights (~3 MB) cannot fit; the tokenized corpus can
    done = _cli(*SENTIMENT, "--set", "model.embedding_mode=random", "--set", "embed.vector_size=300",
                "--cache-dir", cache, "--report-dir", tmp_path / "reports")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    folder = cache / "artifacts" / "train"
    assert lines[0].startswith(f"error: no space left on device while the train stage wrote its output to {folder}:")
    assert "free there when it started" in lines[0] and "nothing was kept" in lines[0]
    assert list(folder.iterdir()) == []  # no artifact, no half-built folder
    assert not list(cache.rglob(".tmp*")) and not list(cache.rglob("*.tmp*"))  # nor a temporary file anywhere
    assert sorted(p.name for p in (cache / "artifacts").iterdir()) == ["tokenize", "train"]  # tokenize was kept
    assert len(list((cache / "artifacts" / "tokenize").iterdir())) == 1
    assert not (tmp_path / "reports").exists()  # the run did not complete: no report


def test_under_umask_022_every_file_of_the_cache_and_the_report_is_readable_by_all(tmp_path):
    cache, reports = tmp_path / "cache", tmp_path / "reports"
    done = _cli(*SENTIMENT, "--set", "data.text=[lee_background]", "--set", "embed.vector_size=16",
                "--set", "embed.epochs=1", "--set", "embed.min_count=2", "--cache-dir", cache,
                "--report-dir", reports, umask=0o022)
    assert done.returncode == 0, done.stderr
    files = [p for p in (*cache.rglob("*"), *reports.rglob("*")) if p.is_file() and not p.is_symlink()]
    assert any(p.name == "model.safetensors" for p in files)  # safetensors writes 0600 on its own
    assert len(files) > 20
    private = [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in files if p.stat().st_mode & 0o044 != 0o044]
    assert not private, private
    folders = [p for p in (cache, reports, *cache.rglob("*"), *reports.rglob("*")) if p.is_dir()]
    closed = [str(p) for p in folders if p.stat().st_mode & 0o055 != 0o055]
    assert not closed, closed
