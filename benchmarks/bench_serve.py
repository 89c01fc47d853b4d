"""`nlp-pipeline serve` under load: requests/s and latency of /v1/classify and /v1/similar, batched vs
``--no-batching``, against one ``nlp-pipeline predict`` (or ``similar``) process per request; the server's
memory over 100,000 requests.

N clients on this machine (``--clients 1,8,32``), each a kept-alive HTTP/1.1 connection sending its next
request as soon as the previous answer arrives (a closed loop), for ``--seconds`` per row or ``--requests``
answers, whichever comes first, after a short warm-up. A request holds one text (an SST-2 dev sentence) or
one word (among the vectors' frequent words): what a web page or a service sends per user action. The
server is the real command, ``nlp-pipeline serve --model M --vectors V --port 0 --json``, in its own process,
with both models loaded (so each worker gets one torch thread on 2 cores: `torch_threads`). A batched and a
``--no-batching`` server are up side by side and each client level's rows take turns, ``--rounds`` (3) times:
a row is its median round, and the batched/unbatched ratio the median of the rounds' ratios.

The load generator is plain asyncio streams with the requests' bytes encoded in advance, in this process,
which the server shares the machine with: its ceiling is measured against a stub server answering fixed
bytes, and against the real server's ``/health``, and its CPU time is reported next to the server's.

The peer is what a user without a server does: ``nlp-pipeline predict MODEL TEXT --json`` (``similar -v V WORD
--json``), one process per request, ``--processes`` of them in a row.

Memory: the server's VmRSS (``/proc/PID/status``) before any request, after the first 1,000, and after
``--soak-requests`` (100,000), 32 clients alternating classify and similar on a fresh batched server.

    .venv/bin/python benchmarks/bench_serve.py --model 5af7b6507a7d --cache-dir /tmp/bar/cache --vectors V
    .venv/bin/python benchmarks/bench_serve.py --quick     # a few seconds of load: the rows, not the numbers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import os
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SST2_DEV = ROOT.parent / "shared" / "corpora" / "sst2" / "dev.tsv"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
STUB_BODY = json.dumps({"model": "000000000000", "labels": ["negative", "positive"], "results": [
    {"text": "a stub's answer of about the size of a real one", "label": "positive",
     "probabilities": {"negative": 0.1234567, "positive": 0.8765433}}]}).encode()


# -- the load generator --------------------------------------------------------------------------


def http_request(method: str, path: str, body: bytes | None = None) -> bytes:
    """One HTTP/1.1 request's bytes (keep-alive is HTTP/1.1's default)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def json_post(path: str, payload: dict) -> bytes:
    return http_request("POST", path, json.dumps(payload).encode())


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one response with a Content-Length (uvicorn's JSON answers all have one)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError(f"a response without Content-Length: {head[:200]!r}")
    length = int(head[at + 17:head.index(b"\r\n", at + 2)])
    return status, await reader.readexactly(length)


@dataclass
class Load:
    """What one row of load did."""

    clients: int
    requests: int = 0  # answers received in the measured window
    errors: int = 0  # non-200 answers and broken connections, warm-up included
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    client_cpu_s: float = 0.0  # this process (the load generator) during the window
    server_cpu_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The nearest-rank percentile of the latencies, in ms."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


async def _load(host: str, port: int, requests: list[bytes], clients: int, seconds: float, max_requests: int,
                warmup_s: float, server_pid: int | None) -> Load:
    loop = asyncio.get_running_loop()
    result = Load(clients)
    cycle = itertools.cycle(requests)
    state = {"sent": 0}
    start = loop.time()
    measure_from = start + warmup_s
    deadline = measure_from + seconds
    marks: dict[str, float] = {}

    def begin_window() -> None:  # the first client past the warm-up reads the CPU clocks
        if "cpu" not in marks:
            marks["cpu"], marks["server"], marks["t"] = time.process_time(), process_cpu(server_pid), loop.time()

    async def client() -> None:
        reader = writer = None
        while True:
            now = loop.time()
            if now >= deadline or state["sent"] >= max_requests:
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                request = next(cycle)
                t0 = loop.time()
                if t0 >= measure_from:
                    begin_window()
                    state["sent"] += 1
                writer.write(request)
                status, body = await read_response(reader)
                t1 = loop.time()
                if status != 200:
                    result.errors += 1
                    if len(result.error_samples) < 3:
                        result.error_samples.append(f"{status} {body[:200]!r}")
                elif t0 >= measure_from:
                    result.latencies_ms.append((t1 - t0) * 1000)
            except (OSError, asyncio.IncompleteReadError, ValueError) as err:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(repr(err))
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(client() for _ in range(clients)))
    if "cpu" in marks:
        result.seconds = loop.time() - marks["t"]
        result.client_cpu_s = time.process_time() - marks["cpu"]
        result.server_cpu_s = process_cpu(server_pid) - marks["server"]
    result.requests = len(result.latencies_ms)
    return result


def load(url: str, requests: list[bytes], clients: int, seconds: float, max_requests: int, warmup_s: float = 1.0,
         server_pid: int | None = None) -> Load:
    """``clients`` closed-loop clients sending ``requests`` in turn to ``url`` for ``seconds`` (after
    ``warmup_s``) or ``max_requests`` measured answers."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return asyncio.run(_load(host.strip("[]"), int(port), requests, clients, seconds, max_requests, warmup_s,
                             server_pid))


def get_json(url: str, path: str) -> dict:
    async def one() -> dict:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(http_request("GET", path))
        status, body = await read_response(reader)
        writer.close()
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        return json.loads(body)

    return asyncio.run(one())


# -- the stub server: the load generator's ceiling -------------------------------------------------


class _StubProtocol(asyncio.Protocol):
    """Answers every request with the same 200 and a body of a classify answer's size; reads just enough of
    the request (its head and Content-Length bytes) to know where the next one starts."""

    ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
              % len(STUB_BODY)) + STUB_BODY

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            at = self.buffer.lower().find(b"content-length:", 0, end)
            length = int(self.buffer[at + 15:self.buffer.index(b"\r\n", at)]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(self.ANSWER)


def stub_server() -> None:
    """Serve the stub on a free loopback port; print the URL; run until terminated."""
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_StubProtocol, "127.0.0.1", 0, backlog=2048)
        print(json.dumps({"url": f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"}), flush=True)
        await server.serve_forever()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(main())


# -- processes: the server, the stub, the peer ---------------------------------------------------


def cli_command() -> list[str]:
    """How a user runs the tool: the venv's ``nlp-pipeline`` script (else ``python -m nlp_pipeline.cli``)."""
    script = Path(sys.executable).parent / "nlp-pipeline"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nlp_pipeline.cli"]


class Process:
    """A server process started with ``--json``-style output: its first stdout line is a JSON object with its
    URL. Stopped with SIGTERM (its graceful shutdown); `stop_all` stops those still running (an interrupted
    run)."""

    running: list[Process] = []

    def __init__(self, command: list[str], what: str) -> None:
        self.what = what
        Process.running.append(self)
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (open while the process runs; closed by stop)
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=ROOT)
        started = time.perf_counter()
        line = self.proc.stdout.readline()
        self.start_s = time.perf_counter() - started
        if not line:
            self.proc.wait()
            self.log.seek(0)
            raise RuntimeError(f"{what} did not start: {self.log.read().decode(errors='replace')[-2000:]}")
        self.info = json.loads(line)
        self.url = self.info["url"]
        self.pid = self.proc.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def stop(self) -> str:
        """Stop it; what it wrote on stderr (uvicorn's warnings and errors)."""
        if self in Process.running:
            Process.running.remove(self)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")
        self.log.close()
        return text


def start_server(args, batching: bool) -> Process:
    command = [*cli_command(), "serve", "--port", "0", "--json"]
    for option, ref in (("--model", args.model), ("--vectors", args.vectors)):
        if ref:
            command += [option, ref]
    if args.cache_dir:
        command += ["--cache-dir", args.cache_dir]
    command += shlex.split(args.server_args) + ([] if batching else ["--no-batching"])
    return Process(command, f"serve ({'batched' if batching else 'unbatched'})")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) of a running process; 0 without one."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def one_process_per_request(command_of, inputs: list[str], k: int) -> Load:
    """``k`` processes in a row, one input each: a request's latency is its process's wall time."""
    result = Load(clients=1)
    started = time.perf_counter()
    for text in inputs[:k]:
        t0 = time.perf_counter()
        proc = subprocess.run(command_of(text), capture_output=True, text=True, cwd=ROOT)
        ok = proc.returncode == 0 and proc.stdout.strip().startswith("{")
        if ok:
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
        else:
            result.errors += 1
            result.error_samples.append(proc.stderr.strip()[-300:])
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies_ms)
    return result


# -- what else ran -------------------------------------------------------------------------------


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICK


def our_cpu_s() -> float:
    """This process's CPU seconds and those of its children that ended (servers, `predict` processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def process_table() -> dict[int, tuple[str, float]]:
    """pid → (command name, CPU seconds so far) of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text.rsplit(")", 1)[1].split()
        out[int(entry)] = (cmdline[:80] or name, (int(rest[11]) + int(rest[12])) / CLOCK_TICK)
    return out


@dataclass
class Surroundings:
    """The machine while the benchmark ran: load averages, and the CPU that other processes used."""

    started: float = field(default_factory=time.perf_counter)
    load_before: tuple[float, ...] = field(default_factory=os.getloadavg)
    busy_before: float = field(default_factory=machine_busy_s)
    ours_before: float = field(default_factory=our_cpu_s)
    table_before: dict[int, tuple[str, float]] = field(default_factory=process_table)

    def report(self, our_pids: set[int]) -> dict:
        wall = time.perf_counter() - self.started
        others = (machine_busy_s() - self.busy_before) - (our_cpu_s() - self.ours_before)
        after, me = process_table(), os.getpid()
        used = []
        for pid, (name, cpu) in after.items():
            if pid == me or pid in our_pids:
                continue
            spent = cpu - self.table_before.get(pid, (name, 0.0))[1]
            if spent >= 1.0:
                used.append((spent, name))
        used.sort(reverse=True)
        return {"wall_s": wall, "cores": os.cpu_count(), "load_before": list(self.load_before),
                "load_after": list(os.getloadavg()), "others_cpu_s": max(0.0, others),
                "others_cores": max(0.0, others) / wall if wall else 0.0,
                "top_others": [f"{name} ({spent:.0f} CPU-s)" for spent, name in used[:5]]}


# -- the inputs ----------------------------------------------------------------------------------


def sst2_sentences(path: Path, n: int) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r["sentence"].strip() for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return [r for r in rows if r][:n]


def frequent_words(vectors_path: str, n: int, skip: int = 50) -> list[str]:
    """``n`` of the vectors' most frequent alphabetic words after the ``skip`` most frequent (the, of, ...):
    an artifact's ``words.txt`` (most frequent first), else the word2vec file's first rows."""
    path = Path(vectors_path)
    if (path / "words.txt").is_file():
        with open(path / "words.txt", encoding="utf-8") as fh:
            words = [line.split("\t")[0].split(" ")[0] for line in fh]
    else:
        from gensim.models import KeyedVectors

        words = list(KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin",
                                                       limit=10 * (n + skip)).index_to_key)
    alpha = [w for w in words if w.isalpha()]
    return alpha[skip:skip + n] or alpha[:n]


# -- the run -------------------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.2f}"


def fmt_ms(x: float) -> str:
    return "" if x != x else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}")


def row_of(what: str, clients: int | str, result: Load, extra: dict | None = None) -> dict:
    return {"what": what, "clients": clients, "requests": result.requests, "errors": result.errors,
            "seconds": round(result.seconds, 2), "rps": result.rate, "p50": result.percentile(50),
            "p95": result.percentile(95), "p99": result.percentile(99),
            "client_cpu": result.client_cpu_s / result.seconds if result.seconds else 0.0,
            "server_cpu": result.server_cpu_s / result.seconds if result.seconds else 0.0,
            "error_samples": result.error_samples, **(extra or {})}


def stats_delta(url: str, queue: str, before: dict) -> tuple[dict, float | None]:
    after = get_json(url, "/v1/stats")["queues"][queue]
    calls = after["model_calls"] - before.get("model_calls", 0)
    return after, ((after["items"] - before.get("items", 0)) / calls if calls else None)


def endpoint_rows(servers: dict[str, Process], endpoint: str, requests: list[bytes], args, log) -> list[dict]:
    """Per client level, a row per server (``{"batched": ..., "unbatched": ...}``), each run ``args.rounds``
    times in turn: batched, unbatched, batched, ... Both servers stay up, so the ratio compares windows a few
    seconds apart; this machine's speed drifts by 20-30% over minutes, which skewed a ratio of all batched rows
    against all unbatched ones run minutes later. A row is its median round (by requests/s), with every round's
    requests/s; ``vs_unbatched`` is the median of the rounds' ratios."""
    queue = {"classify": "classify", "similar": "vectors"}[endpoint]
    rows: dict[str, list[dict]] = {mode: [] for mode in servers}
    for clients in args.client_levels:
        runs: dict[str, list[dict]] = {mode: [] for mode in servers}
        for _ in range(args.rounds):
            for mode, server in servers.items():
                before = get_json(server.url, "/v1/stats")["queues"][queue]
                result = load(server.url, requests, clients, args.seconds, args.requests, args.warmup, server.pid)
                _, per_call = stats_delta(server.url, queue, before)
                runs[mode].append(row_of(mode, clients, result, {"items_per_call": per_call}))
                log(f"  {endpoint:8} {mode:9} {clients:3} clients: {result.rate:8,.0f} req/s  "
                    f"p99 {result.percentile(99):7.1f} ms  errors {result.errors}  items/call {per_call or 0:.1f}")
        ratios = [b["rps"] / u["rps"] for b, u in zip(runs.get("batched", []), runs.get("unbatched", [])) if u["rps"]]
        for mode, mode_runs in runs.items():
            row = {**sorted(mode_runs, key=lambda r: r["rps"])[len(mode_runs) // 2],
                   "rounds_rps": [r["rps"] for r in mode_runs],
                   "errors": sum(r["errors"] for r in mode_runs),
                   "error_samples": [e for r in mode_runs for e in r["error_samples"]][:3]}
            if mode == "batched" and ratios:
                row["vs_unbatched"] = statistics.median(ratios)
                row["round_ratios"] = ratios
            rows[mode].append(row)
    return [row for mode_rows in rows.values() for row in mode_rows]


def run(args, log=print) -> dict:
    surroundings = Surroundings()
    our_pids: set[int] = set()
    texts = sst2_sentences(Path(args.texts), 872)
    classify = [json_post("/v1/classify", {"texts": [t]}) for t in texts]
    results: dict = {"date": time.strftime("%Y-%m-%d"), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                     "cores": os.cpu_count(), "clients": args.client_levels, "seconds": args.seconds,
                     "max_requests": args.requests, "texts": len(texts)}
    log(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min) at the start")

    # The load generator's ceiling: a stub that answers fixed bytes, with the same client code.
    stub = Process([sys.executable, __file__, "--stub-server"], "stub server")
    our_pids.add(stub.pid)
    ceiling = []
    for clients in sorted({1, max(args.client_levels)}):
        result = load(stub.url, classify, clients, args.seconds, args.requests * 4, args.warmup, stub.pid)
        ceiling.append(row_of("stub server (fixed answer)", clients, result))
    stub.stop()

    # Batched: a fresh server; memory before the load, after the first 1,000 requests, after the soak.
    server = start_server(args, batching=True)
    our_pids.add(server.pid)
    results["server"] = {"torch_threads": server.info.get("torch_threads"), "start_s": round(server.start_s, 1),
                         "models": server.info.get("models"), "settings": server.info.get("settings")}
    vectors_path = next((m["path"] for m in server.info["models"] if m["kind"] == "vectors"), None)
    if vectors_path is None:
        raise SystemExit("the server holds no vectors: give --vectors")
    words = frequent_words(vectors_path, 1000)
    similar = [json_post("/v1/similar", {"words": [w], "topn": 10}) for w in words]
    mixed = [r for pair in zip(classify, similar) for r in pair]
    log(f"server up in {server.start_s:.1f} s, torch threads {server.info.get('torch_threads')}; "
        f"{len(texts)} texts, {len(words)} words")
    rss = {"before": server.rss_mb()}
    soak_clients = max(args.client_levels)
    first = load(server.url, mixed, soak_clients, args.soak_seconds, args.rss_first, 0.0, server.pid)
    rss["after_first"] = server.rss_mb()
    rest = load(server.url, mixed, soak_clients, args.soak_seconds, args.soak_requests - first.requests, 0.0,
                server.pid)
    rss["after_soak"] = server.rss_mb()
    results["memory"] = {**{k: round(v, 1) for k, v in rss.items()}, "first_requests": first.requests,
                         "soak_requests": first.requests + rest.requests, "errors": first.errors + rest.errors,
                         "clients": soak_clients, "soak_rps": round(rest.rate, 1),
                         "growth": rss["after_soak"] / rss["after_first"] - 1}
    log(f"memory: {rss['before']:.0f} MB before, {rss['after_first']:.0f} MB after {first.requests:,} requests, "
        f"{rss['after_soak']:.0f} MB after {first.requests + rest.requests:,} ({rest.rate:,.0f} req/s, "
        f"{first.errors + rest.errors} errors)")
    health = load(server.url, [http_request("GET", "/health")], soak_clients, args.seconds, args.requests * 4,
                  args.warmup, server.pid)
    ceiling.append(row_of("this server's /health", soak_clients, health))
    results["ceiling"] = ceiling
    plain = start_server(args, batching=False)  # up beside the batched one: their rows alternate
    our_pids.add(plain.pid)
    servers = {"batched": server, "unbatched": plain}
    tables: dict[str, list[dict]] = {}
    for endpoint, requests in (("classify", classify), ("similar", similar)):
        tables[endpoint] = endpoint_rows(servers, endpoint, requests, args, log)
    results["server_log"] = (server.stop() + plain.stop())[-2000:]

    # The peer: one process per request.
    base = cli_command()
    cache = ["--cache-dir", args.cache_dir] if args.cache_dir else []
    peers = {"classify": (f"`{Path(base[-1]).name} predict` process per request",
                          lambda text: [*base, "predict", args.model, text, "--json", *cache], texts),
             "similar": (f"`{Path(base[-1]).name} similar` process per request",
                         lambda word: [*base, "similar", "-v", args.vectors, word, "--json", "-n", "10", *cache],
                         words)}
    for endpoint, (what, command_of, inputs) in peers.items():
        result = one_process_per_request(command_of, inputs, args.processes)
        tables[endpoint].append(row_of(what, 1, result))
        log(f"  {endpoint:8} {what}: {result.rate:.3f} req/s ({result.requests} processes)")

    for rows in tables.values():
        peer = rows[-1]["rps"]
        for r in rows:  # vs_unbatched: set by endpoint_rows, from the rounds
            if r["what"] in ("batched", "unbatched") and peer:
                r["vs_process"] = r["rps"] / peer
    results["tables"] = tables
    results["surroundings"] = surroundings.report(our_pids)
    return results


def print_results(results: dict, markdown: bool) -> None:
    from nlp_pipeline.reports.tables import format_table

    def table(headers, rows):
        print(format_table(headers, rows, markdown=markdown))
        print()

    print()
    s = results["server"]
    print(f"{results['date']}, {results['cores']} cores, torch threads per worker {s['torch_threads']}, "
          f"{results['seconds']:g} s (at most {results['max_requests']:,} requests) per row after a "
          f"{results.get('warmup', 1):g} s warm-up; one text or one word per request")
    print(f"command: {results['command']}")
    for m in s["models"]:
        print(f"  {m['kind']}: {m['key'] or '-'} {m['path']}")
    print()
    for endpoint, rows in results["tables"].items():
        print(f"/v1/{endpoint}:")
        table(["server", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "items/call",
               "batched/unbatched", "vs process", "client CPU", "server CPU"],
              [[r["what"], r["clients"], f"{r['requests']:,}", r["errors"], fmt_rate(r["rps"]), fmt_ms(r["p50"]),
                fmt_ms(r["p95"]), fmt_ms(r["p99"]),
                f"{r['items_per_call']:.1f}" if r.get("items_per_call") else "",
                f"{r['vs_unbatched']:.2f}x" if "vs_unbatched" in r else "",
                f"{r['vs_process']:,.0f}x" if "vs_process" in r else "",
                f"{r['client_cpu']:.0%}" if r["client_cpu"] else "",
                f"{r['server_cpu']:.0%}" if r["server_cpu"] else ""] for r in rows])
        rounds = [r for r in rows if len(r.get("round_ratios", [])) > 1]
        for r in rounds:
            plain = next(u for u in rows if u["what"] == "unbatched" and u["clients"] == r["clients"])
            print(f"  {r['clients']} clients, each round: batched {', '.join(fmt_rate(x) for x in r['rounds_rps'])}, "
                  f"unbatched {', '.join(fmt_rate(x) for x in plain['rounds_rps'])} req/s; "
                  f"ratio {', '.join(f'{x:.2f}x' for x in r['round_ratios'])}")
        if rounds:
            print()
    print("The load generator's ceiling (the same client code):")
    table(["target", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms", "client CPU", "server CPU"],
          [[r["what"], r["clients"], f"{r['requests']:,}", r["errors"], fmt_rate(r["rps"]), fmt_ms(r["p50"]),
            fmt_ms(r["p99"]), f"{r['client_cpu']:.0%}", f"{r['server_cpu']:.0%}"] for r in results["ceiling"]])
    m = results["memory"]
    print(f"Server memory (VmRSS, batched, {m['clients']} clients alternating classify and similar):")
    table(["when", "RSS MB"], [["before any request", f"{m['before']:.1f}"],
                               [f"after {m['first_requests']:,} requests", f"{m['after_first']:.1f}"],
                               [f"after {m['soak_requests']:,} requests", f"{m['after_soak']:.1f}"],
                               ["growth from the first to the last", f"{m['growth']:+.1%}"]])
    print(f"soak: {m['soak_rps']:,.0f} req/s, {m['errors']} errors")
    w = results["surroundings"]
    print(f"what else ran: load {w['load_before'][0]:.2f} before, {w['load_after'][0]:.2f} after (1-min average); "
          f"other processes used {w['others_cpu_s']:.0f} CPU-s in {w['wall_s']:.0f} s "
          f"({w['others_cores']:.2f} cores on average)" + (f": {'; '.join(w['top_others'])}" if w["top_others"]
                                                           else ""))
    errors = [(endpoint, r["what"], r["clients"], r["error_samples"]) for endpoint, rows in results["tables"].items()
              for r in rows if r["errors"]]
    for e in errors:
        print(f"errors in {e[0]} {e[1]} {e[2]}: {e[3]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="latest", help="classifier: a folder, a train key prefix or 'latest'")
    p.add_argument("--vectors", default="latest", help="vectors: a word2vec file, embed key prefix, folder, 'latest'")
    p.add_argument("--cache-dir", help="the artifact cache the references are looked up in")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated")
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (after --warmup)")
    p.add_argument("--requests", type=int, default=50_000, help="at most this many measured requests per row")
    p.add_argument("--rounds", type=int,
                   help="each client level's batched and unbatched rows, in turn, this many times; a row is the "
                        "median (default 3; 1 with --quick)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each row's window")
    p.add_argument("--processes", type=int, default=5, help="`predict` / `similar` processes in a row (the peer)")
    p.add_argument("--soak-requests", type=int, default=100_000, help="requests before the last RSS reading")
    p.add_argument("--soak-seconds", type=float, default=900, help="at most this long for the soak's requests")
    p.add_argument("--rss-first", type=int, default=1_000, help="requests before the second RSS reading")
    p.add_argument("--server-args", default="", help="more `serve` options for both servers, e.g. '--threads 2'")
    p.add_argument("--texts", default=str(SST2_DEV), help="SST-2 dev.tsv: the texts to classify")
    p.add_argument("--quick", action="store_true",
                   help="the rows, not the numbers: clients 1,8, 0.5 s a row, 1 process, a 2,000-request soak")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", dest="json_out", metavar="PATH", help="also write every number as JSON here")
    p.add_argument("--stub-server", action="store_true", help=argparse.SUPPRESS)  # internal: the ceiling's stub
    args = p.parse_args()
    if args.stub_server:
        stub_server()
        return
    if args.quick:
        args.clients, args.seconds, args.warmup, args.processes = "1,8", 0.5, 0.2, 1
        args.soak_requests, args.rss_first = min(args.soak_requests, 2_000), min(args.rss_first, 200)
    args.client_levels = [int(c) for c in args.clients.split(",")]
    args.rounds = args.rounds or (1 if args.quick else 3)
    try:
        results = run(args, log=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        for process in list(Process.running):
            process.stop()
    results["warmup"] = args.warmup
    print_results(results, args.markdown)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
