"""Usage of a whole (non-streamed) answer, read from its usage object only.

Cheaper than translating the answer: one JSON parse and the format's own usage reader.
"""

from __future__ import annotations

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


def body_usage(fmt: Any, body: bytes) -> ir.Usage | None:
    """The usage a whole answer of format ``fmt`` reports, or ``None``."""
    reader = _READERS.get(fmt)
    if reader is None or not body:
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
