"""Streamed Images API answers (``stream: true`` on ``/v1/images/generations`` and
``/v1/images/edits``), from an upstream that streams the Images API itself: the Codex
backend's ``/images/*`` for ``gpt-image-2`` / ``gpt-image-1.5`` (CPA
``executeDirectOpenAIImageStream``) and an ``openai-compatibility`` model marked
``image: true`` (CPA ``streamOpenAICompatImages``). Its ``<prefix>.partial_image`` and
``<prefix>.completed`` events reach the client as they come, byte for byte, as CPA relays
them, with CPA's image stream headers (:data:`SSE_HEADERS`: ``Access-Control-Allow-Origin:
*`` among them). What differs from the upstream's bytes is about failures only:

- an upstream that breaks, or ends, before its first bytes fails over like any upstream
  error (nothing has reached the client yet);
- a read that breaks later ends the stream with CPA's image stream error event
  (``writeImagesStreamErrorEvent``: ``event: error`` and ``{"error": {...}}``), its fields
  bounded and redacted (``cliproxy.formats.stream_errors``); :func:`error_event` writes
  the same for an error that comes after keep-alives committed the 200;
- an upstream's own error event (``event: error``, a payload whose ``type`` is ``error``
  or that carries an ``error``) keeps only what the client may see of it (the same rules,
  the credential's own secrets scrubbed too), and nothing after it goes out. CPA relays
  such an event as it came; its Responses-era image path screened it
  (``TestForwardImagesStreamCancelsWithPayloadError``), and so do we, since the text comes
  from a credential the client does not own.

The check costs one ``bytes.find`` a chunk (``error``, absent from almost every chunk of
base64 image data); a chunk that has it is cut into events and the suspect ones parsed.
An error event split across reads whose first part names it (its ``event:`` line, its
``type``, an ``error`` object) is held back until whole; one whose first part names
nothing yet went out as it came.

The stream's usage (the ``usage`` of its ``<prefix>.completed`` events: ``input_tokens``,
``output_tokens``, ``total_tokens``, ``input_tokens_details``) is read on the way by
:class:`UsageReader`, one more ``bytes.find`` a chunk (a quote, which base64 never
holds), and handed to the request's record (``StreamReply.read_usage``), as CPA's
``ObserveOpenAIStream`` reads it; no line of image data is kept or parsed for it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.calls import LazyStream, StreamReply
from cliproxy.errors import UpstreamError
from cliproxy.formats import ir
from cliproxy.formats.openai_chat import parse_usage
from cliproxy.formats.stream_errors import (
    HOLD_LIMIT,
    error_event_parts,
    first_error_event,
    safe_error,
    safe_error_body,
    safe_payload,
)

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential

__all__ = ["SSE_HEADERS", "ErrorScreen", "UsageReader", "error_event", "relay"]

# CPA setImagesSSEHeaders (the server's CORS headers for a browser's Origin still win)
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "Access-Control-Allow-Origin": "*",
}
_READ_FAILURES = (TimeoutError, ConnectionError)
_SUSPECT = re.compile(rb'"error"|event: ?error')  # (after a plain ``find(b"error")``)
# an unfinished event that already shows it is an error (``"error":null`` is not one)
_NAMES_ERROR = re.compile(rb'event: ?error\r?\n|"type" ?: ?"error"|"error" ?: ?[{"]')
Scrub = Callable[[bytes], bytes]


async def relay(
    chunks: AsyncIterator[bytes],
    release: Callable[[], None],
    cred: Credential,
    failure: Callable[[BaseException, str], UpstreamError],
    scrub: Scrub | None = None,
) -> StreamReply:
    """An upstream's own Images API stream, its bytes as they come (see the module). The
    first bytes are read here, so an upstream that breaks before sending any still fails
    over (``failure`` makes the read's exception ours); ``scrub`` removes the credential's
    own secrets from an error event the screen rewrites."""
    try:
        first = await anext(chunks, b"")
    except _READ_FAILURES as exc:
        release()
        raise failure(exc, "before the first image event") from exc
    except BaseException:  # the client gone (a cancel): the upstream call ends with it
        release()
        raise
    if not first:
        release()
        raise UpstreamError("upstream stream ended before any content", status=502, credential_id=cred.id)
    screen = ErrorScreen(scrub)
    usage = UsageReader()
    head = screen.feed(first)
    usage.feed(head)
    rest = _Relayed(chunks, screen, usage, release, failure)
    return StreamReply(dict(SSE_HEADERS), head, rest, cred, usage.read)


class _Relayed(LazyStream):
    """The rest of the stream (:func:`_relayed`, read as it is: no step per chunk), with the
    read failure that broke it off (``failure``), which the request's usage record reads at
    its end: a failed request, as CPA publishes it. An upstream's own error event is relayed
    (screened) as CPA relays it, and stays a success as in CPA."""

    __slots__ = ("_chunks", "_failure", "_release", "_screen", "_usage", "failure")

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        screen: ErrorScreen,
        usage: UsageReader,
        release: Callable[[], None],
        failure: Callable[[BaseException, str], UpstreamError],
    ) -> None:
        super().__init__()
        self._chunks, self._screen, self._usage, self._release = chunks, screen, usage, release
        self._failure = failure
        self.failure: UpstreamError | None = None

    def _pull(self) -> AsyncGenerator[bytes, None]:
        return _relayed(self, self._chunks, self._screen, self._usage, self._release, self._failure)


async def _relayed(
    into: _Relayed,
    chunks: AsyncIterator[bytes],
    screen: ErrorScreen,
    usage: UsageReader,
    release: Callable[[], None],
    failure: Callable[[BaseException, str], UpstreamError],
) -> AsyncGenerator[bytes, None]:
    try:
        if screen.ended:
            return
        async for chunk in chunks:
            if out := screen.feed(chunk):
                usage.feed(out)
                yield out
            if screen.ended:
                return
        if out := screen.finish():
            yield out
    except _READ_FAILURES as exc:
        err = into.failure = failure(exc, "mid-stream")
        # (a frame the upstream left open ends first)
        yield b"\n\n" + _own_error(err.message, err.status)
    finally:
        release()


def error_event(body: bytes) -> bytes:
    """CPA ``writeImagesStreamErrorEvent``: the error answer ``body`` (or a bare message)
    as an ``error`` event whose ``error`` keeps only its ``type`` / ``code`` / ``message``
    / ``param``, bounded and redacted."""
    err = safe_error_body(body) or {"message": "upstream error"}
    return b"event: error\ndata: " + orjson.dumps({"error": err}) + b"\n\n"


def _own_error(message: str, status: int = 502) -> bytes:
    """:func:`error_event` of a failure of ours (a broken read, an unfinished event)."""
    err = {"message": message, "type": "invalid_request_error"}
    if status >= 500:  # (CPA BuildErrorResponseBody)
        err.update(type="server_error", code="internal_server_error")
    return error_event(orjson.dumps({"error": err}))


class ErrorScreen:
    """The upstream's stream as it comes, its first error event made safe and the stream
    ended there (an incremental decoder: ``feed`` / ``finish``; see the module)."""

    __slots__ = ("_scrub", "_tail", "ended")

    def __init__(self, scrub: Scrub | None = None) -> None:
        self._scrub = scrub
        self._tail = b""  # the start of an error event, held until it is whole
        self.ended = False

    def feed(self, chunk: bytes) -> bytes:
        if self.ended:
            return b""
        if self._tail:
            chunk, self._tail = self._tail + chunk, b""
        elif chunk.find(b"error") < 0 or _SUSPECT.search(chunk) is None:
            return chunk
        return self._screen(chunk)

    def finish(self) -> bytes:
        """What is left when the upstream ends: an error event it left without its blank
        line, made safe, or our own error event in place of one that never became whole."""
        tail, self._tail = self._tail, b""
        if self.ended or not tail:
            return b""
        self.ended = True
        safe = self._rewrite(tail.rstrip(b"\r\n"), whole=False)
        return safe if safe is not None else _own_error("upstream stream ended inside an error event")

    def _screen(self, out: bytes) -> bytes:
        """``out`` up to its first error event, which is rewritten (the rest dropped); an
        unfinished error event at its end is held back."""
        pos, safe = first_error_event(out, self._rewrite)
        if safe is not None:
            self.ended = True
            return out[:pos] + safe
        rest = out[pos:]
        if rest and _NAMES_ERROR.search(rest) is not None:
            if len(rest) > HOLD_LIMIT:
                self.ended = True
                return out[:pos] + _own_error("upstream sent an error event too large to relay")
            self._tail = rest
            return out[:pos]
        return out

    def _rewrite(self, event: bytes, *, whole: bool = True) -> bytes | None:
        """The safe form of ``event`` (one SSE event, no blank line) when it is an error;
        what comes before its ``data:`` lines stays (the end of a line an earlier read
        began, which the client already has in part), an ``event:`` line bounded. An
        ``error`` event whose data is not JSON keeps its text as the message, unless the
        event is not ``whole`` (the upstream ended inside it: a cut text is not relayed)."""
        if event.find(b"error") < 0:
            return None
        parts = error_event_parts(event)
        if parts is None:
            return None
        head, name, data = parts
        try:
            obj: Any = orjson.loads(b"\n".join(data))
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            if name != "error" or not whole:
                return None  # not JSON and not named an error: not ours to judge
            text = b"\n".join(data).decode("utf-8", "replace")
            body = orjson.dumps({"type": "error", "error": safe_error(text) or {"message": "upstream error"}})
        elif name == "error" or obj.get("type") == "error" or _carries_error(obj):
            body = orjson.dumps(safe_payload(obj))
        else:
            return None
        if self._scrub is not None:
            body = self._scrub(body)
        return head + b"data: " + body + b"\n\n"


def _carries_error(obj: dict[str, Any]) -> bool:
    """A payload with a non-null ``error`` (or a top-level ``code`` and ``message``)."""
    return obj.get("error") is not None or ("code" in obj and "message" in obj)


_USAGE_KEY = b'"usage"'
_KEY_END = len(_USAGE_KEY)
_USAGE_LIMIT = 1 << 14  # a usage object longer than this (never seen) is not read
_JSON_SPACE = b" \t\r\n"
# the members that make a usage object one (CPA hasOpenAIStyleUsageTokenFields)
_TOKEN_FIELDS = (
    "total_tokens",
    "input_tokens",
    "output_tokens",
    "prompt_tokens",
    "completion_tokens",
    "input_tokens_details",
    "output_tokens_details",
    "prompt_tokens_details",
    "completion_tokens_details",
)


class UsageReader:
    """The usage an Images API stream reports (CPA ``StreamUsageBuffer.ObserveOpenAIStream``):
    its last ``"usage"`` object with token members, whichever event carries it (the
    ``<prefix>.completed`` ones). An incremental decoder: ``feed`` each chunk, ``read`` at
    the end.

    A chunk of image data costs one ``bytes.find`` of a quote, which base64 never holds;
    a chunk with quotes one more for ``"usage"`` (which string content holds only
    escaped) and a look at its last bytes for a name cut at its end. Only the usage object
    itself is parsed, kept across reads until it closes (at most :data:`_USAGE_LIMIT`
    bytes)."""

    __slots__ = ("_edge", "_open", "usage")

    def __init__(self) -> None:
        self._edge = b""  # the end of the last chunk when it is the start of ``"usage"``
        self._open = b""  # from ``"usage"`` on, when its object did not close in that chunk
        self.usage: ir.Usage | None = None

    def read(self) -> ir.Usage | None:
        return self.usage

    def feed(self, chunk: bytes) -> None:
        if self._open:
            chunk, self._open = self._open + chunk, b""
            at = 0
        else:
            if self._edge:  # a name cut at the end of the last chunk
                edge, self._edge = self._edge, b""
                rest = _USAGE_KEY[len(edge) :]
                if chunk.startswith(rest):
                    chunk = edge + chunk
                elif rest.startswith(chunk):  # cut again
                    self._edge = edge + chunk
                    return
            at = chunk.find(b'"')  # (a byte base64 never holds: a memchr, far cheaper than the name's find)
            if at < 0:
                return
            at = chunk.find(_USAGE_KEY, at)
        while at >= 0:
            at = self._take(chunk, at)
            if at >= 0:
                at = chunk.find(_USAGE_KEY, at)
        if not self._open:
            quote = chunk.rfind(b'"', len(chunk) - _KEY_END + 1)
            if quote >= 0 and _USAGE_KEY.startswith(chunk[quote:]) and chunk[quote - 1 : quote] != b"\\":
                self._edge = chunk[quote:]

    def _take(self, chunk: bytes, at: int) -> int:
        """Read the usage object of the name at ``at``; where to look on (``-1``: the
        chunk ends inside the object, which is kept for the next read)."""
        end = at + _KEY_END
        if at and chunk[at - 1] == 0x5C:  # ``\"usage\"``: inside a string
            return end
        colon = _skip_space(chunk, end)
        if colon < len(chunk) and chunk[colon] != 0x3A:
            return end  # a string "usage", not a member name
        brace = _skip_space(chunk, colon + 1)
        if brace < len(chunk) and chunk[brace] != 0x7B:
            return end  # ``"usage":null`` and the like
        close = brace
        while brace < len(chunk):
            close = chunk.find(b"}", close + 1)
            if close < 0:
                break
            if close - brace > _USAGE_LIMIT:
                return end
            if chunk.count(b"{", brace, close) != chunk.count(b"}", brace, close) + 1:
                continue  # a nested object's end
            try:
                obj = orjson.loads(chunk[brace : close + 1])
            except orjson.JSONDecodeError:
                continue  # a brace inside a string: the object goes on
            if type(obj) is dict and any(k in obj for k in _TOKEN_FIELDS):
                self.usage = parse_usage(obj)  # (the last one wins)
            return close + 1
        if len(chunk) - at <= _USAGE_LIMIT:  # not closed yet: kept for the next read
            self._open = chunk[at:]
        return -1


def _skip_space(data: bytes, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON white space."""
    n = len(data)
    while pos < n and data[pos] in _JSON_SPACE:
        pos += 1
    return pos
