"""Bad input through the CLI: one line naming the file (and line), exit code 2, no traceback, no artifact."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_pipeline.cli import main

GOOD_ROWS = "".join(f"{'a fine film' if i % 2 else 'a dull film'} number {i}\t{'pos' if i % 2 else 'neg'}\n"
                    for i in range(40))


SMALL = ["--set", "model.embedding_mode=random", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
         "--set", "runtime.threads=1", "-q"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


CASES = {
    "empty": (b"", "empty"),
    "binary": (b"text\tlabel\n\x00\x01\x02\x03binary\x00\tpos\n", "binary"),
    "invalid_utf8": (("text\tlabel\n" + GOOD_ROWS).encode() + b"caf\xe9 au lait\tpos\n", ":42:"),
    "row_without_label": (("text\tlabel\n" + GOOD_ROWS + "no label here\n").encode(), ":42:"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_user_file(tmp_path, case):
    data, expected = CASES[case]
    path = _write(tmp_path / f"{case}.tsv", data)
    cache = tmp_path / "cache"
    result = CliRunner().invoke(main, ["run", "sentiment", "--corpus", str(path), "--cache-dir", str(cache),
                                       "--report-dir", str(tmp_path / "reports"), *SMALL])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert path.name in err and expected in err
    assert "Traceback" not in result.output
    # nothing half-written was kept
    assert not any((cache / "artifacts").rglob("manifest.json")) if (cache / "artifacts").exists() else True


def test_unknown_label_in_dev_split(tmp_path):
    folder = tmp_path / "mydata"
    folder.mkdir()
    _write(folder / "train.tsv", ("text\tlabel\n" + GOOD_ROWS).encode())
    _write(folder / "dev.tsv", b"text\tlabel\na fine film\tpos\nwhat is this\tneutral\n")
    result = CliRunner().invoke(main, ["run", "sentiment", "--corpus", str(folder), "--cache-dir",
                                       str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"), *SMALL])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert "dev.tsv:3" in err and "neutral" in err


def test_missing_file_for_predict(tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "no_model_here"), "text",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2
    assert "no_model_here" in result.stderr


def test_corpus_path_that_looks_like_yaml_stays_a_path(tmp_path, monkeypatch):
    """A file named "2024" must not be read as the integer 2024 by the override parser."""
    _write(tmp_path / "2024", ("text\tlabel\n" + GOOD_ROWS).encode())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "sentiment", "--corpus", "2024", "--cache-dir", str(tmp_path / "c"),
                                       "--report-dir", str(tmp_path / "r"), *SMALL])
    assert result.exit_code == 0, result.output


def test_a_key_prefix_of_digits_is_looked_up_as_a_key(tmp_path):
    """A cache key prefix can be all digits; YAML alone would read it as an integer and refuse it."""
    corpus = _write(tmp_path / "rows.tsv", ("text\tlabel\n" + GOOD_ROWS).encode())
    result = CliRunner().invoke(main, ["run", "sentiment", "--corpus", str(corpus), "--set", "embed.vectors=5883361850",
                                       "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "r"),
                                       "--set", "runtime.threads=1", "-q"])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "'5883361850' is neither a vectors file" in err, err
    assert "must be a string" not in err
