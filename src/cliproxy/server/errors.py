"""Error responses in each client's own shape, with CPA's status-to-type mapping.

This is the one place that turns an error into bytes for a client. OpenAI-style bodies
serve Chat Completions and Responses clients, Claude-style bodies serve Messages
clients and Google-style bodies serve Gemini clients. When an upstream's error body is
JSON in the client's own shape it is passed through verbatim, as CPA does, so a client
sees what the upstream said. An error body in another family's shape (a Claude 400 for a
Gemini client) is re-rendered in the client's shape with the upstream's message and
type: CPA forwards it as it is, which the client's SDK cannot parse.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from cliproxy.errors import CliproxyError, CooldownError, RequestError, UpstreamError, clip
from cliproxy.formats import Format, stream_errors
from cliproxy.formats.claude import error_type_for
from cliproxy.times import format_utc

__all__ = [
    "claude_error_type",
    "error_body",
    "error_response",
    "exception_response",
    "gemini_status",
    "openai_error_type",
    "stream_error_response",
]

_JSON = "application/json"
MESSAGE_LIMIT = 1000  # characters; client-supplied values inside are clipped to 200 where they are made


def openai_error_type(status: int) -> tuple[str, str]:
    """(type, code) for an OpenAI-style error body (CPA ``BuildErrorResponseBody``)."""
    if status == 401:
        return "authentication_error", "invalid_api_key"
    if status == 403:
        return "permission_error", "insufficient_quota"
    if status == 429:
        return "rate_limit_error", "rate_limit_exceeded"
    if status == 404:
        return "invalid_request_error", "model_not_found"
    if status == 501:
        return "invalid_request_error", "not_implemented"
    if status >= 500:
        return "server_error", "internal_server_error"
    return "invalid_request_error", "invalid_request_error"


def claude_error_type(status: int) -> str:
    """Anthropic error type for a status (CPA ``toClaudeError``)."""
    return error_type_for(status)


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_status(status: int) -> str:
    """google.rpc status name for an HTTP status."""
    found = _GEMINI_STATUS.get(status)
    if found:
        return found
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def error_body(
    fmt: Format,
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The error object a client of ``fmt`` expects for ``status``."""
    message = clip(message, MESSAGE_LIMIT)  # whatever a message echoes, the answer stays small
    if extra:
        extra = {k: clip(v) if isinstance(v, str) else v for k, v in extra.items()}
    if fmt is Format.CLAUDE:
        err: dict[str, Any] = {"type": type or claude_error_type(status), "message": message}
        if extra:
            err.update(extra)
        return {"type": "error", "error": err}
    if fmt is Format.GEMINI:
        gerr: dict[str, Any] = {"code": status, "message": message, "status": gemini_status(status)}
        if extra:
            gerr.update(extra)
        return {"error": gerr}
    etype, ecode = openai_error_type(status)
    oerr: dict[str, Any] = {"message": message, "type": type or etype, "code": code or ecode}
    if param is not None:
        oerr["param"] = param
    if extra:
        oerr.update(extra)
    return {"error": oerr}


def error_response(
    fmt: Format, status: int, message: str, *, headers: dict[str, str] | None = None, **kw: Any
) -> web.Response:
    body = orjson.dumps(error_body(fmt, status, message, **kw))
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def _json_object(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        found = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


_CLAUDE_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "overloaded_error",
    }
)


def _family(body: dict[str, Any]) -> Format | None:
    """Which client family's error shape ``body`` has (OPENAI stands for Chat and
    Responses), or None when it is none of the three."""
    err = body.get("error")
    if not isinstance(err, dict):
        return None
    if body.get("type") == "error":
        return Format.CLAUDE
    if isinstance(err.get("status"), str) and isinstance(err.get("code"), int):
        return Format.GEMINI
    if "message" in err:
        return Format.OPENAI
    return None


def _upstream_response(fmt: Format, exc: UpstreamError, headers: dict[str, str]) -> web.Response | None:
    body = _json_object(exc.body)
    if body is None:
        return None
    family = _family(body)
    own = Format.CLAUDE if fmt is Format.CLAUDE else Format.GEMINI if fmt is Format.GEMINI else Format.OPENAI
    if family is None or family is own:
        return web.Response(status=exc.status, body=exc.body, content_type=_JSON, headers=headers)
    err = body["error"]
    message = err.get("message")
    kind = err.get("type") if family is not Format.GEMINI else None
    if fmt is Format.CLAUDE and kind not in _CLAUDE_TYPES:
        kind = None  # an OpenAI-only type (server_error, insufficient_quota) is not Anthropic's
    text = message if isinstance(message, str) and message else exc.message
    return error_response(
        fmt, exc.status, text, headers=headers, type=kind if isinstance(kind, str) else None
    )


def exception_response(fmt: Format, exc: CliproxyError) -> web.Response:
    """Render one of our errors for a client of ``fmt``."""
    own: dict[str, str] | None = getattr(exc, "response_headers", None)  # e.g. a key policy's rate headers
    headers: dict[str, str] = dict(own) if own else {}
    if isinstance(exc, UpstreamError) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(0, int(exc.retry_after + 0.999)))
    if isinstance(exc, CooldownError):
        reset_time = format_utc(time.time() + exc.reset_seconds, "seconds")
        extra: dict[str, Any] = {
            "model": exc.model,
            "reset_time": reset_time,
            "reset_seconds": exc.reset_seconds,
            "provider": exc.provider,
        }
        # the Gemini shape's "code" is the HTTP status: name the reason beside it
        extra["reason" if fmt is Format.GEMINI else "code"] = "model_cooldown"
        return error_response(fmt, 429, exc.message, headers=headers, code="model_cooldown", extra=extra)
    if isinstance(exc, UpstreamError):
        upstream = _upstream_response(fmt, exc, headers)
        if upstream is not None:
            return upstream
    param = exc.param if isinstance(exc, RequestError) else None
    return error_response(
        fmt, exc.status, exc.message, headers=headers, code=exc.code, type=exc.error_type, param=param
    )


def stream_error_response(fmt: Format, exc: CliproxyError) -> web.Response:
    """:func:`exception_response` for a stream request: a Responses client's upstream error
    keeps only its bounded, redacted ``type`` / ``code`` / ``message`` / ``param``
    (``cliproxy.formats.stream_errors``, CPA ``sanitizeResponsesInitialErrorMessage``); an
    error of our own (a cooldown, a bad request) and other formats' are as ever."""
    resp = exception_response(fmt, exc)
    if fmt is not Format.RESPONSES or not isinstance(exc, UpstreamError) or isinstance(exc, CooldownError):
        return resp
    body = resp.body if isinstance(resp.body, bytes) else b""
    err = stream_errors.safe_error_body(body) or stream_errors.safe_error(exc.message)
    kind, code = openai_error_type(exc.status)
    err.setdefault("type", kind)
    err.setdefault("code", code)
    resp.body = orjson.dumps({"error": err})
    return resp
