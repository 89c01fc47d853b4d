"""Where the server listens, and running it there with uvicorn.

The socket is bound before the models load, so an address in use is one line at once rather than after
seconds of loading, and a port of 0 (a free one) is known before the start-up lines name the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from nlp_pipeline.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; one that cannot be had is a `ConfigError` naming it."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        return socket.create_server(address[:2], family=family)
    except (OSError, UnicodeError) as err:
        raise ConfigError(f"--host/--port: cannot listen on {host}:{port}: {getattr(err, 'strerror', None) or err}") \
            from None


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket (the port it really has when 0 was asked for)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl+C or SIGTERM: requests in flight finish first).

    uvicorn logs warnings and errors only, and no line per request: a log line per request costs more than
    a batched classification of it.
    """
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
