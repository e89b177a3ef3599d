"""The Responses WebSocket upstream's wire shapes (``providers.codex_ws`` holds the
sockets): which requests go over a WebSocket and the upgrade headers they carry, the
``response.create`` message a turn sends, each event as the SSE frame the pipeline
reads, an ``error`` event's status, headers and body (CPA ``parseCodexWebsocketError``),
and the answers made here without the upstream: a refused upgrade, a follow-up whose
socket is gone. Nothing here touches a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import orjson

from cliproxy.credentials.record import Credential, parse_bool
from cliproxy.formats.sse import frame
from cliproxy.providers.identity import codex_uses_api_key
from cliproxy.providers.transport import UpstreamResponse

__all__ = [
    "BETA_HEADER",
    "CONTINUES_HEADER",
    "PREVIOUS_HEADER",
    "SESSION_HEADER",
    "bare_error_event",
    "connection_limited",
    "continuation_lost",
    "create_message",
    "error_body",
    "error_headers",
    "error_status",
    "refused",
    "sse_event",
    "streamed",
    "to_http_url",
    "websocket_preference",
    "websocket_request",
    "websocket_url",
    "websockets_enabled",
]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_SCALARS = (int, float, str)
_CONNECTION_LIMIT = "websocket_connection_limit_reached"

# The internal headers below carry what the Responses WebSocket knows about a turn into
# the pipeline beside the client's own headers. Their names hold a space, which no HTTP
# field name may (RFC 9110 tokens): a client cannot send them over HTTP (llhttp and aiohttp
# refuse the request), so only the WebSocket session, which sets them, ever has them.
# internal: names the downstream socket a request came from; never sent upstream
SESSION_HEADER = "X-Cliproxy Ws-Session"
# internal, never sent upstream: on a client's request, the response id its follow-up
# continues; on an upstream request, that id again (or "-" for a self-contained turn) from
# a provider whose socket keeps the conversation (Codex), so the turn may only go on the
# kept socket that answered it
CONTINUES_HEADER = "X-Cliproxy Ws-Continues"
# internal, never sent upstream: the client's message on the Responses WebSocket named a
# previous_response_id (xAI's reasoning replay then stays out: providers.xai_replay)
PREVIOUS_HEADER = "X-Cliproxy Ws-Previous"
# what the Codex backend wants on a Responses WebSocket upgrade (CPA)
BETA_HEADER = "responses_websockets=2026-02-06"


def websockets_enabled(cred: Credential) -> bool:
    """Whether ``cred`` may use the upstream WebSocket (CPA ``codexWebsocketsEnabled``):
    the ``websockets`` attribute (config keys), else ``websockets`` in the auth file."""
    raw = cred.attributes.get("websockets")
    if raw is not None and str(raw).strip():
        parsed = parse_bool(raw)
        if parsed is not None:
            return parsed
    return parse_bool(cred.metadata.get("websockets")) is True


# the providers whose credentials a Responses WebSocket client is steered to when they
# allow the upstream WebSocket (CPA ``providerPrefersWebsocketTransport``)
_PREFERS_WEBSOCKET = ("codex", "xai")


def websocket_preference(
    headers: Mapping[str, str], providers: Sequence[str]
) -> Callable[[Credential], bool] | None:
    """The credentials to prefer for a request (``Pool.pick``'s ``prefer``): for a client on
    the Responses WebSocket asking Codex or xAI alone, those with ``websockets`` on, as CPA's
    scheduler prefers them across priority tiers; ``None`` for every other request (one
    header lookup is all it costs)."""
    if not headers.get(SESSION_HEADER) or len(providers) != 1 or providers[0] not in _PREFERS_WEBSOCKET:
        return None
    return websockets_enabled


def websocket_url(http_url: str) -> str:
    """``http(s)://`` -> ``ws(s)://``; any other scheme is returned unchanged."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[8:]
    if http_url.startswith("http://"):
        return "ws://" + http_url[7:]
    return http_url


def to_http_url(ws_url: str) -> str:
    """``ws(s)://`` -> ``http(s)://`` (the HTTP/SSE fallback of a ``426`` upgrade)."""
    if ws_url.startswith("wss://"):
        return "https://" + ws_url[6:]
    return "http://" + ws_url[5:] if ws_url.startswith("ws://") else ws_url


# client headers a Codex WebSocket turn carries upstream when the client sent them (CPA)
_CLIENT_WS_HEADERS = (
    "x-codex-turn-state",
    "x-codex-turn-metadata",
    "x-client-request-id",
    "x-responsesapi-include-timing-metrics",
    "version",
)


def websocket_request(
    cred: Credential,
    url: str,
    headers: dict[str, str],
    client_headers: Mapping[str, str],
    beta_features: str = "",
) -> str:
    """The URL of this request: ``url`` unchanged over HTTP/SSE, or its ``ws(s)://`` form
    (and ``headers`` completed for the upgrade) when the client came in over the Responses
    WebSocket and ``cred`` allows it. ``beta_features`` is
    ``codex-header-defaults.beta-features``: sent as ``x-codex-beta-features`` on OAuth
    requests whose client sent none (CPA sends it on WebSocket requests only)."""
    sid = client_headers.get(SESSION_HEADER)
    if not sid or not websockets_enabled(cred):
        return url
    have = {k.lower() for k in headers}
    for name in _CLIENT_WS_HEADERS:  # (one set already, maybe by identity-confuse, stays)
        value = client_headers.get(name)
        if value and value.strip() and name not in have:
            headers[name] = value.strip()
    client_features = (client_headers.get("x-codex-beta-features") or "").strip()
    if "x-codex-beta-features" in have:
        pass  # the client's, already carried
    elif client_features:
        headers["x-codex-beta-features"] = client_features
    elif beta_features and not codex_uses_api_key(cred):
        headers["x-codex-beta-features"] = beta_features
    beta = (client_headers.get("openai-beta") or "").strip()
    headers["OpenAI-Beta"] = beta if "responses_websockets=" in beta else BETA_HEADER
    headers.pop("Accept", None)
    for name in [k for k in headers if k.lower() == "session-id"]:
        # the socket names the session the older way, ``session_id`` alone (CPA
        # ensureCodexWebsocketSessionHeader): the client's ``Session-Id`` goes under it
        value = headers.pop(name).strip()
        if value:
            headers["session_id"] = value
    headers[SESSION_HEADER] = sid
    return websocket_url(url)


def create_message(body: bytes | None) -> bytes:
    """The HTTP body as a ``response.create`` message (CPA ``buildCodexWebsocketRequestBody``)."""
    rest = (body or b"{}").strip()[1:]
    return b'{"type":"response.create"' + (rest if rest.lstrip()[:1] == b"}" else b"," + rest)


def streamed(body: bytes | None) -> bytes | None:
    """A turn's body with ``"stream": true`` for its HTTP/SSE fallback (a body made for the
    socket may leave it out)."""
    if not body or body.find(b'"stream":true') >= 0:
        return body
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(obj, dict):
        return body
    obj["stream"] = True
    return orjson.dumps(obj)


def sse_event(data: bytes, kind: str, obj: dict[str, Any]) -> bytes:
    if kind == "response.done":
        kind = "response.completed"
        data = orjson.dumps({**obj, "type": kind})
    return frame(kind or "message", data)


def error_headers(obj: dict[str, Any]) -> dict[str, str]:
    """The ``headers`` object of an ``error`` event (CPA ``parseCodexWebsocketErrorHeaders``):
    string, number and boolean values, as header strings."""
    raw = obj.get("headers")
    out: dict[str, str] = {}
    if not isinstance(raw, dict):
        return out
    for name, value in raw.items():
        if not isinstance(name, str) or not name.strip():
            continue
        if isinstance(value, bool):
            out[name.strip()] = "true" if value else "false"
        elif isinstance(value, _SCALARS) and str(value).strip():
            out[name.strip()] = str(value).strip()
    return out


def connection_limited(obj: dict[str, Any]) -> bool:
    """An ``error`` event saying the account has too many sockets open (CPA
    ``isCodexWebsocketConnectionLimitError``): a 429 that is no quota, so CPA retries the
    account at once (a retry hint of zero) rather than cooling it."""
    if obj.get("code") == _CONNECTION_LIMIT or obj.get("error") == _CONNECTION_LIMIT:
        return True
    for holder in (obj, obj.get("body")):
        err = holder.get("error") if isinstance(holder, dict) else None
        if isinstance(err, dict) and _CONNECTION_LIMIT in (err.get("code"), err.get("type")):
            return True
    return False


def error_status(obj: dict[str, Any]) -> int:
    """The HTTP status an ``error`` event carries (``status`` or ``status_code``), else 0."""
    return _int(obj.get("status")) or _int(obj.get("status_code"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def bare_error_event(obj: dict[str, Any]) -> dict[str, Any]:
    """xAI's socket may answer with an error that has no ``type`` (``{"status": 403,
    "error": {...}}``, or only ``error``): the ``error`` event it means, its status from
    ``status``, ``status_code``, ``error.code``, ``error.status`` or ``code``, else 400 for
    a request validation message, else 500 (CPA ``parseXAIWebsocketError``)."""
    error = obj["error"]
    nested = error if isinstance(error, dict) else _NO_ERROR
    status = error_status(obj)
    if not status:
        for value in (nested.get("code"), nested.get("status"), obj.get("code")):
            status = _status_number(value)
            if status:
                break
    if not status:
        message = nested.get("message")
        text = message if isinstance(message, str) else ""
        validation = text.find('"code":"400"') >= 0 or text.find("Request validation error") >= 0
        status = 400 if validation else 500
    return {"type": "error", "status": status, "error": error}


_NO_ERROR: dict[str, Any] = {}


def _status_number(value: Any) -> int:
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value.isdigit() and int(value) > 0 else 0
    return _int(value) if _int(value) > 0 else 0


def error_body(obj: dict[str, Any], status: int) -> bytes:
    """CPA ``buildCodexWebsocketErrorPayload``: the error (or ``body.error``) and the status."""
    out: dict[str, Any] = {"status": status}
    body = obj.get("body")
    if body is not None:
        out["body"] = body
        if isinstance(body, dict) and "error" in body:
            out["error"] = body["error"]
            return orjson.dumps(out)
    out["error"] = obj.get("error", {"type": "server_error", "message": f"upstream error {status}"})
    return orjson.dumps(out)


class _Refused:
    """The answer to a refused upgrade: its status, and the upstream's body (a JSON error
    of our own when it sent none)."""

    def __init__(self, status: int, headers: Mapping[str, str] | None, body: bytes = b"") -> None:
        self.status = status
        self.headers: Mapping[str, str] = dict(headers or {})
        if not body.strip():
            message = f"upstream refused the WebSocket upgrade (HTTP {status})"
            body = orjson.dumps({"error": {"message": message, "type": "upstream_error"}})
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    def release(self) -> None:
        return None


def refused(status: int, headers: Mapping[str, str] | None, body: bytes = b"") -> UpstreamResponse:
    """A refused upgrade as an answer the pipeline classifies as it would over HTTP."""
    return _Refused(status, headers, body)


def continuation_lost() -> UpstreamResponse:
    """A follow-up whose socket is gone: Codex's own answer to an unknown
    ``previous_response_id``, so the pipeline sends the whole conversation instead."""
    answer = _Refused(400, None)
    error = {
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
        "message": "the upstream socket holding the previous response is closed",
        "param": "previous_response_id",
    }
    answer._body = orjson.dumps({"error": error})
    return answer
