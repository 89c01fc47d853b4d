"""import_vectors: the user's file becomes an embed-shaped artifact; lower-casing keeps the expected vector."""

import numpy as np
from gensim.models import KeyedVectors

from nlp_pipeline.engine import BuildContext, DataRef, Runtime
from nlp_pipeline.stages.import_vectors import ImportVectorsParams, build


def _import(tmp_path, text: str, lowercase: bool):
    source = tmp_path / "vectors.txt"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    logs: list[str] = []
    meta = build(ImportVectorsParams(lowercase=lowercase), {"file": DataRef("vectors:vectors.txt", str(source),
                                                                            (source,))},
                 BuildContext(out, Runtime(progress=False), logs.append))
    return KeyedVectors.load_word2vec_format(str(out / "vectors.bin"), binary=True), meta, logs


GLOVE_CASED = "The 1 0\nthe 0 1\nUS 2 0\nParis 3 0\nus 0 2\nPARIS 4 0\n"


def test_lower_casing_prefers_the_lower_case_entry_then_the_first_casing(tmp_path):
    kv, meta, logs = _import(tmp_path, GLOVE_CASED, lowercase=True)
    assert kv.index_to_key == ["the", "paris", "us"]  # in the order of the rows kept (the file is by frequency)
    np.testing.assert_array_equal(kv["the"], [0, 1])  # its own entry, not 'The'
    np.testing.assert_array_equal(kv["us"], [0, 2])  # the pronoun's entry, not 'US'
    np.testing.assert_array_equal(kv["paris"], [3, 0])  # no lower-case entry: the first casing
    assert meta["folded_casings"] == 3 and meta["engine"] == "import" and meta["dim"] == 2
    assert any("3 other casings folded" in line for line in logs)


def test_a_cased_pipeline_keeps_every_casing(tmp_path):
    kv, meta, _ = _import(tmp_path, GLOVE_CASED, lowercase=False)
    assert kv.index_to_key == ["The", "the", "US", "Paris", "us", "PARIS"] and meta["folded_casings"] == 0
