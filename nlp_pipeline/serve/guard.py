"""What every request passes before an endpoint sees it: the API key, then the body's size and encoding.

A plain ASGI middleware, so that it runs before FastAPI reads and parses the body: a request without the key
is a 401 whatever its body, a body over ``serve.max_body_bytes`` is refused (413) as soon as its length is
known (the ``Content-Length`` header, or the bytes received so far) without being read to the end, and bytes
that are not UTF-8 are a 400 naming the first bad byte (FastAPI's own answer would be a generic parse error).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from nlp_pipeline.serve.errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Answered without a key: a load balancer's probe has none, and the web page (``/`` and its files) holds no data;
# it asks for the key and sends it with its requests to /v1/.
OPEN_PATHS = frozenset({"/health", "/"})
STATIC_PREFIX = "/static/"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def presented_key(scope: Scope) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    auth = _header(scope, b"authorization")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = _header(scope, b"x-api-key")
    return key.strip() if key else None


def is_open(path: str) -> bool:
    """Whether ``path`` is answered without the key."""
    return path in OPEN_PATHS or path.startswith(STATIC_PREFIX)


class Guard:
    """Checks the API key (when the server has one) and reads the body within its limit, then passes the
    request on with the body it read."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.api_key is not None and not is_open(scope["path"]):
            given = presented_key(scope)
            if given is None or not hmac.compare_digest(given.encode(), self.api_key.encode()):
                what = "no API key" if given is None else "a wrong API key"
                await error_response(401, "Authorization", f"{what}: send 'Authorization: Bearer KEY' or "
                                     "'X-API-Key: KEY'", headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(int(declared), scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(None, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            await error_response(400, "body", f"the body is not valid UTF-8 (byte {err.start}: "
                                 f"0x{body[err.start]:02x})")(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, size: int | None, scope: Scope, receive: Receive, send: Send) -> None:
        told = f"{size:,} bytes" if size is not None else "more bytes than that"
        await error_response(413, "body", f"the body holds {told}; the limit is {self.max_body_bytes:,} "
                             "(serve.max_body_bytes)", headers={"Connection": "close"})(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the body already read, then what the client sends next (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
