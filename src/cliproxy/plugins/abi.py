"""The wire contract of CPA plugins: versions, method names, capability flags, envelopes.

These are CPA's exact strings, so plugins built for CPA work unchanged. Every transport
(in-process Python, native C ABI, subprocess) speaks this contract; the host's logic
is written once against it.

Envelope: ``{"ok": bool, "result": <json>, "error": {"code", "message", "retryable",
"http_status"}}``. Keys inside results are decoded case-insensitively (Go does), and
``[]byte`` fields travel as base64 strings.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "ABI_VERSION",
    "CAPABILITY_FLAGS",
    "SCHEMA_VERSION",
    "PluginCrashed",
    "PluginError",
    "b64decode",
    "b64encode",
    "ci_get",
    "decode_envelope",
    "error_envelope",
    "ok_envelope",
]

ABI_VERSION = 1  # shape of the C function tables
SCHEMA_VERSION = 3  # the JSON contract the host sends in plugin.register / plugin.reconfigure

# -- methods (host -> plugin)
PLUGIN_REGISTER = "plugin.register"
PLUGIN_RECONFIGURE = "plugin.reconfigure"
MODEL_REGISTER = "model.register"
MODEL_STATIC = "model.static"
MODEL_FOR_AUTH = "model.for_auth"
MODEL_ROUTE = "model.route"
AUTH_IDENTIFIER = "auth.identifier"
AUTH_PARSE = "auth.parse"
AUTH_LOGIN_START = "auth.login.start"
AUTH_LOGIN_POLL = "auth.login.poll"
AUTH_REFRESH = "auth.refresh"
FRONTEND_AUTH_IDENTIFIER = "frontend_auth.identifier"
FRONTEND_AUTH_AUTHENTICATE = "frontend_auth.authenticate"
SCHEDULER_PICK = "scheduler.pick"
EXECUTOR_IDENTIFIER = "executor.identifier"
EXECUTOR_EXECUTE = "executor.execute"
EXECUTOR_EXECUTE_STREAM = "executor.execute_stream"
EXECUTOR_COUNT_TOKENS = "executor.count_tokens"
EXECUTOR_HTTP_REQUEST = "executor.http_request"
REQUEST_TRANSLATE = "request.translate"
REQUEST_NORMALIZE = "request.normalize"
RESPONSE_TRANSLATE = "response.translate"
RESPONSE_NORMALIZE_BEFORE = "response.normalize_before"
RESPONSE_NORMALIZE_AFTER = "response.normalize_after"
REQUEST_INTERCEPT_BEFORE = "request.intercept_before"
REQUEST_INTERCEPT_AFTER = "request.intercept_after"
REQUEST_COMPLETE = "request.complete"
RESPONSE_INTERCEPT_AFTER = "response.intercept_after"
RESPONSE_INTERCEPT_STREAM_CHUNK = "response.intercept_stream_chunk"
THINKING_IDENTIFIER = "thinking.identifier"
THINKING_APPLY = "thinking.apply"
USAGE_HANDLE = "usage.handle"
COMMAND_LINE_REGISTER = "command_line.register"
COMMAND_LINE_EXECUTE = "command_line.execute"
MANAGEMENT_REGISTER = "management.register"
MANAGEMENT_HANDLE = "management.handle"

# -- methods (plugin -> host)
HOST_HTTP_DO = "host.http.do"
HOST_HTTP_DO_STREAM = "host.http.do_stream"
HOST_HTTP_STREAM_READ = "host.http.stream_read"
HOST_HTTP_STREAM_CLOSE = "host.http.stream_close"
HOST_MODEL_EXECUTE = "host.model.execute"
HOST_MODEL_EXECUTE_STREAM = "host.model.execute_stream"
HOST_MODEL_STREAM_READ = "host.model.stream_read"
HOST_MODEL_STREAM_CLOSE = "host.model.stream_close"
HOST_STREAM_EMIT = "host.stream.emit"
HOST_STREAM_CLOSE = "host.stream.close"
HOST_LOG = "host.log"
HOST_AUTH_LIST = "host.auth.list"
HOST_AUTH_GET = "host.auth.get"
HOST_AUTH_GET_RUNTIME = "host.auth.get_runtime"
HOST_AUTH_SAVE = "host.auth.save"

# capability flags in the registration's "capabilities" object
CAPABILITY_FLAGS = (
    "model_registrar",
    "model_provider",
    "auth_provider",
    "frontend_auth_provider",
    "frontend_auth_provider_exclusive",
    "scheduler",
    "model_router",
    "executor",
    "request_translator",
    "request_normalizer",
    "response_translator",
    "response_before_translator",
    "response_after_translator",
    "request_interceptor",
    "request_lifecycle_plugin",
    "response_interceptor",
    "response_stream_interceptor",
    "thinking_applier",
    "usage_plugin",
    "command_line_plugin",
    "management_api",
)


class PluginError(Exception):
    """A plugin answered with an error envelope. ``http_status`` (when > 0) is the
    status the client sees, as in CPA."""

    def __init__(self, message: str, *, http_status: int = 0, code: str = "") -> None:
        super().__init__(message or "plugin call failed")
        self.message = message or "plugin call failed"
        self.http_status = http_status
        self.code = code


class PluginCrashed(Exception):
    """A plugin broke (an exception, a dead process, an undecodable answer): it is fused."""


def ci_get(obj: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """``obj[key]`` with Go's case-insensitive key matching (exact match first)."""
    if not obj:
        return default
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, v in obj.items():
        if k.lower() == lowered:
            return v
    return default


def b64encode(data: bytes | None) -> str:
    return base64.b64encode(data or b"").decode("ascii")


def b64decode(value: Any) -> bytes:
    """Bytes from a base64 string (Go ``[]byte``); ``None``/empty -> ``b""``."""
    if not value:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    try:
        return base64.b64decode(value)
    except (ValueError, TypeError) as exc:
        raise PluginCrashed(f"invalid base64 in plugin answer: {exc}") from exc


def ok_envelope(result: Any) -> bytes:
    return orjson.dumps({"ok": True, "result": result})


def error_envelope(message: str, code: str = "host_call_failed", http_status: int = 0) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message}
    if http_status:
        err["http_status"] = http_status
    return orjson.dumps({"ok": False, "error": err})


def decode_envelope(body: bytes, method: str = "") -> Any:
    """The ``result`` of an envelope; ``PluginError`` for ``ok: false``; ``PluginCrashed``
    for anything that is not an envelope."""
    if not body or not body.strip():
        raise PluginCrashed(f"plugin call {method} returned an empty body")
    try:
        env = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PluginCrashed(f"plugin call {method} returned invalid JSON: {exc}") from exc
    if not isinstance(env, dict):
        raise PluginCrashed(f"plugin call {method} returned a non-object envelope")
    if ci_get(env, "ok"):
        return ci_get(env, "result")
    err = ci_get(env, "error") or {}
    if not isinstance(err, dict):
        err = {"message": str(err)}
    status = ci_get(err, "http_status", 0)
    raise PluginError(
        str(ci_get(err, "message", "") or "").strip(),
        http_status=status if isinstance(status, int) else 0,
        code=str(ci_get(err, "code", "") or ""),
    )


def is_error_envelope(body: bytes) -> bool:
    """Whether ``body`` is an error envelope (accepted even with rc != 0): ``ok`` false or
    missing (Go's zero value) and an ``error``, an empty object too (CPA)."""
    try:
        env = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(env, dict):
        return False
    ok, err = ci_get(env, "ok"), ci_get(env, "error")
    return (ok is None or ok is False) and (isinstance(err, dict) or bool(err))


def capabilities(result: Mapping[str, Any]) -> dict[str, Any]:
    """The capabilities object of a registration result (case-insensitive)."""
    caps = ci_get(result, "capabilities") or {}
    return caps if isinstance(caps, dict) else {}


def has_any_capability(caps: Mapping[str, Any], names: Iterable[str] = CAPABILITY_FLAGS) -> bool:
    return any(bool(ci_get(caps, n)) for n in names if n != "frontend_auth_provider_exclusive")
