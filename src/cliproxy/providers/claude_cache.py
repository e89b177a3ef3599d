"""Prompt-cache breakpoints of an upstream Claude request, as CPA settles them.

- :func:`enforce_limit`: Anthropic takes at most 4 ``cache_control`` marks a request
  (cloaking adds its own to the caller's). Excess marks go in order of least value:
  system marks earliest-first but the last, tool marks earliest-first but the last, message
  marks earliest-first, then the last system mark, then the last tool mark.
- :func:`upgrade_ttl`: a cloaked request of a Claude Code credential (OAuth, or
  ``fingerprint-profile: claude-code-cli``) uses the 1h cache pool, paired with the
  ``extended-cache-ttl`` beta: every mark without a ``ttl`` gets ``"1h"``; a ttl the caller
  wrote survives. No mark is created.
- :func:`normalize_ttl`: in evaluation order (tools, system, messages) a 1h mark may not
  follow a 5m one: such marks lose their ``ttl``.

All work in place on the request dict, which the provider owns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_BREAKPOINTS", "enforce_limit", "normalize_ttl", "settle", "upgrade_ttl"]

MAX_BREAKPOINTS = 4


def _blocks(value: Any) -> list[dict[str, Any]]:
    return [b for b in value if isinstance(b, dict)] if isinstance(value, list) else []


def _marked(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if "cache_control" in b]


def _message_blocks(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for msg in _blocks(body.get("messages")):
        yield from _blocks(msg.get("content"))


def _in_order(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every block that may carry a mark, tools then system then messages."""
    yield from _blocks(body.get("tools"))
    yield from _blocks(body.get("system"))
    yield from _message_blocks(body)


def enforce_limit(body: dict[str, Any], limit: int = MAX_BREAKPOINTS) -> None:
    tools = _marked(_blocks(body.get("tools")))
    system = _marked(_blocks(body.get("system")))
    messages = _marked(list(_message_blocks(body)))
    excess = len(tools) + len(system) + len(messages) - limit
    if excess <= 0:
        return
    for group in (system[:-1], tools[:-1], messages, system[-1:], tools[-1:]):
        for block in group:
            if excess <= 0:
                return
            del block["cache_control"]
            excess -= 1


def upgrade_ttl(body: dict[str, Any], ttl: str = "1h") -> None:
    for block in _in_order(body):
        mark = block.get("cache_control")
        if isinstance(mark, dict) and "ttl" not in mark and isinstance(mark.get("type"), str):
            # Claude Code's key order: type, ttl, then any scope
            block["cache_control"] = {"type": mark["type"], "ttl": ttl, **mark}


def normalize_ttl(body: dict[str, Any]) -> None:
    seen_short = False
    for block in _in_order(body):
        if "cache_control" not in block:
            continue
        mark = block["cache_control"]
        if not isinstance(mark, dict) or mark.get("ttl") != "1h":
            seen_short = True
        elif seen_short:
            del mark["ttl"]


def settle(body: dict[str, Any], *, one_hour: bool) -> None:
    """The three steps in CPA's order, on a body about to be sent."""
    enforce_limit(body)
    if one_hour:
        upgrade_ttl(body)
    normalize_ttl(body)
