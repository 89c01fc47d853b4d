"""Export round trips: gensim loads what we write, we load what gensim writes; the Projector TSV pair."""

import numpy as np
import pytest
from click.testing import CliRunner
from gensim.models import KeyedVectors

from nlp_pipeline.cli import main
from nlp_pipeline.embeddings.export import export_vectors
from nlp_pipeline.embeddings.vectors_io import load_vectors
from nlp_pipeline.errors import DataError


@pytest.fixture
def kv():
    rng = np.random.default_rng(0)
    words = ["the", "film", "new_york", "été", "a"]
    vectors = KeyedVectors(vector_size=7)
    vectors.add_vectors(words, rng.normal(size=(len(words), 7)).astype(np.float32))
    return vectors


def _same(a, b, n=None):
    n = n or len(a)
    assert list(b.index_to_key) == list(a.index_to_key[:n])
    np.testing.assert_array_equal(b.vectors, a.vectors[:n])  # bit for bit: float32 survives the text


@pytest.mark.parametrize(("fmt", "gensim_kwargs"), [
    ("word2vec", {"binary": True}),
    ("text", {"binary": False}),
    ("glove", {"binary": False, "no_header": True}),
])
def test_gensim_loads_what_we_write_and_so_do_we(tmp_path, kv, fmt, gensim_kwargs):
    out = tmp_path / f"v.{fmt}"
    assert export_vectors(kv, fmt, out) == [out]
    _same(kv, KeyedVectors.load_word2vec_format(str(out), **gensim_kwargs))
    _same(kv, load_vectors(out))


@pytest.mark.parametrize("binary", [True, False])
def test_we_load_what_gensim_writes(tmp_path, kv, binary):
    path = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    _same(kv, load_vectors(path))


def test_projector_pair(tmp_path, kv):
    vectors_tsv, metadata_tsv = export_vectors(kv, "projector", tmp_path / "proj", limit=3)
    rows = [line.split("\t") for line in vectors_tsv.read_text().splitlines()]
    np.testing.assert_array_equal(np.array(rows, dtype=np.float32), kv.vectors[:3])
    assert metadata_tsv.read_text(encoding="utf-8").splitlines() == ["the", "film", "new_york"]


def test_limit_keeps_the_first_words_and_existing_files_are_kept(tmp_path, kv):
    out = tmp_path / "v.txt"
    export_vectors(kv, "text", out, limit=2)
    _same(kv, load_vectors(out), n=2)
    with pytest.raises(DataError, match="exists already"):
        export_vectors(kv, "text", out)
    export_vectors(kv, "text", out, overwrite=True)
    _same(kv, load_vectors(out))
    assert [p.name for p in tmp_path.iterdir()] == ["v.txt"]  # no temporary file left


def test_a_word_with_a_space_cannot_go_into_a_text_format(tmp_path):
    spaced = KeyedVectors(vector_size=2)
    spaced.add_vectors(["new york", "a"], np.ones((2, 2), dtype=np.float32))
    with pytest.raises(DataError, match="'new york'.*whitespace.*word2vec"):
        export_vectors(spaced, "glove", tmp_path / "g.txt")
    export_vectors(spaced, "word2vec", tmp_path / "v.bin")  # the binary format holds it


def test_export_command(tmp_path, kv):
    source = tmp_path / "in.txt"
    kv.save_word2vec_format(str(source))
    result = CliRunner().invoke(main, ["export", "vectors", "-v", str(source), "--format", "projector", "-o",
                                       str(tmp_path / "p"), "--limit", "4"])
    assert result.exit_code == 0, result.output
    assert not result.stderr
    assert "4 words x 7 dimensions" in result.stdout
    assert len((tmp_path / "p" / "metadata.tsv").read_text().splitlines()) == 4
    # The spelling before 0.2 (VECTORS positional, --out) still works, with one warning line each.
    again = CliRunner().invoke(main, ["export", "vectors", str(source), "--format", "projector", "--out",
                                      str(tmp_path / "p")])
    assert again.exit_code == 2 and "exists already" in again.stderr
    warnings = [line for line in again.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and "use -o/--output" in again.stderr and "-v/--vectors" in again.stderr
