"""Gemini generateContent wire constants: framing, finish reasons, errors, usage.

Streams come in two framings: ``?alt=sse`` gives ``data: <GenerateContentResponse>``
frames with no terminator; without ``alt`` the body is one JSON array written piece by
piece (``[{...}\\n,\\r\\n{...}]``). ``JSONArraySplitter`` cuts the latter into objects as
bytes arrive.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from cliproxy.formats import ir
from cliproxy.formats.sniffer import UsageSniffer
from cliproxy.formats.sse import MAX_EVENT_BYTES, too_large

__all__ = [
    "CONTENT_FILTER_REASONS",
    "DEFAULT_SAFETY_SETTINGS",
    "SKIP_SIGNATURE",
    "GeminiUsageSniffer",
    "JSONArraySplitter",
    "count_tokens_response",
    "error_body",
    "finish_reason_of",
    "stop_reason_of",
    "usage_from_metadata",
    "usage_to_metadata",
]

# Gemini 3 rejects a model turn whose first functionCall has no thoughtSignature; this
# documented sentinel tells it to skip the check (used for calls made by other families).
SKIP_SIGNATURE = "skip_thought_signature_validator"

# What CPA attaches when it translates into Gemini (internal/translator/gemini/common/safety.go).
DEFAULT_SAFETY_SETTINGS: tuple[dict[str, str], ...] = (
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"},
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "OFF"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "OFF"},
    {"category": "HARM_CATEGORY_CIVIC_INTEGRITY", "threshold": "BLOCK_NONE"},
)

CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_FINISH_OF_STOP: dict[str, str] = {
    "end_turn": "STOP",
    "tool_use": "STOP",
    "stop_sequence": "STOP",
    "pause_turn": "STOP",
    "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
    "error": "OTHER",
}


def stop_reason_of(finish: str | None, has_call: bool) -> ir.StopReason | None:
    """IR stop reason of a Gemini ``finishReason`` (any function call wins: tool_use)."""
    if has_call:
        return "tool_use"
    if finish is None:
        return None
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in CONTENT_FILTER_REASONS:
        return "content_filter"
    return "end_turn"


def finish_reason_of(stop: str | None, raw: str | None = None) -> str:
    """Gemini ``finishReason`` for an IR stop reason; ``raw`` (a Gemini value kept from
    the upstream) wins when it maps back to the same stop reason."""
    if raw and stop_reason_of(raw, False) == stop:
        return raw
    return _FINISH_OF_STOP.get(stop or "end_turn", "STOP")


def status_name(code: int) -> str:
    if code in _STATUS_NAMES:
        return _STATUS_NAMES[code]
    return "INTERNAL" if code >= 500 else "INVALID_ARGUMENT"


def error_body(message: str, code: int = 500, status: str | None = None) -> dict[str, Any]:
    """Google's error object: ``{"error": {"code", "message", "status"}}``."""
    return {"error": {"code": code, "message": message, "status": status or status_name(code)}}


def count_tokens_response(tokens: int) -> dict[str, Any]:
    return {"totalTokens": tokens}


def usage_from_metadata(meta: dict[str, Any]) -> ir.Usage:
    """IR usage of a ``usageMetadata``: output includes thoughts, input includes cache and
    the prompt of a tool Gemini ran (``toolUsePromptTokenCount``, counted apart by Google
    and in ``totalTokenCount``, as CPA adds it to the input)."""
    thoughts = meta.get("thoughtsTokenCount") or 0
    total = meta.get("totalTokenCount")
    prompt = meta.get("promptTokenCount") or 0
    out = meta.get("candidatesTokenCount") or 0
    cached = meta.get("cachedContentTokenCount") or 0
    try:  # one test for the usual ints (strings would add up as text, "5" + "2" = "52")
        ints = type(prompt + out + thoughts + cached) is int
    except TypeError:
        ints = False
    if not ints:  # counts written as strings by a gateway ("12"): the numbers, as CPA reads them
        thoughts, prompt, out, cached = map(ir.count_of, (thoughts, prompt, out, cached))
        total = ir.count_of(total) or None
    if "toolUsePromptTokenCount" in meta:
        tool = ir.count_of(meta["toolUsePromptTokenCount"])
        if tool > 0:
            prompt += tool
    return ir.Usage(  # (positional: once per answer and per stream chunk that has usage)
        prompt,
        out + thoughts,
        cached,
        0,
        thoughts,
        total if type(total) is int else (ir.count_of(total) or None),
    )


def usage_to_metadata(usage: ir.Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(usage.output_tokens - usage.reasoning_tokens, 0),
        "totalTokenCount": usage.total_tokens
        if usage.total_tokens is not None
        else usage.input_tokens + usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    return out


# --------------------------------------------------------------------------- array framing

# a whole string, an opening quote whose string does not end in the bytes scanned, a bracket
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|"|[{}\[\]]', re.S)
# the rest of a string whose opening quote came in an earlier piece: up to its closing quote
# (not taken), or to the piece's end (a lone backslash there escapes the next piece's first byte)
_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)


class JSONArraySplitter:
    """Cuts a streamed JSON array (or a bare object) into its top-level objects.

    Each piece is scanned once, from where the last one stopped: whether a string is open
    (and a backslash at the piece's end escaping the next byte) and the nesting depth are
    carried over, so an object of any size costs time in proportion to its bytes (the
    pieces of an unfinished one are kept apart and joined once, when it ends). A regex
    takes whole strings in one step (so braces inside texts do not count). An object may
    hold at most ``sse.MAX_EVENT_BYTES`` (as one SSE event), else ``EventTooLarge``.
    ``closed`` turns true once the array's ``]`` was seen.
    """

    __slots__ = ("_depth", "_escaped", "_held", "_open", "_size", "_string", "closed")

    def __init__(self) -> None:
        self._held: list[bytes] = []  # the current object's bytes from earlier pieces
        self._size = 0  # ... their size
        self._open = False  # an object has begun and not ended
        self._depth = 0  # nesting inside the current object (0: between objects)
        self._string = False  # a string is open at the end of the last piece
        self._escaped = False  # ... and that piece ended with a backslash in it
        self.closed = False

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        end = len(chunk)
        if not end:
            return out
        pos = 0
        start = 0 if self._open else -1  # where the current object starts in ``chunk``
        depth = self._depth
        string = self._string
        if string:  # the rest of a string begun in an earlier piece
            if self._escaped:
                pos, self._escaped = 1, False
            pos = _REST.match(chunk, pos).end()  # type: ignore[union-attr]  # (it matches "")
            if pos < end and chunk[pos] == 0x22:
                string, pos = False, pos + 1
            else:  # the piece ends inside it, maybe on a backslash
                self._escaped = pos < end
                pos = end
        if pos < end:
            for m in _TOKEN.finditer(chunk, pos):
                at = m.start()
                c = chunk[at]
                if c == 0x22:  # "
                    if m.end() - at == 1:  # it goes on in later pieces: so is the rest of this one
                        string = True
                        stop = _REST.match(chunk, at + 1).end()  # type: ignore[union-attr]
                        self._escaped = stop < end  # (stopped by a backslash at the end)
                        break
                elif c == 0x7B or (c == 0x5B and depth):  # { or a nested [
                    if depth == 0:
                        start = at
                    depth += 1
                elif c == 0x7D or (c == 0x5D and depth):  # } or a nested ]
                    depth -= 1
                    if depth == 0:
                        piece = chunk[start : m.end()]
                        if self._held:
                            piece = b"".join((*self._held, piece))
                            self._held, self._size = [], 0
                        out.append(piece)
                        start = -1
                elif c == 0x5D:  # the array's own ]
                    self.closed = True
        self._depth, self._string, self._open = depth, string, start >= 0
        if start >= 0:
            part = chunk[start:] if start else chunk
            self._held.append(part)
            self._size += len(part)
            if self._size > MAX_EVENT_BYTES:  # as an SSE event that does not end
                size, self._held, self._size = self._size, [], 0
                raise too_large(size)
        return out

    def feed_parsed(self, chunk: bytes) -> list[Any]:
        """Like ``feed`` but parsed (``None`` for a piece that is not valid JSON). A chunk
        holding exactly one whole object, the usual case, costs one ``orjson.loads``."""
        if not self._open and not self._string:
            obj = self._whole(chunk)
            if obj is not None:
                return [obj]
        return [_loads(piece) for piece in self.feed(chunk)]

    def _whole(self, chunk: bytes) -> Any:
        first = chunk.find(b"{")
        last = chunk.rfind(b"}")
        if first < 0 or last < first or chunk[:first].strip(_SEPARATORS):
            return None
        tail = chunk[last + 1 :].strip(_SEPARATORS)
        if tail and tail != b"]":
            return None
        try:
            obj = orjson.loads(chunk[first : last + 1])
        except orjson.JSONDecodeError:
            return None  # two objects, or one not finished: the scanner decides
        if tail:
            self.closed = True
        return obj

    @property
    def pending(self) -> bool:
        """True when an object was cut in the middle."""
        return self._open


_SEPARATORS = b" \t\r\n,["


def _loads(piece: bytes) -> Any:
    try:
        return orjson.loads(piece)
    except orjson.JSONDecodeError:
        return None


# --------------------------------------------------------------------------- usage sniffer

_KEY = b'"usageMetadata"'
_BRACES = re.compile(rb"[{}]")
# a usageMetadata object is a few hundred bytes: what follows the key unclosed past this is
# forgotten (held and scanned again on every read, it made a read's cost grow with it)
_USAGE_HOLD = 64 << 10


class GeminiUsageSniffer(UsageSniffer):
    """Keeps the last complete ``usageMetadata`` seen in a passthrough stream (either
    framing). Chunks without the key are only kept as a short tail."""

    __slots__ = ("_buf", "_last")

    def __init__(self) -> None:
        self.usage = None
        self._buf = b""
        self._last = b""  # the bytes of the last usageMetadata read

    def feed(self, chunk: bytes) -> None:
        data = self._buf + chunk if self._buf else chunk
        idx = data.rfind(_KEY)
        if idx < 0:
            self._buf = data[-len(_KEY) :]
            return
        start = data.find(b"{", idx)
        end = _object_end(data, start) if start >= 0 else -1
        if end < 0:
            self._buf = data[idx:] if len(data) - idx <= _USAGE_HOLD else data[-len(_KEY) :]
            return
        raw = data[start:end]
        # Google repeats the usage known so far on every chunk: the same bytes are not read again
        if raw != self._last:
            self._last = raw
            try:
                meta = orjson.loads(raw)
            except orjson.JSONDecodeError:
                meta = None
            if isinstance(meta, dict):
                found = usage_from_metadata(meta)
                # an all-zero placeholder does not replace usage already read (CPA skips it)
                if self.usage is None or found.total or found.input_tokens or found.output_tokens:
                    self.usage = found
        self._buf = data[end:][-len(_KEY) :]


def _object_end(data: bytes, start: int) -> int:
    depth = 0
    for m in _BRACES.finditer(data, start):
        depth += 1 if data[m.start()] == 0x7B else -1
        if depth == 0:
            return m.end()
    return -1
