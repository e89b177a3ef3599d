"""A Responses stream read for its end: the whole answer of an upstream that only streams.

CPA answers a non-streaming Responses client of Codex or xAI with the ``response`` object
of the stream's terminal event (``response.completed`` or ``response.incomplete``), as the
executor mended it: its ids and fields are the upstream's own. Here the mending is done
before these bytes arrive, by the attempt's chunk rewriters (the output filled from the
``output_item.done`` events and the usage details, ``providers.codex_stream``; names and
ids given back, ``codex.identity-confuse``, the multi-agent namespace, xAI's repairs), so
:class:`TerminalResponse` only keeps that object. An ``error`` or ``response.failed``
event before it is the stream's failure, read as the translated stream reads it
(:class:`~cliproxy.translate.openai_responses.decode.ResponsesDecoder`: its status, code,
a usage limit's reset); a stream that ends without either was cut (408
``stream_incomplete``).

As CPA reads such a stream, each ``data:`` line is one event, whatever blank lines there
are or not between them, and ``event:`` lines are not read; a line that is not JSON is
skipped. The first end wins: nothing after it is looked at (CPA returns at it).

The cost of a chunk of whole lines none of which may be an end (the text deltas) is four
``bytes.find``: no ``response.completed``, ``response.incomplete``, ``response.failed`` or
``error`` in it. In other chunks only the ``data:`` lines whose type is an end or a failure
are parsed: read at the line's head when ``type`` is its first key (Codex's and xAI's
events), else found by a search of the line (``response.created`` echoes the request and
says ``"error":null``).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from cliproxy.translate import ir
from cliproxy.translate.openai_responses.decode import ResponsesDecoder

__all__ = ["TerminalResponse"]

# what a chunk holding an end has somewhere (its type, an ``error`` key or type)
_COMPLETED = b"response.completed"
_INCOMPLETE = b"response.incomplete"
_FAILED = b"response.failed"
_ERROR = b"error"
# what an end's own line has: its type, quoted (a JSON string, never text inside one)
_COMPLETED_TYPE = b'"response.completed"'
_INCOMPLETE_TYPE = b'"response.incomplete"'
_FAILED_TYPE = b'"response.failed"'
_ERROR_TYPE = re.compile(rb'"type"\s*:\s*"error"')
# an event whose type comes first (Codex's and xAI's all do): read without a search
_TYPE_FIRST = re.compile(rb'\{\s*"type"\s*:\s*"([^"\\]{1,64})"')
_WATCHED = frozenset((b"response.completed", b"response.incomplete", b"response.failed", b"error"))
_ENDS = frozenset(("response.completed", "response.incomplete"))
_FAILURES = frozenset(("response.failed", "error"))


class TerminalResponse:
    """Feed it a stream's chunks, then :meth:`finish`: the terminal event's ``response``,
    or the ``ir.Error`` that ended (or cut) the stream."""

    __slots__ = ("_parts", "error", "response")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # a line begun in earlier chunks
        self.response: dict[str, Any] | None = None
        self.error: ir.Error | None = None

    @property
    def ended(self) -> bool:
        """The stream said its end (an answer or a failure)."""
        return self.response is not None or self.error is not None

    def feed(self, chunk: bytes) -> None:
        if self.response is not None or self.error is not None:
            return
        parts = self._parts
        if (
            not parts
            and chunk.find(_ERROR) < 0
            and chunk.find(_COMPLETED) < 0
            and chunk.find(_INCOMPLETE) < 0
            and chunk.find(_FAILED) < 0
            and chunk.endswith(b"\n")
        ):
            return  # whole lines, none of them an end
        nl = chunk.rfind(b"\n")
        if nl < 0:  # (a long line, an image's base64, comes in many chunks: joined once)
            parts.append(chunk)
            return
        if parts:
            parts.append(chunk[:nl])
            lines = b"".join(parts)
            parts.clear()
        else:
            lines = chunk[:nl]
        if nl + 1 < len(chunk):
            parts.append(chunk[nl + 1 :])
        for line in lines.split(b"\n"):
            if line.startswith(b"data:"):
                self._data(line[5:].strip())
                if self.response is not None or self.error is not None:
                    return

    def finish(self) -> dict[str, Any] | ir.Error:
        """The answer, or what ended the stream without one."""
        if not self.ended and self._parts:  # a last line with no line end after it
            line = b"".join(self._parts)
            self._parts.clear()
            if line.startswith(b"data:"):
                self._data(line[5:].strip())
        if self.response is not None:
            return self.response
        if self.error is not None:
            return self.error
        return ir.Error(
            "upstream stream closed before response.completed",
            status=408,
            type="server_error",
            code="stream_incomplete",
        )

    def _data(self, data: bytes) -> None:
        first = _TYPE_FIRST.match(data)
        if first is not None:
            if first.group(1) not in _WATCHED:
                return
        elif (
            data.find(_COMPLETED_TYPE) < 0
            and data.find(_INCOMPLETE_TYPE) < 0
            and data.find(_FAILED_TYPE) < 0
            and (data.find(_ERROR) < 0 or _ERROR_TYPE.search(data) is None)
        ):
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if type(event) is not dict:
            return
        kind = event.get("type")
        if kind in _ENDS:
            response = event.get("response")
            if type(response) is dict:  # (one without is no answer: CPA's would be empty)
                self.response = response
        elif kind in _FAILURES:
            self.error = _failure(data)


def _failure(data: bytes) -> ir.Error:
    """What the Responses decoder reads of a failure event (its rules, kept in one place)."""
    for ev in ResponsesDecoder().decode(b"data: " + data + b"\n\n"):
        if type(ev) is ir.Error:
            return ev
    return ir.Error("upstream stream failed", status=502, type="server_error")
