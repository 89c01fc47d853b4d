"""`run --dry-run` names the downloads a run needs and downloads nothing (what it says of cached stages is
checked against a real run in test_cli_sentiment.py)."""

from __future__ import annotations

from cli_helpers import invoke


def test_a_dry_run_names_the_downloads_a_corpus_not_here_needs(tmp_path, monkeypatch):
    from nlp_pipeline.data import resolve

    monkeypatch.setattr(resolve, "shared_roots", lambda: [])
    monkeypatch.setenv("NLP_PIPELINE_DATA_DIR", str(tmp_path / "empty"))
    out = invoke("run", "sentiment", "--corpus", "imdb", "--cache-dir", tmp_path / "cache", "--dry-run").stdout
    assert "needs a download first: http" in out and "[key after the download]" in out
    assert not (tmp_path / "cache" / "corpora").exists()  # nothing was downloaded
