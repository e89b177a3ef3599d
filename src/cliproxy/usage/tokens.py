"""Usage of a whole (non-streamed) answer, read from its usage object only.

Cheaper than translating the answer: the format's own usage reader on the usage object.
A pass-through answer is not parsed on its way to the client, so its usage is read here:
when the top-level usage object is the answer's last member but for plain scalar ones
(Anthropic's ``usage``, most Chat Completions bodies), only that object is parsed
(:func:`_tail_object`); otherwise the whole body is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.formats import Format, claude, gemini, interactions, ir, openai_chat, openai_responses

__all__ = ["body_usage", "token_tuple"]


def _responses(obj: dict[str, Any]) -> ir.Usage | None:
    u = obj.get("usage")
    if u is None and isinstance(obj.get("response"), dict):
        u = obj["response"].get("usage")
    return openai_responses.usage_from_wire(u) if isinstance(u, dict) else None


def _chat(obj: dict[str, Any]) -> ir.Usage | None:
    u = obj.get("usage")
    return openai_chat.parse_usage(u) if isinstance(u, dict) else None


def _claude(obj: dict[str, Any]) -> ir.Usage | None:
    u = obj.get("usage")
    return claude.usage_from_wire(u) if isinstance(u, dict) else None


def _gemini(obj: dict[str, Any]) -> ir.Usage | None:
    meta = obj.get("usageMetadata")
    if meta is None and isinstance(obj.get("response"), dict):
        meta = obj["response"].get("usageMetadata")
    return gemini.usage_from_metadata(meta) if isinstance(meta, dict) else None


def _interactions(obj: dict[str, Any]) -> ir.Usage | None:
    u = interactions.find_usage(obj)
    return interactions.usage_from_wire(u) if u is not None else None


_READERS = {
    Format.OPENAI: _chat,
    Format.RESPONSES: _responses,
    Format.CODEX: _responses,
    Format.CLAUDE: _claude,
    Format.GEMINI: _gemini,
    Format.INTERACTIONS: _interactions,
}


# the top-level usage key of a format and its reader of that object
_USAGE_KEYS: dict[Format, tuple[bytes, Callable[[dict[str, Any]], ir.Usage]]] = {
    Format.OPENAI: (b'"usage"', openai_chat.parse_usage),
    Format.RESPONSES: (b'"usage"', openai_responses.usage_from_wire),
    Format.CODEX: (b'"usage"', openai_responses.usage_from_wire),
    Format.CLAUDE: (b'"usage"', claude.usage_from_wire),
    Format.GEMINI: (b'"usageMetadata"', gemini.usage_from_metadata),
}
_WS = rb"[ \t\n\r]*"
# plain scalar members (no quote or backslash in their strings), as may follow the usage object
_SCALAR = rb'(?:"[^"\\]*"|-?[0-9][0-9.eE+-]*|true|false|null)'
_SCALAR_MEMBERS = re.compile(
    rb"(?:" + _WS + rb"," + _WS + rb'"[^"\\]*"' + _WS + rb":" + _WS + _SCALAR + rb")*" + _WS
)

# tails the pattern matched lately: an upstream ends its answers alike (OpenAI's
# ``"service_tier"`` and ``"system_fingerprint"``), and a set lookup costs a fifth of the
# match; a tail a set holds is one the pattern matches (nothing else is put in)
_PLAIN_TAILS: set[bytes] = set()
MAX_PLAIN_TAILS = 64
MAX_PLAIN_TAIL = 256  # bytes: a longer tail is matched each time, never kept


def _remember(tail: bytes) -> None:
    if len(tail) <= MAX_PLAIN_TAIL:
        if len(_PLAIN_TAILS) >= MAX_PLAIN_TAILS:  # (answers naming their own ids: a new tail each)
            _PLAIN_TAILS.clear()
        _PLAIN_TAILS.add(tail)


def _tail_object(body: bytes, key: bytes) -> Any:
    """The value of the top-level member ``key`` when it is an object followed only by
    plain scalar members, parsed alone; ``None`` when the body is not laid out that way.

    On a JSON object it is the value a full parse would give: the last ``"key"`` in the
    body (the member a parse keeps) is a member name, not string content, when the byte
    before its quote is no backslash and a colon follows; the text from the ``{`` after
    it to the last ``}`` before the body's closing one parses alone as the value (an
    object has no proper prefix that is one); and nothing but scalar members between
    that value and the body's last ``}`` puts the member in the top-level object."""
    end = len(body) - 1  # the closing brace of the body (no copy when it is the last byte)
    if end < 1 or body[end] != 0x7D:
        end = len(body.rstrip()) - 1
        if end < 1 or body[end] != 0x7D:
            return None
    i = body.rfind(key, 0, end)
    if i <= 0 or body[i - 1] == 0x5C:  # a backslash: maybe inside a string
        return None
    after = i + len(key)
    if body[after] == 0x3A and body[after + 1] == 0x7B:  # compact JSON: no search, no strip
        j = after + 1
    else:
        j = body.find(b"{", after, end)
        if j < 0 or body[after:j].strip(b" \t\n\r") != b":":
            return None
    k = end - 1 if body[end - 1] == 0x7D else body.rfind(b"}", j, end)
    if k < j:
        return None
    if k + 1 < end:  # members after the usage object: plain scalar ones only
        tail = body[k + 1 : end]
        if tail not in _PLAIN_TAILS:
            if _SCALAR_MEMBERS.fullmatch(tail) is None:
                return None
            _remember(tail)
    if body[0] != 0x7B and body.lstrip()[:1] != b"{":  # the body is one object
        return None
    try:
        return orjson.loads(body[j : k + 1])
    except orjson.JSONDecodeError:
        return None


def body_usage(fmt: Any, body: bytes) -> ir.Usage | None:
    """The usage a whole answer of format ``fmt`` reports, or ``None``."""
    if not body:
        return None
    fast = _USAGE_KEYS.get(fmt)
    if fast is not None:
        found = _tail_object(body, fast[0])
        if type(found) is dict:
            try:
                return fast[1](found)
            except (TypeError, ValueError, AttributeError):  # a usage object of the wrong shape
                return None
    reader = _READERS.get(fmt)
    if reader is None:
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return reader(obj)
    except (TypeError, ValueError, AttributeError):  # a usage object of the wrong shape
        return None


def token_tuple(u: ir.Usage | None) -> tuple[int, int, int, int, int, int]:
    """Input, output, cache read, cache write, reasoning and total tokens."""
    if u is None:
        return (0, 0, 0, 0, 0, 0)
    return (
        u.input_tokens,
        u.output_tokens,
        u.cache_read_tokens,
        u.cache_write_tokens,
        u.reasoning_tokens,
        u.total,
    )
