"""What a good answer to a hostile request looks like, per client format.

``check`` accepts exactly two outcomes: a 4xx in the client's own error shape, or a valid
success (a whole JSON answer, or a stream parsed to its terminator with no error event:
the fuzz suite injects no upstream fault, so an in-stream error is the proxy's). It raises
``Finding`` (an AssertionError) with a one-line reason otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.formats import Format
from tests.fuzz.wire import Answer

__all__ = ["SECRETS", "Finding", "Route", "check"]

# the upstream keys in the fuzz config: they must never reach a client or a log line
SECRETS = ("sk-compat-1", "sk-ant-1", "sk-codex-1", "gem-key-1")
MAX_ERROR_BYTES = 8 * 1024  # an error that big is echoing the request back


class Finding(AssertionError):
    """The proxy answered a hostile request in a way the suite does not accept."""


@dataclass(frozen=True, slots=True)
class Route:
    """One client generation route: ``path`` may hold ``{model}`` (Gemini)."""

    name: str
    fmt: Format
    path: str
    kind: str = "generate"  # or "count"
    gemini_stream: bool = False

    def target(self, model: str, query: str = "") -> str:
        return self.path.replace("{model}", model) + (f"?{query}" if query else "")


def check(
    route: Route,
    answer: Answer,
    *,
    streamed: bool | None,
    alt: str | None = None,
    upstream_fault: bool = False,
) -> None:
    """Raise ``Finding`` unless ``answer`` is a clean 4xx or a valid success.

    ``streamed``: whether the body asked for a stream (None: it did not say validly).
    ``upstream_fault``: the upstream was told to fail, so a 429/5xx in the client's error
    shape is fine too, and a stream may end with one in-format error event.
    """
    for secret in SECRETS:
        if secret.encode() in answer.body or secret in answer.raw_head.decode("latin-1"):
            raise Finding(f"an upstream key ({secret[:6]}...) reached the client")
    if 400 <= answer.status < 500 or (upstream_fault and answer.status >= 500):
        if upstream_fault and _upstream_verbatim(answer):
            return  # the upstream's own JSON error, passed through as CPA does (server/errors.py)
        _check_error(route.fmt, answer)
        return
    if answer.status != 200:
        raise Finding(f"status {answer.status} (never a 5xx for a client's bad input): {answer.describe()}")
    if not answer.complete:
        raise Finding(f"the answer ended before its last chunk: {answer.describe()}")
    failed = _check_body(route, answer, streamed, alt)
    if failed and not upstream_fault:
        raise Finding(f"error event in a stream with no upstream fault: {failed}")


def _check_body(route: Route, answer: Answer, streamed: bool | None, alt: str | None) -> str | None:
    """Check a 200 answer; return the text of a final in-stream error event, if any."""
    if route.kind == "count":
        _check_count(route.fmt, _json(answer))
        return None
    stream = route.gemini_stream if route.fmt is Format.GEMINI else streamed is True
    if not stream:
        _check_whole(route.fmt, _json(answer))
        return None
    if route.fmt is Format.GEMINI and alt != "sse":
        return _check_gemini_array(answer)
    if answer.content_type != "text/event-stream":
        raise Finding(f"a stream answered as {answer.content_type!r}: {answer.describe()}")
    return _check_stream(route.fmt, answer)


def _json(answer: Answer) -> Any:
    try:
        return orjson.loads(answer.body)
    except orjson.JSONDecodeError as exc:
        raise Finding(f"HTTP {answer.status} body is not JSON ({exc}): {answer.describe()}") from None


def _upstream_verbatim(answer: Answer) -> bool:
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return False
    return answer.content_type == "application/json" and isinstance(body, dict) and "error" in body


def _check_error(fmt: Format, answer: Answer) -> None:
    if answer.content_type != "application/json":
        raise Finding(f"error not JSON ({answer.content_type!r}): {answer.describe()}")
    body = _json(answer)
    if len(answer.body) > MAX_ERROR_BYTES:
        raise Finding(f"error body of {len(answer.body)} bytes echoes the request: {answer.describe(200)}")
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        raise Finding(f"error not in the {fmt} shape: {answer.describe()}")
    if fmt is Format.CLAUDE:
        ok = body.get("type") == "error" and isinstance(err.get("type"), str)
    elif fmt is Format.GEMINI:
        ok = err.get("code") == answer.status and isinstance(err.get("status"), str)
    else:
        ok = isinstance(err.get("type"), str)
    if not ok:
        raise Finding(f"error not in the {fmt} shape: {answer.describe()}")


def _check_count(fmt: Format, body: Any) -> None:
    key = "totalTokens" if fmt is Format.GEMINI else "input_tokens"
    if not isinstance(body, dict) or not isinstance(body.get(key), int):
        raise Finding(f"count answer without an integer {key}: {str(body)[:300]}")


def _check_whole(fmt: Format, body: Any) -> None:
    if not isinstance(body, dict):
        raise Finding(f"success body is not an object: {str(body)[:300]}")
    if fmt is Format.OPENAI:
        ok = body.get("object") == "chat.completion" and isinstance(body.get("choices"), list)
    elif fmt is Format.RESPONSES:
        ok = body.get("object") == "response" and isinstance(body.get("output"), list)
        ok = ok and body.get("status") in ("completed", "incomplete")
    elif fmt is Format.CLAUDE:
        ok = body.get("type") == "message" and isinstance(body.get("content"), list)
    else:
        ok = isinstance(body.get("candidates"), list)
    if not ok:
        raise Finding(f"{fmt} success body has the wrong shape: {str(body)[:300]}")


def _check_gemini_array(answer: Answer) -> str | None:
    body = _json(answer)
    if not isinstance(body, list) or not body or not all(isinstance(c, dict) for c in body):
        raise Finding(f"Gemini JSON-array stream malformed: {answer.describe()}")
    for index, chunk in enumerate(body):
        if "error" in chunk:
            if index != len(body) - 1:
                raise Finding(f"a Gemini stream goes on after its error chunk: {str(chunk)[:300]}")
            _error_object(Format.GEMINI, chunk)
            return str(chunk)[:300]
    if not any(
        isinstance(c, dict) and c.get("finishReason") for p in body for c in p.get("candidates") or ()
    ):
        raise Finding(f"Gemini JSON-array stream without a finishReason: {answer.describe()}")
    return None


def _error_object(fmt: Format, obj: dict[str, Any]) -> None:
    """An in-stream error event must still say what went wrong, in a shape the client reads."""
    err = obj.get("error")
    response = obj.get("response")
    if not isinstance(err, dict) and isinstance(response, dict):
        err = response.get("error")  # Responses' response.failed
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        raise Finding(f"{fmt} stream error event without an error message: {str(obj)[:300]}")


def sse_events(data: bytes) -> list[tuple[str | None, bytes]]:
    """(event name, data) for each SSE event; data lines joined by newlines."""
    events: list[tuple[str | None, bytes]] = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        name: str | None = None
        lines: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                lines.append(line[5:].removeprefix(b" "))
        if lines:
            events.append((name, b"\n".join(lines)))
    return events


def _check_stream(fmt: Format, answer: Answer) -> str | None:
    events = sse_events(answer.body)
    if not events:
        raise Finding(f"empty stream: {answer.describe()}")
    payloads: list[dict[str, Any]] = []
    for index, (name, data) in enumerate(events):
        if fmt is Format.OPENAI and data == b"[DONE]":
            if index != len(events) - 1:
                raise Finding("[DONE] is not the last event")
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise Finding(f"stream event {index} is not JSON: {data[:200]!r}") from None
        if not isinstance(obj, dict):
            raise Finding(f"stream event {index} is not an object: {data[:200]!r}")
        if "error" in obj or obj.get("type") in ("error", "response.failed") or name == "error":
            rest = [d for _, d in events[index + 1 :] if d != b"[DONE]"]
            if rest:
                raise Finding(
                    f"the stream goes on after its error event: {data[:200]!r} then {rest[0][:100]!r}"
                )
            _error_object(fmt, obj)
            return repr(data[:300])
        payloads.append(obj)
    last = payloads[-1] if payloads else {}
    if fmt is Format.OPENAI:
        done = events[-1][1] == b"[DONE]"
    elif fmt is Format.RESPONSES:
        done = last.get("type") in ("response.completed", "response.incomplete")
    elif fmt is Format.CLAUDE:
        done = last.get("type") == "message_stop"
    else:
        done = any(
            isinstance(c, dict) and c.get("finishReason") for p in payloads for c in p.get("candidates") or ()
        )
    if not done:
        raise Finding(f"{fmt} stream ended without its terminator: last event {str(last)[:300]}")
    return None
