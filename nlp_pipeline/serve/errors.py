"""Every refusal the API makes has one shape, ``{"error": {"field": ..., "message": one line}}``, and a 4xx status.

A client (the web page, a script) reads one field to show the user what to fix, whatever went wrong: a body
that is not JSON or not UTF-8, a wrong type, an empty or missing field, a limit passed, an unknown word, a
model the server does not hold. FastAPI's own 422 body (a list of pydantic errors) is replaced by the first
error in these words; its 404 and 405 take the same shape. An unexpected exception is a 500 of the same shape
and is logged with its traceback; the server goes on serving.

The limits (`nlp_pipeline.settings.Serve`) are named in the messages as ``serve.<setting>``, the option that
raises them.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlp_pipeline.errors import MAX_MESSAGE, excerpt

log = logging.getLogger(__name__)

# The Serve setting behind a field's upper bound, by field name (texts, words, pairs and queries are all
# bounded by max_texts, every string by max_text_chars).
BOUND_SETTINGS = {"max_tokens": "max_generate_tokens", "topn": "max_topn", "n": "max_map_words"}


class ApiError(Exception):
    """A request the server refuses: its HTTP status, the field at fault, one line saying why."""

    def __init__(self, status: int, field: str | None, message: str, *, suggestions: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = one_line(message)
        self.suggestions = suggestions
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.status, self.field, self.message, suggestions=self.suggestions,
                              headers=self.headers)


def one_line(message: str) -> str:
    """``message`` on one line of at most `MAX_MESSAGE` characters."""
    message = " ".join(str(message).split())
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…"


def error_body(field: str | None, message: str, suggestions: list[str] | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"field": field, "message": one_line(message)}
    if suggestions is not None:
        detail["suggestions"] = suggestions
    return {"error": detail}


def error_response(status: int, field: str | None, message: str, *, suggestions: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(field, message, suggestions), status_code=status, headers=headers)


def field_name(loc: tuple[Any, ...]) -> str:
    """pydantic's location → the field as a client writes it: ``("body", "pairs", 0, 1)`` → ``pairs[0][1]``."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _items(n: int) -> str:
    return f"{n:,} item{'s' if n != 1 else ''}"


def validation_message(error: dict[str, Any]) -> tuple[int, str, str]:
    """``(status, field, message)`` for one of pydantic's errors, in words a client acts on."""
    kind, loc, ctx = error["type"], tuple(error.get("loc", ())), error.get("ctx") or {}
    field = field_name(loc)
    nested = any(isinstance(p, int) for p in loc)  # an item of a list, or a list inside one
    if kind == "json_invalid":
        where = f" at character {loc[1]}" if len(loc) > 1 and isinstance(loc[1], int) else ""
        return 400, "body", f"the body is not valid JSON ({ctx.get('error', 'cannot parse it')}{where})"
    if kind in ("model_attributes_type", "dict_type", "model_type") and field == "body":
        if isinstance(error.get("input"), bytes):  # FastAPI parses JSON only when the request says it is JSON
            return 422, "body", "the body was not sent as JSON: send the header 'Content-Type: application/json'"
        return 422, "body", "the body must be a JSON object"
    if kind == "missing":
        return 422, field, "the body is empty: send a JSON object" if field == "body" else "is required"
    if kind == "extra_forbidden":
        return 422, field, "is not a field of this request (the fields are listed at /docs)"
    if kind == "too_short":
        if ctx.get("min_length") == 1:
            return 422, field, "must not be empty"
        return 422, field, f"holds {_items(ctx.get('actual_length', 0))}; it needs {ctx.get('min_length')}"
    if kind == "too_long":
        n, most = _items(ctx.get("actual_length", 0)), ctx.get("max_length", 0)
        if nested and loc[1] in ("pairs", "queries"):  # a pair, or an analogy's three words
            return 422, field, f"holds {n}; it needs {most}"
        limit = "serve.max_text_chars" if nested else "serve.max_texts"  # a sentence's tokens, or the request's
        return 422, field, f"holds {n}, more than the limit of {most:,} ({limit})"
    if kind == "string_too_short":
        return 422, field, "must not be empty"
    if kind == "string_too_long":
        length = len(error["input"]) if isinstance(error.get("input"), str) else None
        size = f"is {length:,} characters long" if length is not None else "is too long"
        return 422, field, f"{size}, more than the limit of {ctx.get('max_length'):,} (serve.max_text_chars)"
    if kind == "string_unicode":
        return 422, field, "is not valid Unicode (it holds an unpaired surrogate)"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        setting = BOUND_SETTINGS.get(str(loc[-1])) if loc else None
        limit = f" (serve.{setting})" if setting else ""
        return 422, field, (f"must be {'<=' if kind == 'less_than_equal' else '<'} {_number(bound)}{limit}; "
                            f"got {_number(error['input'])}")
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return 422, field, (f"must be {'>=' if kind == 'greater_than_equal' else '>'} {_number(bound)}; "
                            f"got {_number(error['input'])}")
    if kind == "literal_error":
        return 422, field, f"must be one of {ctx.get('expected')}; got {excerpt(repr(error.get('input')))}"
    if kind == "finite_number":
        return 422, field, "must be a finite number"
    words = {"string": "a string", "list": "a list", "int": "an integer", "float": "a number", "bool": "true or false",
             "dict": "a JSON object", "model": "a JSON object"}
    for prefix, what in words.items():
        if kind.startswith(prefix + "_"):
            return 422, field, f"must be {what}; got {excerpt(_json_type(error.get('input')))}"
    message = str(error.get("msg", "is not valid"))
    return 422, field, message.removeprefix("Value error, ")


def _json_type(value: Any) -> str:
    """How a value looked in the request: its JSON type and, for a short scalar, the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return "an array" if isinstance(value, list) else "an object"


def install(app: FastAPI) -> None:
    """The handlers that give every refusal the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        errors = list(err.errors())
        status, field, message = validation_message(errors[0]) if errors else (422, "body", "is not valid")
        return error_response(status, field, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if err.status_code == 404:
            message = f"no endpoint {request.url.path}; the endpoints are listed at /docs"
        elif err.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; the endpoints are listed at /docs"
        else:
            message = str(err.detail)
        return error_response(err.status_code, None, message, headers=getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, None, f"internal error ({type(err).__name__}); the server log has the details")
