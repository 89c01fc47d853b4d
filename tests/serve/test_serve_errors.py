"""Bad requests: each is a 4xx with ``{"error": {"field", "message"}}`` naming the field in one line, and the
server goes on serving. The API key, on and off."""

from __future__ import annotations

import pytest

# A server with small limits, so that each is easy to pass.
LIMITS = {"max_texts": 4, "max_text_chars": 50, "max_body_bytes": 2048, "max_generate_tokens": 20, "max_topn": 10,
          "max_map_words": 100}
JSON = {"Content-Type": "application/json"}

# (id, method, path, what to send, status, field, words the message holds)
CASES = [
    ("invalid JSON", "POST", "/v1/classify", {"content": b'{"texts": [', "headers": JSON}, 400, "body",
     "the body is not valid JSON (Expecting value at character 11)"),
    ("not UTF-8", "POST", "/v1/classify", {"content": b'{"texts": ["caf\xe9"]}', "headers": JSON}, 400, "body",
     "the body is not valid UTF-8 (byte 15: 0xe9)"),
    ("body over the limit", "POST", "/v1/classify", {"json": {"texts": ["x" * 3000]}}, 413, "body",
     "the limit is 2,048 (serve.max_body_bytes)"),
    ("not sent as JSON", "POST", "/v1/classify", {"content": b'{"texts": ["a"]}'}, 422, "body",
     "Content-Type: application/json"),
    ("empty body", "POST", "/v1/classify", {"content": b"", "headers": JSON}, 422, "body", "the body is empty"),
    ("body an array", "POST", "/v1/classify", {"json": ["a good film"]}, 422, "body", "must be a JSON object"),
    ("missing field", "POST", "/v1/classify", {"json": {}}, 422, "texts", "is required"),
    ("unknown field", "POST", "/v1/classify", {"json": {"texts": ["a"], "txts": ["b"]}}, 422, "txts",
     "is not a field of this request"),
    ("empty list", "POST", "/v1/classify", {"json": {"texts": []}}, 422, "texts", "must not be empty"),
    ("a string for a list", "POST", "/v1/classify", {"json": {"texts": "a good film"}}, 422, "texts",
     "must be a list; got the string 'a good film'"),
    ("a number for a text", "POST", "/v1/classify", {"json": {"texts": ["a", 5]}}, 422, "texts[1]",
     "must be a string; got the number 5"),
    ("empty text", "POST", "/v1/classify", {"json": {"texts": ["a", ""]}}, 422, "texts[1]", "must not be empty"),
    ("blank text", "POST", "/v1/perplexity", {"json": {"texts": ["  \t "]}}, 422, "texts[0]", "must not be blank"),
    ("too many texts", "POST", "/v1/classify", {"json": {"texts": ["a"] * 5}}, 422, "texts",
     "holds 5 items, more than the limit of 4 (serve.max_texts)"),
    ("text over the character limit", "POST", "/v1/tag", {"json": {"texts": ["ok", "y" * 51]}}, 422, "texts[1]",
     "is 51 characters long, more than the limit of 50 (serve.max_text_chars)"),
    ("lone surrogate", "POST", "/v1/classify", {"content": b'{"texts": ["\\ud800"]}', "headers": JSON}, 422,
     "texts[0]", "is not valid Unicode"),
    ("tag: texts and tokens", "POST", "/v1/tag", {"json": {"texts": ["a"], "tokens": [["a"]]}}, 422, "texts",
     "one of the two"),
    ("tag: neither", "POST", "/v1/tag", {"json": {}}, 422, "texts", "one of the two"),
    ("tag: an empty sentence", "POST", "/v1/tag", {"json": {"tokens": [["a"], []]}}, 422, "tokens[1]",
     "must not be empty"),
    ("unknown word", "POST", "/v1/similar", {"json": {"words": ["police", "governmnt"]}}, 404, "words[1]",
     "'governmnt' is not in the vocabulary"),
    ("unknown word in a pair", "POST", "/v1/similarity", {"json": {"pairs": [["police", "plice"]]}}, 404,
     "pairs[0][1]", "'plice' is not in the vocabulary"),
    ("a pair of one", "POST", "/v1/similarity", {"json": {"pairs": [["police"]]}}, 422, "pairs[0]",
     "holds 1 item; it needs 2"),
    ("an analogy of four", "POST", "/v1/analogy", {"json": {"queries": [["a", "b", "c", "d"]]}}, 422, "queries[0]",
     "holds 4 items; it needs 3"),
    ("unknown method", "POST", "/v1/analogy", {"json": {"queries": [["man", "king", "woman"]], "method": "3cos"}},
     422, "method", "must be one of '3cosadd' or '3cosmul'; got '3cos'"),
    ("topn 0", "POST", "/v1/similar", {"json": {"words": ["police"], "topn": 0}}, 422, "topn", "must be >= 1; got 0"),
    ("topn over the limit", "POST", "/v1/similar", {"json": {"words": ["police"], "topn": 11}}, 422, "topn",
     "must be <= 10 (serve.max_topn); got 11"),
    ("topn as text", "POST", "/v1/similar", {"json": {"words": ["police"], "topn": "5"}}, 422, "topn",
     "must be an integer; got the string '5'"),
    ("topn as true", "POST", "/v1/similar", {"json": {"words": ["police"], "topn": True}}, 422, "topn",
     "must be an integer; got true"),
    ("too many tokens to generate", "POST", "/v1/generate", {"json": {"max_tokens": 21}}, 422, "max_tokens",
     "must be <= 20 (serve.max_generate_tokens); got 21"),
    ("negative temperature", "POST", "/v1/generate", {"json": {"temperature": -0.5}}, 422, "temperature",
     "must be >= 0; got -0.5"),
    ("top_p 0", "POST", "/v1/generate", {"json": {"top_p": 0}}, 422, "top_p", "must be > 0; got 0"),
    ("NaN temperature", "POST", "/v1/generate", {"content": b'{"temperature": NaN}', "headers": JSON}, 422,
     "temperature", "must be a finite number"),
    ("prompt over the character limit", "POST", "/v1/generate", {"json": {"prompt": "z" * 51}}, 422, "prompt",
     "(serve.max_text_chars)"),
    ("map of 2 words", "GET", "/v1/map?n=2", {}, 422, "n", "must be >= 3; got 2"),
    ("map over the limit", "GET", "/v1/map?n=101", {}, 422, "n", "(serve.max_map_words)"),
    ("map n not a number", "GET", "/v1/map?n=many", {}, 422, "n", "must be an integer"),
    ("map method", "GET", "/v1/map?method=isomap", {}, 422, "method", "must be one of 'tsne', 'umap' or 'pca'"),
    ("wrong HTTP method", "GET", "/v1/classify", {}, 405, None, "GET is not allowed on /v1/classify"),
    ("no such endpoint", "POST", "/v1/summarize", {"json": {"texts": ["a"]}}, 404, None, "no endpoint /v1/summarize"),
    ("no such version", "POST", "/v2/classify", {"json": {"texts": ["a"]}}, 404, None, "no endpoint /v2/classify"),
]


@pytest.fixture(scope="module")
def limited(make_client):
    return make_client(**LIMITS)


@pytest.mark.parametrize(("method", "path", "send", "status", "field", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_bad_request_is_a_4xx_naming_the_field_in_one_line(limited, method, path, send, status, field, words):
    response = limited.request(method, path, **send)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["field"] == field
    message = body["error"]["message"]
    assert words in message and "\n" not in message and len(message) <= 480
    assert limited.get("/health").status_code == 200  # and the server goes on
    assert limited.post("/v1/classify", json={"texts": ["still serving"]}).status_code == 200


def test_an_unknown_word_comes_with_close_spellings(limited):
    error = limited.post("/v1/similar", json={"words": ["governmnt"]}).json()["error"]
    assert error["suggestions"][0] == "government" and "did you mean: government" in error["message"]


def test_many_bad_requests_in_a_row_leave_the_answers_unchanged(limited):
    before = limited.post("/v1/classify", json={"texts": ["a gorgeous, witty film"]}).json()
    for _, method, path, send, *_ in CASES:
        limited.request(method, path, **send)
    assert limited.post("/v1/classify", json={"texts": ["a gorgeous, witty film"]}).json() == before


def test_without_a_key_the_server_is_open(client):
    assert client.get("/v1/models").status_code == 200
    anything = client.post("/v1/classify", json={"texts": ["a"]}, headers={"Authorization": "Bearer any"})
    assert anything.status_code == 200


def test_with_a_key_every_endpoint_but_health_needs_it(make_client):
    secured = make_client(api_key="s3cret-key")
    assert secured.get("/health").status_code == 200
    for method, path in (("GET", "/v1/models"), ("GET", "/v1/stats"), ("GET", "/v1/map"), ("POST", "/v1/classify"),
                         ("POST", "/v1/similar"), ("POST", "/v1/generate"), ("GET", "/docs"),
                         ("GET", "/openapi.json"), ("GET", "/v1/nothing")):
        response = secured.request(method, path)
        assert response.status_code == 401, path
        assert response.json() == {"error": {"field": "Authorization", "message": "no API key: send 'Authorization: "
                                              "Bearer KEY' or 'X-API-Key: KEY'"}}
        assert response.headers["WWW-Authenticate"] == "Bearer"
    wrong = secured.get("/v1/models", headers={"Authorization": "Bearer s3cret-kez"})
    assert wrong.status_code == 401 and wrong.json()["error"]["message"].startswith("a wrong API key")
    assert secured.get("/v1/models", headers={"X-API-Key": "nope"}).status_code == 401
    # The key is checked before the body is read: a bad body without the key is a 401, not a 400.
    assert secured.post("/v1/classify", content=b"{", headers=JSON).status_code == 401
    body = {"texts": ["a gorgeous, witty film"]}
    bearer = secured.post("/v1/classify", json=body, headers={"Authorization": "Bearer s3cret-key"})
    header = secured.post("/v1/classify", json=body, headers={"X-API-Key": "s3cret-key"})
    assert bearer.status_code == header.status_code == 200 and bearer.json() == header.json()
    assert secured.get("/openapi.json", headers={"X-API-Key": "s3cret-key"}).json()["components"]["securitySchemes"]
