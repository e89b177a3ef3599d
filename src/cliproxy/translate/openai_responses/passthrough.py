"""A Responses stream relayed as it is, except its upstream's error events.

Same format in and out (a Codex or Responses upstream, a Responses client): the bytes flow
untouched (:class:`~cliproxy.translate.stream.Passthrough`), but an in-stream error event
(``error``, ``response.failed``, ``response.error``, or any payload with a non-null
``error`` / ``response.error``, or a top-level ``code`` with a ``message``) is written
again with only what the client may see of it (``cliproxy.formats.stream_errors``: the
error's fields bounded and redacted, a ``debug`` dump dropped), and nothing after it goes
out: the failure ends the stream (CPA's ``responsesSSEFramer.repairErrorPayload``). The
event keeps its kind: an ``error`` stays an ``error`` (CPA turns it into ``response.failed``
for Codex clients and the reverse for others). An ``error`` or ``response.failed`` event is
also read as the translated path reads it (``upstream_error``: its status, code and reset, what
cools the credential), the one cost of it being on this error path.

The cost on the success path is an ``endswith`` and two ``bytes.find`` a chunk (``"error"``,
``"code"``, with their quotes: a JSON key or value, never text inside a string, whose quotes
are escaped); only a chunk that has one, or that ends inside an event, is cut into events
and the suspect ones parsed (a ``response.created`` / ``response.completed``, whose
``"error":null`` matches). An event
split across reads whose first part already names an error (its ``event:`` line, its
``type``, an ``error`` object) is held back until it is whole; one whose first part names
nothing yet (``data: {"ty``) went out as it came and cannot be rewritten (the screening is
:mod:`cliproxy.translate.screened`'s).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from cliproxy.formats.stream_errors import error_event_parts, is_error_payload, safe_payload
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder, UsageSniffer
from cliproxy.translate.openai_responses.decode import ResponsesDecoder
from cliproxy.translate.screened import ScreenedPassthrough
from cliproxy.translate.stream import Passthrough

__all__ = ["ResponsesPassthrough"]

_ENDS = (b"\n\n", b"\r\n\r\n")  # a chunk that ends an event (the usual one)
_ERROR_EVENTS = frozenset({"error", "response.failed", "response.error"})
_relay = Passthrough.feed  # (called as a plain function: no ``super()`` per chunk)


def _suspect(data: bytes) -> bool:
    return data.find(b'"error"') >= 0 or data.find(b'"code"') >= 0


class ResponsesPassthrough(ScreenedPassthrough):
    """:class:`~cliproxy.translate.screened.ScreenedPassthrough` for a Responses client,
    with its upstream's error events made safe (see the module). ``scrub`` (optional) also
    runs over a rewritten event's bytes: the credential's own secrets
    (``providers.secrets.without_secrets``)."""

    __slots__ = ("_scrub",)

    def __init__(
        self,
        decoder: StreamDecoder,
        sniffer: UsageSniffer | None = None,
        *,
        scrub: Callable[[bytes], bytes] | None = None,
    ) -> None:
        super().__init__(decoder, sniffer)
        self._scrub = scrub

    def feed(self, chunk: bytes) -> bytes:
        out = _relay(self, chunk)
        if self._tail:
            out, self._tail = self._tail + out, b""
        elif not out or (out.endswith(_ENDS) and out.find(b'"error"') < 0 and out.find(b'"code"') < 0):
            return out  # whole events, none suspect (``_suspect``, inline: per chunk)
        return self._screen(out)

    def _suspect(self, data: bytes) -> bool:
        return _suspect(data)

    def _rewrite(self, event: bytes) -> bytes | None:
        """The safe form of ``event`` (one SSE event, no blank line) when it is an error.
        What comes before its ``data:`` lines stays (the end of a line an earlier chunk
        began, which the client already has in part); an ``event:`` line is bounded."""
        if not _suspect(event):
            return None
        parts = error_event_parts(event)
        if parts is None:
            return None
        head, name, data = parts
        try:
            obj = orjson.loads(b"\n".join(data))
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        kind = obj.get("type")
        if name not in _ERROR_EVENTS and kind not in _ERROR_EVENTS and not is_error_payload(obj):
            return None
        body = orjson.dumps(safe_payload(obj))
        if self._scrub is not None:
            body = self._scrub(body)
        if self.upstream_error is None:  # read from what the client gets: nothing secret is kept
            self.upstream_error = _failure(name, body)
        return head + b"data: " + body + b"\n\n"


def _failure(name: str, data: bytes) -> ir.Error | None:
    """What an upstream's error event says, read by the Responses decoder (status, code,
    a usage limit's reset); ``None`` for an error payload of another kind, which fails no
    credential (CPA's Codex executor fails a stream at ``error`` and ``response.failed``)."""
    head = b"event: " + name.encode() + b"\n" if name else b""
    for ev in ResponsesDecoder().decode(head + b"data: " + data + b"\n\n"):
        if type(ev) is ir.Error:
            return ev
    return None
