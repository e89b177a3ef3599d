"""A relayed stream whose upstream error events are screened: the machinery they share.

Same format in and out (:class:`~cliproxy.translate.stream.Passthrough`): the bytes flow
untouched, but once a chunk looks suspect (what a subclass's ``feed`` checks, a
``bytes.find`` or two a chunk) it is cut into whole SSE events and each suspect one is
handed to ``_rewrite``; the first that answers (an error event) ends the stream: what it
answers replaces the event and nothing after it goes out. An unfinished event at the end
of a chunk that already names an error (its ``event:`` line, its ``type``, an ``error``
object) is held back until it is whole; so is one that names nothing yet but is still
short (``_hold_unnamed`` bytes at most: a subclass's choice), since the read that ends it
may show it to be an error (``data: {"err`` then ``or": ...``). A client dispatches an
event only at its blank line, so holding it back delays nothing it could use; a longer
one (a large image) flows as it comes. A Responses relay holds every unfinished frame
itself, so it needs neither.

:class:`~cliproxy.translate.openai_responses.passthrough.ResponsesPassthrough` rewrites a
Responses error event into its safe form; :class:`~cliproxy.translate.late_errors.LatePassthrough`
ends a Chat Completions, Claude or Gemini stream at its upstream's error, in the client's
own format.
"""

from __future__ import annotations

import re

from cliproxy.formats.stream_errors import HOLD_LIMIT, first_error_event
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder, UsageSniffer
from cliproxy.translate.stream import Passthrough

__all__ = ["NAMES_ERROR", "ScreenedPassthrough"]

# an unfinished event that already shows it is an error: its name, its type, an ``error``
# object or text (``"error":null``, in every ``response.created`` / ``completed``, is not one)
NAMES_ERROR = re.compile(
    rb"event: ?(?:error|response\.failed|response\.error)\r?\n"
    rb'|"type" ?: ?"(?:error|response\.failed|response\.error)"'
    rb'|"error" ?: ?[{"]'
)


class ScreenedPassthrough(Passthrough):
    """:class:`Passthrough` with the screening of the module; a subclass gives ``feed``
    (which calls :meth:`_screen` for a suspect chunk) and ``_rewrite``."""

    __slots__ = ("_tail",)

    # an unfinished event that names nothing yet is held back while it is this short
    _hold_unnamed = 0

    def __init__(self, decoder: StreamDecoder, sniffer: UsageSniffer | None = None) -> None:
        super().__init__(decoder, sniffer)
        self._tail = b""  # the start of an error event, held until it is whole

    def _suspect(self, data: bytes) -> bool:
        raise NotImplementedError

    def _rewrite(self, event: bytes) -> bytes | None:
        """What replaces ``event`` (one SSE event, no blank line) when it is an error
        event (the stream ends there); ``None`` when it is not one."""
        raise NotImplementedError

    def finish(self) -> bytes:
        out = Passthrough.finish(self)
        tail, self._tail = self._tail, b""
        if self.ended:
            return b""
        if not tail and (not out or not self._suspect(out)):
            return out
        screened = self._screen(tail + out + b"\n\n")  # a last event with no blank line after it
        if self.ended:
            return screened
        # the start of an error event that never became a whole one is not relayed (CPA
        # drops a last frame it cannot parse); the stream then ends in our own failure
        if tail and NAMES_ERROR.search(tail) is not None:
            return b""
        return tail + out  # (a last event that names nothing, held back: as it came)

    def _screen(self, out: bytes) -> bytes:
        """``out`` with its first error event rewritten and what follows it dropped; an
        unfinished error event at its end is held back."""
        pos, safe = first_error_event(out, self._rewrite)
        if safe is not None:
            self.ended = True
            return out[:pos] + safe
        rest = out[pos:]
        if rest and NAMES_ERROR.search(rest) is not None:
            if len(rest) > HOLD_LIMIT:
                self.late_error = self.upstream_error = ir.Error(
                    "upstream sent an error event too large to relay", status=502
                )
                self.ended = True
                return out[:pos]
            self._tail = rest
            return out[:pos]
        if rest and len(rest) <= self._hold_unnamed:
            self._tail = rest  # (it may yet be an error: its next read tells)
            return out[:pos]
        return out
