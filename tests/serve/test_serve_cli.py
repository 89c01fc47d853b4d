"""`nlp-pipeline serve` as a user starts it: a real process on a free port, the start-up lines, the warning for
an address others can reach, the key from the environment, and the one-line refusals (exit 2) before serving."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import cli

from nlp_pipeline.cli.serve import INSTALL, LOOPBACK_WARNING


class Served:
    """``nlp-pipeline serve ARGS`` in its own process, its stdout and stderr in files (read while it runs)."""

    def __init__(self, tmp_path: Path, *args, env: dict[str, str] | None = None) -> None:
        self.out, self.err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "nlp_pipeline.cli", "serve", *map(str, args)],
                                         stdout=out, stderr=err, env={**os.environ, **(env or {})})

    def lines(self, at_least: int, timeout: float = 60) -> list[str]:
        """Its stdout lines, once it printed ``at_least`` of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.out.read_text().splitlines()
            if len(lines) >= at_least:
                return lines
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.err.read_text()}"
            time.sleep(0.05)
        raise AssertionError(f"serve printed nothing in {timeout} s: {self.err.read_text()}")

    def healthy(self, url: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{url}/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"no /health in {timeout} s: {self.err.read_text()}")

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it: uvicorn finishes what is in flight, then exits by the signal
        it caught (recent versions raise it again once shut down; older ones exit 0)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def served(tmp_path):
    started: list[Served] = []

    def start(*args, env=None) -> Served:
        started.append(Served(tmp_path / str(len(started)), *args, env=env))
        return started[-1]

    for folder in range(4):
        (tmp_path / str(folder)).mkdir()
    yield start
    for server in started:
        server.stop()


@pytest.mark.e2e  # `serve` in a fresh process
def test_serve_starts_answers_classify_and_stops(served, trained, models):
    server = served("--model", trained.classifier[:12], "--cache-dir", trained.cache, "--port", 0, "--json")
    started = json.loads(server.lines(1)[0])
    url = started["url"]
    assert url.startswith("http://127.0.0.1:") and started["docs"] == f"{url}/docs" and started["api_key"] is False
    assert started["models"] == [{"kind": "classifier", "key": trained.classifier,
                                  "path": str(trained.classifier_path)}]
    assert started["settings"]["max_texts"] == 256 and started["settings"]["batching"] is True
    assert started["torch_threads"] >= 1  # serve.threads 0: the cores shared out among the loaded models
    assert server.healthy(url) == {"status": "ok", "loaded": ["classifier"]}
    texts = ["a gorgeous, witty film", "two hours I will never get back"]
    response = httpx.post(f"{url}/v1/classify", json={"texts": texts}, timeout=30)
    assert response.status_code == 200
    for got, want in zip(response.json()["results"], models.classifier.engine.predict(texts)):
        assert got["label"] == want["label"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6)
    assert httpx.post(f"{url}/v1/tag", json={"texts": ["a"]}).status_code == 404  # no tagger was asked for
    assert server.stop() in (0, -signal.SIGTERM)
    assert server.err.read_text() == ""  # loopback: no warning; no log line per request; no traceback at the end


@pytest.mark.e2e  # `serve` in a fresh process
def test_listening_beyond_this_machine_without_a_key_warns_in_one_line(served, trained):
    server = served("-v", trained.vectors[:12], "--cache-dir", trained.cache, "--host", "0.0.0.0", "--port", 0)
    vectors_line, url_line = server.lines(2)
    assert vectors_line.split() == ["vectors", trained.vectors[:12], str(trained.vectors_path)]
    assert url_line.startswith("serving on http://0.0.0.0:") and "/docs" in url_line
    assert server.err.read_text().splitlines()[0] == LOOPBACK_WARNING.format(host="0.0.0.0")
    port = url_line.split()[2].rsplit(":", 1)[1]
    assert server.healthy(f"http://127.0.0.1:{port}")["loaded"] == ["vectors"]


@pytest.mark.e2e  # `serve` in a fresh process
def test_a_key_from_the_environment_guards_every_endpoint_but_health(served, trained):
    server = served("--lm", trained.lm[:12], "--cache-dir", trained.cache, "--host", "0.0.0.0", "--port", 0,
                    "--json", env={"NLP_PIPELINE_API_KEY": "from-the-env"})
    started = json.loads(server.lines(1)[0])
    assert started["api_key"] is True and "from-the-env" not in server.out.read_text()
    port = started["url"].rsplit(":", 1)[1]
    url = f"http://127.0.0.1:{port}"
    server.healthy(url)
    assert httpx.get(f"{url}/v1/models").status_code == 401
    listed = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer from-the-env"})
    assert listed.status_code == 200 and listed.json()["models"][0]["kind"] == "language_model"
    assert "warning" not in server.err.read_text()  # a key was given: reaching it from elsewhere is intended


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_damaged_or_missing_artifact_is_one_line_and_exit_2(trained, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(trained.classifier_path, copy)
    with open(copy / "model.safetensors", "ab") as fh:
        fh.write(b"\0")
    line = _one_error_line(cli("serve", "--model", copy, "--port", 0, ok=False))
    assert "artifact is damaged" in line and "model.safetensors" in line and str(copy) in line
    line = _one_error_line(cli("serve", "--tagger", "0123abc", "--cache-dir", trained.cache, "--port", 0, ok=False))
    assert "'0123abc' is neither a model folder nor the key of a tagger" in line
    line = _one_error_line(cli("serve", "--cache-dir", tmp_path / "empty", "--port", 0, ok=False))
    assert "nothing to serve" in line


def test_a_port_in_use_and_a_limit_out_of_range_are_one_line_and_exit_2(trained):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_error_line(cli("serve", "--model", trained.classifier[:12], "--cache-dir", trained.cache,
                                   "--port", port, ok=False))
    assert f"cannot listen on 127.0.0.1:{port}" in line
    result = cli("serve", "--max-texts", 0, ok=False)
    assert result.exit_code == 2 and "Invalid value for '--max-texts': 0 is not in the range 1<=x<=100000" in \
        result.stderr


def test_without_fastapi_serve_says_what_to_install_and_nothing_else_needs_it():
    code = ("import sys; sys.modules['fastapi'] = None; from nlp_pipeline.cli import main; "
            "assert 'uvicorn' not in sys.modules and 'nlp_pipeline.serve' not in sys.modules; main(['serve'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"error: serve needs FastAPI and uvicorn, which are not installed: {INSTALL}"


def test_connections_of_the_listening_socket_send_at_once():
    """Nagle's algorithm off on every connection (asyncio does it for a socket that says it is TCP): with it on,
    each answer on a kept-alive connection waited ~40 ms for the client's delayed ACK."""
    import asyncio

    from nlp_pipeline.serve.listen import listen, url_of

    async def nodelay_of_a_connection() -> int:
        sock = listen("127.0.0.1", 0)
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport) -> None:
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = int(url_of(sock).rsplit(":", 1)[1])
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(nodelay_of_a_connection()) != 0
