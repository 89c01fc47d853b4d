"""Where the server listens, and running it there with uvicorn.

The socket is bound before the models load, so an address in use is one line at once rather than after
seconds of loading, and a port of 0 (a free one) is known before the start-up lines name the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from nlp_pipeline.errors import ConfigError

BACKLOG = 2048  # connections waiting to be accepted (uvicorn's default): a load test opens many at once


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; one that cannot be had is a `ConfigError` naming it.

    Made with the protocol number ``getaddrinfo`` gives (IPPROTO_TCP), not 0: asyncio turns Nagle's algorithm
    off (TCP_NODELAY) only on connections of a socket that says it is TCP, and with Nagle on, every answer on
    a kept-alive connection waited ~40 ms for the client's delayed ACK (measured: 45 ms for /health, 1 ms
    without).
    """
    sock = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
        sock.bind(address)
        sock.listen(BACKLOG)
        return sock
    except (OSError, UnicodeError) as err:
        if sock is not None:
            sock.close()
        raise ConfigError(f"--host/--port: cannot listen on {host}:{port}: {getattr(err, 'strerror', None) or err}") \
            from None


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket (the port it really has when 0 was asked for)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl+C or SIGTERM: requests in flight finish first).

    uvicorn logs warnings and errors only, and no line per request: a log line per request costs more than
    a batched classification of it. What is loaded by then (the models, the libraries) is frozen out of the
    garbage collector's walks first (`freeze_loaded`).
    """
    import uvicorn

    from nlp_pipeline.serve.memory import freeze_loaded

    freeze_loaded()
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
