"""The web page at ``/`` in a real browser: headless Chromium (selenium) against a real uvicorn server on a free
port, over the session's tiny trained models. What a user does: give the API key, query a word and see its
neighbours (and them on the map), hover the map, solve an analogy, type a text and see its label, its coloured
tags and a continuation; and what a user sees when a kind is not loaded or the server is gone.

The browser tests skip when selenium, Chromium or chromedriver is missing here (``.ci/run`` installs them). A
screenshot of the page goes to the test's folder, and to ``$NLP_PIPELINE_TEST_ARTIFACTS`` when it is set.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

try:
    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
STATIC = Path(__file__).resolve().parents[2] / "nlp_pipeline" / "serve" / "static"
KEY = "a-key-for-the-page"
WAIT_S = 30  # the longest any answer may take to show (a first map projection, on a busy machine)
# The colours of a canvas pixel block: the first block of SIZE×SIZE pixels all of the CSS variable's colour, as
# [x, y] of its centre in CSS pixels (null: none). A point's dot holds such a block; a label's thin strokes do not.
FIND_BLOCK = """
const [name, size] = arguments;
const canvas = document.getElementById("map-canvas");
const probe = document.createElement("canvas").getContext("2d");
probe.fillStyle = getComputedStyle(canvas).getPropertyValue(name).trim();
probe.fillRect(0, 0, 1, 1);
const want = probe.getImageData(0, 0, 1, 1).data;
const {width, height} = canvas;
const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
const is = (x, y) => { const i = 4 * (y * width + x); return data[i] === want[0] && data[i + 1] === want[1]
                                                             && data[i + 2] === want[2]; };
const dpr = width / canvas.clientWidth;
for (let y = 0; y + size <= height; y++) for (let x = 0; x + size <= width; x++) {
  let all = true;
  for (let dy = 0; dy < size && all; dy++) for (let dx = 0; dx < size && all; dx++) all = is(x + dx, y + dy);
  if (all) return [(x + size / 2) / dpr, (y + size / 2) / dpr];
}
return null;
"""
# How many canvas pixels differ from the map's background.
DRAWN = """
const canvas = document.getElementById("map-canvas");
const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] !== 255 || data[i + 1] !== 255 || data[i + 2] !== 255) n++;
return n;
"""


class LiveServer:
    """An app served by uvicorn in a thread, on a free port of 127.0.0.1 (the socket `serve` listens with)."""

    def __init__(self, app) -> None:
        import uvicorn

        from nlp_pipeline.serve.listen import listen, url_of

        self.sock = listen("127.0.0.1", 0)
        self.url = url_of(self.sock)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live(models):
    """``live(api_key=None, models_=None)``: a started server over the session's models (or ``models_``)."""
    from nlp_pipeline.serve import create_app

    started: list[LiveServer] = []

    def start(api_key: str | None = None, models_=None) -> LiveServer:
        started.append(LiveServer(create_app(models=models_ or models, api_key=api_key, settings={"batch_wait_ms": 1})))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    if webdriver is None:
        pytest.skip("the browser test needs selenium (pip install selenium, or the dev extra)")
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("the browser test needs Chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--window-size=1280,800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def _viewport(driver, width: int, height: int) -> None:
    """The page's viewport exactly ``width``×``height`` CSS pixels at one device pixel per CSS pixel."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _wait(driver, until, message: str):
    return WebDriverWait(driver, WAIT_S).until(lambda d: until(d), message)


def _find(driver, selector: str):
    return driver.find_element(By.CSS_SELECTOR, selector)


def _all(driver, selector: str) -> list:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def _shown(driver, selector: str) -> bool:
    found = _all(driver, selector)
    return bool(found) and found[0].is_displayed()


def _type(driver, selector: str, text: str, *, enter: bool = True) -> None:
    field = _find(driver, selector)
    field.clear()
    field.send_keys(text, *([Keys.ENTER] if enter else []))


def _hover(driver, x: float, y: float) -> str:
    """Move the pointer to (x, y) CSS pixels of the map; the word its tooltip then shows."""
    canvas = _find(driver, "#map-canvas")
    ActionChains(driver).move_to_element_with_offset(canvas, round(x - canvas.size["width"] / 2),
                                                     round(y - canvas.size["height"] / 2)).perform()
    return _wait(driver, lambda d: _shown(d, "#map-tip") and _find(d, "#map-tip").text, "no tooltip on the map")


def _screenshot(driver, tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    assert driver.save_screenshot(str(out))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    if os.environ.get("NLP_PIPELINE_TEST_ARTIFACTS"):
        folder = Path(os.environ["NLP_PIPELINE_TEST_ARTIFACTS"])
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, folder / name)
    return out


def test_the_page_is_public_and_offline_while_the_api_keeps_its_key(make_client):
    """``/`` and its files need no key (they hold no data) and name nothing outside this server."""
    client = make_client(api_key=KEY)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    files = sorted(p.name for p in STATIC.iterdir())
    assert files == ["index.html", "page.css", "page.js"]
    for name in files:
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and served.content == (STATIC / name).read_bytes()
        assert not re.search(r"https?:|url\(|@import", served.text), f"{name} names a file outside this server"
    assert re.findall(r'(?:src|href)="([^"]+)"', page.text) == ["data:,", "static/page.css", "static/page.js",
                                                                "docs", "docs"]
    assert client.get("/v1/models").status_code == 401 and client.get("/docs").status_code == 401
    for outside in ("/static/%2e%2e/guard.py", "/static/%2e%2e/%2e%2e/v1/models"):  # the open prefix opens no more
        assert client.get(outside).status_code == 404
    assert client.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 200


def test_the_page_asks_for_the_key_then_answers_with_every_kind(browser, live, models, tmp_path):
    server = live(api_key=KEY)
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=WAIT_S)
    # The page and its files are public (they hold no data); the API behind them is not.
    page = httpx.get(f"{server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(f"{server.url}/static/page.js").status_code == 200
    assert httpx.get(f"{server.url}/v1/models").status_code == 401
    words = [p["word"] for p in api.get("/v1/map", params={"n": 300, "method": "pca"}).json()["points"]]
    assert "film" in words

    _viewport(browser, 1280, 800)
    started = time.monotonic()
    browser.get(f"{server.url}/?n=300&method=pca")  # the address chooses the first map (PCA: no t-SNE wait)
    _wait(browser, lambda d: _shown(d, "#key"), "the page did not ask for the API key")
    assert "API key" in _find(browser, "#status").text and not _shown(browser, "#models")
    _type(browser, "#key-input", "not-the-key")
    refused = _wait(browser, lambda d: _shown(d, "#key-error") and _find(d, "#key-error").text, "a wrong key passed")
    assert refused.startswith("a wrong API key") and not _shown(browser, "#models")
    _type(browser, "#key-input", KEY)
    _wait(browser, lambda d: _shown(d, "#models"), "no models listed after the key was given")
    assert not _shown(browser, "#key")
    assert browser.execute_script("return sessionStorage.getItem('nlp-pipeline-api-key')") == KEY
    listed = _all(browser, "#models-list li")
    assert [li.get_attribute("data-kind") for li in listed] == ["classifier", "tagger", "vectors", "language_model"]
    for li, loaded in zip(listed, models.loaded()):
        assert _find(li, "code").text == loaded.short_key
    assert not _all(browser, "#models-missing li") and not _all(browser, "[data-missing]")

    # Neighbours: the list is the API's answer, and the map highlights the word and those of them it holds.
    _type(browser, "#similar-word", "film")
    _wait(browser, lambda d: len(_all(d, "#similar-out li")) == 10, "no neighbours listed")
    want = api.post("/v1/similar", json={"words": ["film"], "topn": 10}).json()["results"][0]["results"]
    shown = [li.text.split() for li in _all(browser, "#similar-out li")]
    assert shown == [[r["word"], f"{r['score']:.3f}"] for r in want]
    on_map = [r["word"] for r in want if r["word"] in words]
    caption = _wait(browser, lambda d: "(pink)" in _find(d, "#map-caption").text and _find(d, "#map-caption").text,
                    "the map does not say what it highlights")
    assert f"film (pink) and {len(on_map)} of its 10 neighbours (orange) are on the map" in caption
    assert "The 300 most frequent words of the vectors, by PCA" in caption
    assert browser.execute_script(DRAWN) > 300 * 9  # every point's dot, at least
    query = browser.execute_script(FIND_BLOCK, "--map-query", 5)
    assert query is not None, "the query's dot is not drawn"
    assert _hover(browser, *query) == "film"
    if on_map:
        assert browser.execute_script(FIND_BLOCK, "--map-neighbour", 5) is not None
    point = browser.execute_script(FIND_BLOCK, "--map-point", 3)
    assert _hover(browser, *point) in words

    # An unknown word: the API's error inline, its suggestions one click away.
    _type(browser, "#similar-word", "filmz")
    error = _wait(browser, lambda d: _shown(d, "#similar-out .error") and _find(d, "#similar-out .error"),
                  "no error shown for an unknown word")
    assert error.text.startswith("words[0]: 'filmz' is not in the vocabulary") and not _all(browser, "#similar-out li")
    suggestion = _find(error, "button")
    suggested = suggestion.text
    suggestion.click()
    _wait(browser, lambda d: len(_all(d, "#similar-out li")) == 10 and not _shown(d, "#similar-out .error"),
          "the suggestion did not run")
    assert _find(browser, "#similar-word").get_attribute("value") == suggested

    # A value over the server's limit: its message inline.
    _type(browser, "#similar-topn", "1000", enter=False)
    _type(browser, "#similar-word", "film")
    error = _wait(browser, lambda d: _shown(d, "#similar-out .error") and _find(d, "#similar-out .error"),
                  "no error shown for a topn over the limit")
    assert error.text == "topn: must be <= 100 (serve.max_topn); got 1000"
    _type(browser, "#similar-topn", "10", enter=False)

    # An analogy, solved as the API solves it.
    a, b, c = words[20:23]
    for field, word in zip("abc", (a, b, c)):
        _type(browser, f"#analogy-{field}", word, enter=field == "c")
    _wait(browser, lambda d: len(_all(d, "#analogy-out li")) == 5, "no analogy answers")
    want = api.post("/v1/analogy", json={"queries": [[a, b, c]], "topn": 5}).json()["results"][0]["results"]
    assert [li.text.split()[0] for li in _all(browser, "#analogy-out li")] == [r["word"] for r in want]

    # A text: its label and probabilities, its tags token by token in the legend's colours, a continuation.
    text = "a gorgeous , witty film that the station loved"
    _type(browser, "#gen-seed", "7", enter=False)
    _type(browser, "#text-input", text)
    _wait(browser, lambda d: _find(d, "#classify-label").text and _all(d, "#tag-tokens .token")
          and _find(d, "#generate-text").text, "the text's label, tags or continuation is missing")
    classified = api.post("/v1/classify", json={"texts": [text]}).json()["results"][0]
    assert _find(browser, "#classify-label").text == f"{classified['label']} " \
                                                      f"({classified['probabilities'][classified['label']]:.3f})"
    assert len(_all(browser, "#classify-probs .bar")) == 2
    tagged = api.post("/v1/tag", json={"texts": [text]}).json()["results"][0]
    chips = _all(browser, "#tag-tokens .token")
    assert [_find(chip, ".word").text for chip in chips] == tagged["tokens"]
    assert [chip.get_attribute("data-tag") for chip in chips] == tagged["tags"]
    legend = {li.get_attribute("data-tag"): li.value_of_css_property("background-color")
              for li in _all(browser, "#tag-legend li")}
    assert sorted(legend) == sorted(models.tagger.engine.tags)
    assert len(set(legend.values())) == len(legend)  # a colour per tag
    for chip, tag in zip(chips, tagged["tags"]):
        assert chip.value_of_css_property("background-color") == legend[tag]
    assert {li.get_attribute("data-tag") for li in _all(browser, "#tag-legend li.present")} == set(tagged["tags"])
    generated = api.post("/v1/generate", json={"prompt": text, "max_tokens": 20, "temperature": 0.8,
                                               "seed": 7}).json()
    assert _find(browser, "#generate-text mark").text == generated["generated"]
    assert _find(browser, "#generate-text").text.startswith(text)
    assert time.monotonic() - started < 20
    _screenshot(browser, tmp_path, "serve_page.png")

    # A blank text: each model's refusal shown inline in its own section.
    _type(browser, "#text-input", "   ")
    error = _wait(browser, lambda d: _shown(d, "#classify-out .error") and _find(d, "#classify-out .error"),
                  "no error shown for a blank text")
    assert error.text == "texts[0]: must not be blank"
    assert _find(browser, "#tag-out .error").text == "texts[0]: must not be blank"

    # A narrow window: one column, nothing wider than it, the map redrawn to its width.
    _viewport(browser, 400, 800)
    _wait(browser, lambda d: _find(d, "#map-canvas").size["width"] < 400, "the map kept its width")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
    assert browser.execute_script(DRAWN) > 300 * 9


def test_a_kind_not_loaded_says_how_to_load_it_and_a_stopped_server_is_an_inline_error(browser, live, models):
    from nlp_pipeline.serve.loading import LoadedModels

    server = live(models_=LoadedModels(vectors=models.vectors))
    _viewport(browser, 1280, 800)
    browser.get(f"{server.url}/?method=pca&n=50")
    _wait(browser, lambda d: _shown(d, "#models"), "no models listed")
    assert not _shown(browser, "#key")  # no key asked for: the server has none
    assert [li.get_attribute("data-kind") for li in _all(browser, "#models-list li")] == ["vectors"]
    missing = [li.text for li in _all(browser, "#models-missing li")]
    assert missing == ["No classifier is loaded: start the server with --model REF (a model folder, a train key "
                       "prefix, or latest).",
                       "No tagger is loaded: start the server with --tagger REF (a tagger folder, a train_tagger key "
                       "prefix, or latest).",
                       "No language model is loaded: start the server with --lm REF (a language model folder, a "
                       "train_lm key prefix, or latest)."]
    assert [li.get_attribute("data-missing") for li in _all(browser, "#text [data-missing]")] == \
        ["classifier", "tagger", "language_model"]
    assert not _shown(browser, "#text-form") and not _shown(browser, "#classify-out")
    assert _shown(browser, "#similar-form")
    _wait(browser, lambda d: "The 50 most frequent words" in _find(d, "#map-caption").text, "no map drawn")
    assert browser.execute_script(DRAWN) > 50 * 9

    server.stop()
    _type(browser, "#similar-word", "film")
    error = _wait(browser, lambda d: _shown(d, "#similar-out .error") and _find(d, "#similar-out .error"),
                  "no error shown once the server stopped")
    assert error.text.startswith("cannot reach the server")
