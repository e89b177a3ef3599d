"""What a Responses client may see of an upstream's error: its fields, bounded and redacted.

An upstream's error text reaches the client that made the request, who is not the owner
of the shared credential, and its size is the upstream's choice. Wherever an error goes
into a Responses stream (the HTTP stream's ``error`` / ``response.failed`` events, the
JSON error of a stream request that failed before its first event, the WebSocket's
``error`` event), it is written from these functions, as CPA's Responses stream handler
does (``responsesStreamErrorText``):

- only the error's ``type``, ``code``, ``message`` and ``param`` are kept (an ``error``
  object's, or ``response.error``'s of a ``response.failed``); other members (a
  ``debug`` dump, a trace) are dropped. Unlike CPA, a member whose value is a number or a
  boolean is kept too: no secret hides in one, and Codex reads ``resets_in_seconds`` /
  ``resets_at`` off a usage-limit error;
- every kept string is redacted (:func:`redact`), then cut to :data:`MESSAGE_LIMIT`
  characters (the message) or :data:`FIELD_LIMIT` (the others) with ``…`` at the cut;
- a text that is not JSON is redacted and bounded as the message.

Runs on error paths only: an answer that succeeds never passes through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats.sse import SSEDecoder

__all__ = [
    "BEARER",
    "EVENT_END",
    "FIELD_LIMIT",
    "HOLD_LIMIT",
    "MESSAGE_LIMIT",
    "REDACTED",
    "bound",
    "data_frame",
    "error_event_parts",
    "first_error_event",
    "is_error_payload",
    "payload_lines",
    "redact",
    "safe_error",
    "safe_error_body",
    "safe_payload",
]

MESSAGE_LIMIT = 2048  # characters of an error's message (CPA responsesStreamErrorMessageLimit)
FIELD_LIMIT = 256  # characters of its type, code, param, event name (responsesStreamErrorFieldLimit)
REDACTED = "[REDACTED]"
_CUT = "…"

# a bearer token (8 characters at least: "Bearer or basic auth" is prose); the bytes
# twin is what ``providers.secrets`` scrubs every upstream error body with
_BEARER_SOURCE = r"(?i)\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"
BEARER = re.compile(_BEARER_SOURCE.encode())
_BEARER = re.compile(_BEARER_SOURCE)
# a key-looking name, then ``=`` or ``:``, then its value (CPA responsesStreamSensitiveValuePattern)
_SECRET_VALUE = re.compile(
    r"""(?i)((?:"?(?:api[_-]?key|access[_-]?token|token|authorization|secret)"?)\s*[=:]\s*"?)([^\s"&,;}]+)"""
)
_FIELDS = ("type", "code", "message", "param")
_NUMBERS = (int, float)  # (bool is an int)


def redact(text: str) -> str:
    """``text`` with bearer tokens and ``api_key=`` / ``"token": "..."``-style values
    replaced by ``[REDACTED]``. Bearer tokens go first: CPA runs the key pattern first,
    which turns ``Authorization: Bearer sk-x`` into ``Authorization: [REDACTED] sk-x``."""
    if text.find("earer") >= 0:
        text = _BEARER.sub("Bearer " + REDACTED, text)
    return _SECRET_VALUE.sub(r"\1" + REDACTED, text)


def bound(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ``…`` marking the cut."""
    return text if len(text) <= limit else text[:limit] + _CUT


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        value = orjson.dumps(value).decode()
    return bound(redact(value), limit)


def safe_error(err: Any) -> dict[str, Any]:
    """An upstream's ``error`` member as the client may see it (empty when nothing of it
    may be kept); a bare string is its message."""
    if isinstance(err, str):
        return {"message": bound(redact(err), MESSAGE_LIMIT)} if err.strip() else {}
    if not isinstance(err, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in err.items():
        if key in _FIELDS:
            if value is not None:
                out[key] = _text(value, MESSAGE_LIMIT if key == "message" else FIELD_LIMIT)
        elif isinstance(value, _NUMBERS) and isinstance(key, str) and len(key) <= FIELD_LIMIT:
            out[key] = value
    return out


def is_error_payload(obj: dict[str, Any]) -> bool:
    """An event payload that reports a failure (CPA ``responsesSSEPayloadHasError``): a
    non-null ``error`` or ``response.error``, or a top-level ``code`` with a ``message``."""
    if obj.get("error") is not None:
        return True
    response = obj.get("response")
    if isinstance(response, dict) and response.get("error") is not None:
        return True
    return "code" in obj and "message" in obj


def safe_payload(obj: dict[str, Any]) -> dict[str, Any]:
    """An upstream's in-stream error event as the client may see it: its ``type`` (an event
    name, bounded), ``sequence_number``, the HTTP ``status`` a WebSocket error carries and
    its ``headers``; its ``error`` and a ``response``'s ``error`` through :func:`safe_error`;
    a top-level ``code`` / ``message`` / ``param`` bounded; nothing else. A failed
    ``response`` keeps its other members (id, output, usage: the answer's own, as in a
    completion), where CPA rebuilds it as ``status`` and ``error`` only."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "error":
            out[key] = safe_error(value) or {"message": "upstream error"}
        elif key in ("code", "message", "param", "type"):
            if value is not None:
                out[key] = _text(value, MESSAGE_LIMIT if key == "message" else FIELD_LIMIT)
        elif key in ("sequence_number", "status", "status_code"):
            if isinstance(value, int):
                out[key] = value
        elif key == "response" and isinstance(value, dict):
            response = dict(value)
            if response.get("error") is not None:
                response["error"] = safe_error(response["error"]) or {"message": "upstream error"}
            out[key] = response
        elif key == "headers" and isinstance(value, dict):
            out[key] = {
                bound(str(k), FIELD_LIMIT): _text(v, FIELD_LIMIT) for k, v in value.items() if v is not None
            }
    return out


def safe_error_body(body: bytes) -> dict[str, Any]:
    """The ``error`` object of an error answer (``{"error": {...}}``, a failed response's
    ``response.error``, top-level ``code`` / ``message``, or a text that is not JSON: its
    message) as the client may see it; empty when it holds none."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        return safe_error(body.decode("utf-8", "replace").strip())
    err = obj.get("error")
    if err is None:
        response = obj.get("response")
        err = response.get("error") if isinstance(response, dict) else None
    found = safe_error(err)
    return found or safe_error({k: obj[k] for k in ("code", "message", "param") if k in obj})


# ------------------------------------------------------------------ error events in a relayed SSE stream

EVENT_END = re.compile(rb"\r?\n\r?\n")
HOLD_LIMIT = 1 << 20  # an error event held back longer than this ends the stream instead


def first_error_event(out: bytes, rewrite: Callable[[bytes], bytes | None]) -> tuple[int, bytes | None]:
    """The whole SSE events of ``out`` in order until ``rewrite`` answers one (an error
    event, made safe): ``(where it begins, its safe form)``; else ``(where the unfinished
    rest of out begins, None)``. What follows an error event is never relayed."""
    pos = 0
    for m in EVENT_END.finditer(out):
        safe = rewrite(out[pos : m.start()])
        if safe is not None:
            return pos, safe
        pos = m.end()
    return pos, None


def error_event_parts(event: bytes) -> tuple[bytes, str, list[bytes]] | None:
    """One SSE event (no blank line): what precedes its first ``data:`` line (the end of a
    line an earlier read began, which the client already has in part; an ``event:`` line,
    bounded and redacted), the event's name and its data lines' values; ``None`` without a
    data line."""
    if event.startswith(b"data:"):
        at = 0
    else:
        at = event.find(b"\ndata:") + 1
        if not at:
            return None
    head, name = event[:at], ""
    data = [line[5:].strip() for line in event[at:].splitlines() if line.startswith(b"data:")]
    if head.startswith(b"event:"):
        end = head.find(b"\n")
        name = head[6:end].strip().decode("utf-8", "replace")
        head = b"event: " + bound(redact(name), FIELD_LIMIT).encode() + head[end:]
    return head, name, data


def payload_lines(data: list[bytes]) -> list[bytes]:
    """The payloads of an event's ``data:`` line values (from :func:`error_event_parts`) as
    :class:`~cliproxy.formats.sse.SSEDecoder` reads them, and CPA's executors, which read
    an upstream line by line: a line holding a whole value is a payload of its own (the
    upstream left out the blank line between two frames); one value over several lines
    stays one payload."""
    frame = b"".join([b"data: " + d + b"\n" for d in data])
    return [ev.data for ev in SSEDecoder().decode(frame + b"\n")]


def data_frame(head: bytes, payloads: list[bytes]) -> bytes:
    """An SSE event of ``head`` (its ``event:`` line, if any) and a ``data:`` line for each
    of ``payloads``, with its blank line: the lines of a split event that go out before
    the error it ends with."""
    return head + b"".join([b"data: " + d + b"\n" for d in payloads]) + b"\n"
