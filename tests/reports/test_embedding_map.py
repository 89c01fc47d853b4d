"""The embedding map: a deterministic 2-D projection and a PNG with probes highlighted."""

import numpy as np
import pytest

from nlp_pipeline.reports.embedding_map import plot_embedding_map, project_2d


@pytest.fixture
def clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 20)) * 5
    vectors = np.vstack([c + rng.normal(size=(40, 20)) for c in centres]).astype(np.float32)
    words = [f"w{i}" for i in range(len(vectors))]
    return words, vectors


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_is_deterministic_and_keeps_clusters_apart(clusters, method):
    words, vectors = clusters
    a, b = project_2d(vectors, method), project_2d(vectors, method)
    assert a.shape == (120, 2)
    np.testing.assert_array_equal(a, b)
    centroids = np.array([a[i * 40:(i + 1) * 40].mean(axis=0) for i in range(3)])
    spread = max(np.linalg.norm(a[i * 40:(i + 1) * 40] - centroids[i], axis=1).mean() for i in range(3))
    gaps = [np.linalg.norm(centroids[i] - centroids[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > spread  # the three planted groups stay three groups


def test_map_png_with_probes(tmp_path, clusters):
    words, vectors = clusters
    coords = project_2d(vectors, "pca")
    out = plot_embedding_map(words, coords, tmp_path / "map.png", probes={"w0": ["w1", "w2"], "nope": ["w3"]},
                             n_labels=30, title="toy")
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_method():
    with pytest.raises(ValueError, match="tsne, umap, pca"):
        project_2d(np.ones((10, 3)), "mds")


def test_map_words_adds_rare_probes_and_neighbours():
    from nlp_pipeline.reports.embedding_map import map_words

    vocab = ["the", "a", "film", "movie", "kong", "king"]
    assert map_words(vocab, 2, {"king": ["kong", "zzz"], "film": ["movie"]}) == ["the", "a", "king", "kong",
                                                                                  "film", "movie"]
