"""Every endpoint through the HTTP layer, each answer equal to what the CLI (or the library) answers for the same
input: the server is the library behind JSON, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from serve_helpers import cli, json_lines

from nlp_pipeline.errors import ConfigError, DataError

TEXTS = ["a gorgeous, witty film", "two hours I will never get back", "the government said police would act"]


def _post(client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_the_listing_of_what_is_loaded(client, trained, models):
    assert client.get("/health").json() == {"status": "ok",
                                            "loaded": ["classifier", "tagger", "vectors", "language_model"]}
    listed = {m["kind"]: m for m in client.get("/v1/models").json()["models"]}
    assert {k: m["key"] for k, m in listed.items()} == {"classifier": trained.classifier, "tagger": trained.tagger,
                                                        "vectors": trained.vectors, "language_model": trained.lm}
    assert all(m["short_key"] == m["key"][:12] and m["path"].endswith(m["key"]) for m in listed.values())
    assert listed["classifier"]["labels"] == ["negative", "positive"]
    assert listed["classifier"]["vocab_size"] == len(models.classifier.engine.vocab)
    assert set(listed["tagger"]["tags"]) == {"DET", "ADJ", "NOUN", "VERB", "ADV", "PUNCT"}
    assert listed["vectors"]["vocab_size"] == len(models.vectors.engine) and listed["vectors"]["dim"] == 16
    assert listed["language_model"]["direction"] == "forward"
    # The metrics each build recorded in its manifest.
    assert 0 <= listed["classifier"]["metrics"]["best_dev_accuracy"] <= 1
    assert listed["language_model"]["metrics"]["heldout_ppl"] > 1
    assert "wordsim353" in listed["vectors"]["metrics"]["intrinsic"]
    assert "history" not in listed["language_model"]["metrics"]  # lists are left out of the listing


def test_classify_answers_as_predict_does(client, trained):
    served = _post(client, "/v1/classify", {"texts": TEXTS})
    assert served["model"] == trained.classifier[:12] and served["labels"] == ["negative", "positive"]
    predicted = json_lines(cli("predict", trained.classifier[:12], *TEXTS, "--cache-dir", trained.cache, "--json"))
    assert [r["text"] for r in served["results"]] == TEXTS
    assert [r["label"] for r in served["results"]] == [p["label"] for p in predicted]
    for got, want in zip(served["results"], predicted):
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)


def test_tag_answers_as_tag_does_for_text_and_for_tokens(client, trained):
    texts = ["The station sleeps quickly .", "A curious nation waits."]
    served = _post(client, "/v1/tag", {"texts": texts})
    tagged = json_lines(cli("tag", trained.tagger[:12], *texts, "--cache-dir", trained.cache, "--json"))
    assert served["model"] == trained.tagger[:12]
    assert served["results"] == tagged
    tokens = [["every", "kindness", "falls", "."], ["The", "motion", "stays"]]
    served = _post(client, "/v1/tag", {"tokens": tokens})
    tagged = json_lines(cli("tag", trained.tagger[:12], *(" ".join(t) for t in tokens), "--tokenized",
                            "--cache-dir", trained.cache, "--json"))
    assert served["results"] == tagged and [r["tokens"] for r in served["results"]] == tokens


def test_similar_similarity_and_analogy_answer_as_the_cli_does(client, trained):
    ref = ["-v", trained.vectors[:12], "--cache-dir", trained.cache, "--json"]
    served = _post(client, "/v1/similar", {"words": ["government", "police"], "topn": 5})
    assert served["vectors"] == trained.vectors[:12]
    want = json_lines(cli("similar", "government", "police", "-n", 5, *ref))
    assert [r["query"] for r in served["results"]] == ["government", "police"]
    for got, expected in zip(served["results"], want):
        assert [n["word"] for n in got["results"]] == [n["word"] for n in expected["results"]]
        # Scores are rounded to 6 places: a last-bit difference between a one-row (the CLI's query by query) and
        # a two-row matrix product (the server's batch) can move the 6th place by one.
        assert [n["score"] for n in got["results"]] == pytest.approx([n["score"] for n in expected["results"]],
                                                                     abs=1.01e-6)
    served = _post(client, "/v1/similarity", {"pairs": [["government", "police"], ["man", "woman"]]})
    for got, pair in zip(served["results"], (["government", "police"], ["man", "woman"])):
        want = json_lines(cli("similarity", *pair, *ref))[0]
        assert got["query"] == pair and got["similarity"] == pytest.approx(want["similarity"], abs=1.01e-6)
    for method in ("3cosadd", "3cosmul"):
        served = _post(client, "/v1/analogy", {"queries": [["man", "king", "woman"]], "topn": 4, "method": method})
        want = json_lines(cli("analogy", "man", "king", "woman", "-n", 4, "--method", method, *ref))[0]
        got = served["results"][0]
        assert got["method"] == method and [n["word"] for n in got["results"]] == [n["word"] for n in want["results"]]
        assert not {"man", "king", "woman"} & {n["word"] for n in got["results"]}


def test_generate_and_perplexity_answer_as_the_cli_does(client, trained, tmp_path):
    body = {"prompt": "the government", "max_tokens": 8, "temperature": 0.7, "top_k": 50, "top_p": 0.9, "seed": 3}
    served = _post(client, "/v1/generate", body)
    want = json_lines(cli("generate", trained.lm[:12], "--prompt", "the government", "--max-tokens", 8,
                          "--temperature", 0.7, "--top-k", 50, "--top-p", 0.9, "--seed", 3,
                          "--cache-dir", trained.cache, "--json"))[0]
    assert served == {"model": trained.lm[:12], **want}
    assert served["text"].startswith("the government") and 1 <= served["tokens"] <= 8
    assert _post(client, "/v1/generate", body) == served  # the same seed, the same text
    defaults = _post(client, "/v1/generate", {"prompt": "police"})  # the report's sampling settings, a fresh seed
    assert defaults["tokens"] <= 40
    texts = ["the government said the police would act", "a new fire", "australia"]
    (tmp_path / "held_out.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    served = _post(client, "/v1/perplexity", {"texts": texts})
    want = json_lines(cli("perplexity", trained.lm[:12], "--file", tmp_path / "held_out.txt",
                          "--cache-dir", trained.cache, "--json"))[0]
    assert served == {"model": trained.lm[:12], **want} and served["documents"] == 3


def test_the_map_is_the_reports_projection_computed_once(make_client, models):
    from nlp_pipeline.reports.embedding_map import map_words, project_2d

    client = make_client()  # its own app: a fresh count of projections
    index = models.vectors.engine
    served = client.get("/v1/map", params={"n": 40, "method": "pca"}).json()
    words = map_words(index.words, 40)
    assert [p["word"] for p in served["points"]] == words == index.words[:40]
    want = project_2d(index.matrix[[index.key_to_index[w] for w in words]], "pca", seed=served["seed"])
    assert np.allclose([[p["x"], p["y"]] for p in served["points"]], want, atol=1e-9)
    assert client.get("/v1/map", params={"n": 40, "method": "pca"}).json() == served
    assert client.get("/v1/stats").json()["map_projections"] == 1  # the second answer came from the cache
    tsne = client.get("/v1/map", params={"n": 30}).json()  # the report's default method
    assert tsne["method"] == "tsne" and len(tsne["points"]) == 30
    assert client.get("/v1/stats").json()["map_projections"] == 2


def test_openapi_documents_every_endpoint_and_the_error_shape(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {f"/v1/{name}" for name in ("classify", "tag", "similar", "similarity", "analogy", "generate",
                                       "perplexity", "models", "map", "stats")} | {"/health"} <= paths
    classify = spec["paths"]["/v1/classify"]["post"]
    assert classify["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    texts = spec["components"]["schemas"]["Classify"]["properties"]["texts"]
    assert texts["maxItems"] == 256 and texts["items"]["maxLength"] == 20_000  # the server's limits


def test_a_kind_that_is_not_loaded_is_a_404_naming_what_is(make_client, models):
    from nlp_pipeline.serve import LoadedModels

    client = make_client(models_=LoadedModels(vectors=models.vectors))
    assert client.get("/health").json()["loaded"] == ["vectors"]
    assert [m["kind"] for m in client.get("/v1/models").json()["models"]] == ["vectors"]
    for path, body, option in (("/v1/tag", {"texts": ["a cat"]}, "tagger"), ("/v1/classify", {"texts": ["a"]}, "model"),
                               ("/v1/generate", {"prompt": "the"}, "lm")):
        response = client.post(path, json=body)
        assert response.status_code == 404
        assert response.json()["error"]["field"] == option
        assert f"start it with --{option} REF" in response.json()["error"]["message"]
        assert response.json()["error"]["message"].endswith("it holds: vectors")
    assert client.post("/v1/similar", json={"words": ["police"]}).status_code == 200


def test_create_app_loads_by_reference_and_refuses_what_names_nothing(trained):
    from fastapi.testclient import TestClient

    from nlp_pipeline.serve import create_app

    app = create_app(model=trained.classifier[:12], cache_dir=trained.cache, device="cpu",
                     settings={"batching": False})
    with TestClient(app) as client:
        assert client.get("/health").json()["loaded"] == ["classifier"]
        assert client.get("/v1/stats").json()["batching"] is False
    with pytest.raises(ConfigError, match="'0123abc' is neither a model folder nor the key"):
        create_app(tagger="0123abc", cache_dir=trained.cache)
    with pytest.raises(DataError, match="vectors file not found"):
        create_app(vectors="missing/vectors.bin", cache_dir=trained.cache)
    with pytest.raises(ConfigError, match=r"serve.max_texts=0 is out of range: must be \[1, 100000\]"):
        create_app(model=trained.classifier[:12], cache_dir=trained.cache, settings={"max_texts": 0})
