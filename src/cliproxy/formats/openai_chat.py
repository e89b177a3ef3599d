"""OpenAI Chat Completions wire constants: framing, stop reasons, usage, errors.

Streams are ``data: <chunk json>\\n\\n`` frames ended by ``data: [DONE]\\n\\n``; an
error after the first byte is one ``data: {"error": {...}}`` frame with no ``[DONE]``
after it. Usage follows OpenAI's totals (``prompt_tokens`` includes cached tokens);
cache writes travel as ``prompt_tokens_details.cache_write_tokens`` (OpenAI's name) and
``cached_creation_tokens`` (CPA's).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats import ir
from cliproxy.formats.sniffer import UsageSniffer
from cliproxy.formats.sse import Held, lines_with

__all__ = [
    "CHUNK_OBJECT",
    "COMPLETION_OBJECT",
    "DONE",
    "DONE_FRAME",
    "FINISH_TO_STOP",
    "STOP_TO_FINISH",
    "ChatUsageSniffer",
    "HiddenUsage",
    "ask_usage",
    "asks_usage",
    "count_tokens_body",
    "error_body",
    "error_type",
    "finish_reason",
    "parse_usage",
    "usage_body",
]

DONE = b"[DONE]"
DONE_FRAME = b"data: [DONE]\n\n"
CHUNK_OBJECT = "chat.completion.chunk"
COMPLETION_OBJECT = "chat.completion"

FINISH_TO_STOP: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}

STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "error": "stop",
}


def finish_reason(stop: str | None, has_tool_calls: bool = False) -> str:
    """The ``finish_reason`` for an IR stop reason. A turn that made tool calls and
    merely "ended" is reported as ``tool_calls``, which is what agent loops look for."""
    if has_tool_calls and stop in (None, "end_turn", "pause_turn"):
        return "tool_calls"
    return STOP_TO_FINISH.get(stop or "end_turn", "stop")


# --------------------------------------------------------------------------- usage

# Fields that name cache writes, by provider: CPA's, OpenRouter's, Anthropic-style, and the
# alias CPA also reads (``cache_creation_tokens``).
_CACHE_WRITE_KEYS = (
    "cached_creation_tokens",
    "cache_write_tokens",
    "cache_creation_input_tokens",
    "cache_creation_tokens",
)
# what OpenAI's own prompt_tokens_details holds (no cache writes to look for)
_OPENAI_PROMPT_DETAILS = frozenset(("cached_tokens", "audio_tokens"))


def parse_usage(u: dict[str, Any]) -> ir.Usage:
    """A Chat Completions ``usage`` object -> IR usage. (Read for every answer: members that
    are mostly absent are tested with ``in``, so they cost no call.)"""
    ptd = u.get("prompt_tokens_details")
    ctd = u.get("completion_tokens_details")
    cache_read = cache_write = reasoning = 0
    if ptd is not None and isinstance(ptd, dict):
        v = ptd.get("cached_tokens")
        cache_read = v if type(v) is int else ir.count_of(v)
        if not ptd.keys() <= _OPENAI_PROMPT_DETAILS:
            for k in _CACHE_WRITE_KEYS:
                if k in ptd:
                    v = ptd[k]
                    cache_write = v if type(v) is int else ir.count_of(v)
                    break
    if not cache_read and "prompt_cache_hit_tokens" in u:  # DeepSeek names it at top level
        v = u["prompt_cache_hit_tokens"]
        cache_read = v if type(v) is int else ir.count_of(v)
    if not cache_write and "cache_creation_input_tokens" in u:
        v = u["cache_creation_input_tokens"]
        cache_write = v if type(v) is int else ir.count_of(v)
    if ctd is not None and isinstance(ctd, dict):
        v = ctd.get("reasoning_tokens")
        reasoning = v if type(v) is int else ir.count_of(v)
    total = u.get("total_tokens")
    inp = u.get("prompt_tokens")
    out = u.get("completion_tokens")
    if inp is None and out is None and ("input_tokens" in u or "output_tokens" in u):
        return _responses_named(u, total)
    return ir.Usage(
        inp if type(inp) is int else ir.count_of(inp),
        out if type(out) is int else ir.count_of(out),
        cache_read,
        cache_write,
        reasoning,
        total if type(total) is int else (ir.count_of(total) or None),
    )


def _responses_named(u: dict[str, Any], total: Any) -> ir.Usage:
    """A Chat Completions ``usage`` spelled with the Responses API's names (``input_tokens``,
    ``input_tokens_details``...), as some OpenAI-compatible upstreams send it; CPA reads
    either spelling."""
    inp, out = u.get("input_tokens"), u.get("output_tokens")
    itd, otd = u.get("input_tokens_details"), u.get("output_tokens_details")
    cache_read = cache_write = reasoning = 0
    if isinstance(itd, dict):
        v = itd.get("cached_tokens")
        cache_read = v if type(v) is int else ir.count_of(v)
        for k in _CACHE_WRITE_KEYS:
            if k in itd:  # (the first name present, as parse_usage reads Chat's details)
                v = itd[k]
                cache_write = v if type(v) is int else ir.count_of(v)
                break
    if isinstance(otd, dict):
        v = otd.get("reasoning_tokens")
        reasoning = v if type(v) is int else ir.count_of(v)
    return ir.Usage(
        inp if type(inp) is int else ir.count_of(inp),
        out if type(out) is int else ir.count_of(out),
        cache_read,
        cache_write,
        reasoning,
        total if type(total) is int else (ir.count_of(total) or None),
    )


def usage_body(u: ir.Usage | None) -> dict[str, Any]:
    """IR usage -> a Chat Completions ``usage`` object (zeros when absent).
    Cache writes, only when there were some, under OpenAI's name (``cache_write_tokens``,
    what the openai SDK reads) and CPA's (``cached_creation_tokens``)."""
    if u is None:
        u = ir.Usage()
    ptd: dict[str, Any] = {"cached_tokens": u.cache_read_tokens}
    if u.cache_write_tokens:
        ptd["cache_write_tokens"] = ptd["cached_creation_tokens"] = u.cache_write_tokens
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens if u.total_tokens is not None else u.input_tokens + u.output_tokens,
        "prompt_tokens_details": ptd,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


class ChatUsageSniffer(UsageSniffer):
    """Reads the last ``usage`` of a passthrough Chat Completions stream.

    Only complete lines that contain ``"usage"`` are parsed; everything else is skipped
    with one ``bytes.find`` per chunk. A line whose every ``"usage"`` is ``"usage":null``
    (what OpenAI sends on each chunk under ``stream_options.include_usage``) is skipped too.
    """

    __slots__ = ("_held", "usage")

    def __init__(self) -> None:
        self._held = Held()  # a line whose end has not come (one too long is forgotten)
        self.usage: ir.Usage | None = None

    def feed(self, chunk: bytes) -> None:
        held = self._held
        if not held.parts and chunk[-1:] == b"\n" and not _names_usage(chunk):  # whole lines, no usage
            return
        nl = chunk.rfind(b"\n")
        if nl < 0:
            held.keep(chunk, drop=True)
            return
        buf = chunk
        if held.parts:
            buf = held.join(chunk)
            nl += len(buf) - len(chunk)
        if nl + 1 < len(buf):
            held.keep(buf[nl + 1 :], drop=True)
        for line in lines_with(buf, b'"usage"', nl):
            if line.startswith(b"data:") and _names_usage(line):
                found = _usage_in(line[5:])
                if found is not None:
                    self.usage = found[0]


def _names_usage(data: bytes) -> bool:
    """Whether ``data`` holds a ``"usage"`` other than ``"usage":null`` (what OpenAI writes
    on each chunk under ``stream_options.include_usage``): one count, two when it does."""
    n = data.count(b'"usage"')
    return n != 0 and n != data.count(b'"usage":null')


def _usage_in(data: bytes) -> tuple[ir.Usage, dict[str, Any]] | None:
    """The usage of one ``data:`` payload and the payload, or None (no usage object, or
    not JSON)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    u = obj.get("usage") if type(obj) is dict else None
    return (parse_usage(u), obj) if type(u) is dict else None


def asks_usage(body: dict[str, Any]) -> bool:
    """Whether a streamed request asks ``stream_options.include_usage``."""
    opts = body.get("stream_options")
    return type(opts) is dict and opts.get("include_usage") is True


def ask_usage(body: dict[str, Any]) -> None:
    """Make a streamed request ask ``stream_options.include_usage`` (as CPA does for
    OpenAI-compatible and Kimi upstreams), so that its stream can be accounted. The
    options are replaced, never changed in place: they may be the client's own."""
    opts = body.get("stream_options")
    if type(opts) is not dict:
        body["stream_options"] = {"include_usage": True}
    elif opts.get("include_usage") is not True:
        body["stream_options"] = {**opts, "include_usage": True}


class HiddenUsage:
    """A Chat Completions stream for a client that did not ask ``include_usage``, from an
    upstream asked for it (``ask_usage``): the chunk that carries only the usage
    (``choices: []``) is taken out of what the client gets, with the blank line that ends
    it, and its usage kept (:meth:`read`); a usage on a chunk that has choices is read and
    the chunk left as it is. ``step`` maps each upstream read, ``tail`` ends the stream:
    a read that ends inside a line keeps that line back until its end arrives, and a
    read of whole lines with no usage in it goes on as it is, after two counts."""

    __slots__ = ("_blank", "_held", "usage")

    def __init__(self) -> None:
        self._held = Held()  # a line whose end has not come (one too long fails the stream)
        self._blank = False  # the next read starts with the blank line of a chunk taken out
        self.usage: ir.Usage | None = None

    def read(self) -> ir.Usage | None:
        return self.usage

    def step(self, chunk: bytes) -> bytes:
        held = self._held
        if not held.parts and not self._blank and chunk[-1:] == b"\n" and not _names_usage(chunk):
            return chunk  # the common read: whole lines, no usage
        nl = chunk.rfind(b"\n")
        if nl < 0:
            held.keep(chunk)
            return b""
        buf = chunk
        if held.parts:
            buf = held.join(chunk)
            nl += len(buf) - len(chunk)
        if nl + 1 < len(buf):
            held.keep(buf[nl + 1 :])
        return self._lines(buf[: nl + 1])

    def tail(self) -> bytes:
        rest = self._held.join(b"")
        return self._lines(rest) if rest else b""

    def _lines(self, text: bytes) -> bytes:
        lines = text.split(b"\n")
        if self._blank:
            self._blank = False
            if lines[0] in (b"", b"\r") and len(lines) > 1:
                del lines[0]
        if not _names_usage(text):
            return b"\n".join(lines)
        out: list[bytes] = []
        skip = False
        last = len(lines) - 1  # (the piece after the last line end: "" for whole lines)
        for i, line in enumerate(lines):
            if skip:
                skip = False
                if line in (b"", b"\r") and i < last:
                    continue
            if line.startswith(b"data:") and _names_usage(line) and self._take(line[5:]):
                # a chunk of the usage alone: out
                if i + 1 < last:
                    skip = True  # its blank line too
                elif i + 1 == last:
                    self._blank = True  # the blank line is in the next read
                continue
            out.append(line)
        return b"\n".join(out)

    def _take(self, data: bytes) -> bool:
        """Reads the usage of one ``data:`` payload; true when the chunk has nothing else."""
        found = _usage_in(data)
        if found is None:
            return False
        self.usage = found[0]
        return not found[1].get("choices")


# --------------------------------------------------------------------------- errors


def error_type(status: int) -> str:
    """OpenAI error ``type`` for an HTTP status (CPA's table)."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(
    message: str, status: int, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """``{"error": {"message", "type", "code"}}``, the in-band and HTTP error shape."""
    return {"error": {"message": message, "type": type_ or error_type(status), "code": code}}


def count_tokens_body(tokens: int) -> dict[str, Any]:
    """Chat Completions has no count endpoint; this is Responses' ``input_tokens`` shape."""
    return {"object": "response.input_tokens", "input_tokens": tokens}
