"""`nlp-pipeline info`: what a bug report should carry, read without building or downloading anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_info_names_versions_device_kernel_folders_and_corpora_in_a_fresh_process(tmp_path):
    env = {**os.environ, "NLP_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "info", "--json"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["versions"]["torch"] and found["versions"]["nlp-pipeline"]
    assert found["device"]["auto"] in ("cpu", "cuda:0")
    assert found["folders"]["artifacts"] == str(tmp_path / "cache" / "artifacts")
    kernel = found["word2vec_kernel"]
    assert kernel["source_present"] and kernel["auto_on_cpu"] in ("native", "tensor")
    assert kernel["library"].startswith(str(tmp_path / "cache"))  # where a build would go, under this cache
    assert found["corpora"]["pang_lee_polarity"]["found"]  # gensim's bundled samples are always here
    assert not list((tmp_path / "cache").rglob("*.so"))  # nothing was built
    text = subprocess.run([sys.executable, "-m", "nlp_pipeline.cli", "info"], capture_output=True, text=True,
                          timeout=120, env=env).stdout
    assert "word2vec kernel:" in text and "corpus pang_lee_polarity (labelled): found in" in text


def test_a_corpus_not_on_this_machine_names_its_download(monkeypatch, tmp_path):
    from nlp_pipeline.data import resolve
    from nlp_pipeline.info import corpora_info, info_lines, system_info

    monkeypatch.setattr(resolve, "shared_roots", lambda: [])
    monkeypatch.setenv("NLP_PIPELINE_DATA_DIR", str(tmp_path / "empty"))
    imdb = corpora_info()["imdb"]
    assert not imdb["found"] and imdb["downloads"] and imdb["downloads"][0].startswith("http")
    lines = info_lines(system_info(tmp_path / "cache"))
    assert any(line.startswith("corpus imdb (labelled): a run downloads http") for line in lines)
