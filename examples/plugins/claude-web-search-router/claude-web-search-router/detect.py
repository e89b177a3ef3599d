"""Which requests this plugin serves: Claude requests that only ask for a web search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

WEB_SEARCH_TYPES = frozenset({"web_search_20250305", "web_search_20260209"})
CLAUDE_FORMATS = frozenset({"claude", "anthropic"})
QUERY_PREFIX = "Perform a web search for the query:"
_SYSTEM_MARKS = ("web search tool use", "performing a web search")
DEFAULT_MAX_RESULTS = 5


@dataclass(frozen=True, slots=True)
class Search:
    """What to search for."""

    query: str
    max_results: int = DEFAULT_MAX_RESULTS


def parse(body: bytes) -> dict[str, Any]:
    """The request body as a dict ({} when it is not a JSON object)."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def detect(source_format: str, body: dict[str, Any], require_web_search_only: bool = True) -> Search | None:
    """The search a request asks for, or ``None`` when this plugin should not serve it."""
    if source_format.lower() not in CLAUDE_FORMATS:
        return None
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and (t.get("type") or t.get("name"))]
    searches = [t for t in tools if t.get("type") in WEB_SEARCH_TYPES]
    if not searches:
        return None
    only_searches = len(searches) == len(tools)
    if require_web_search_only and not only_searches:
        return None
    if not (only_searches or _claude_code_search(body)):
        return None
    return search_of(body)


def search_of(body: dict[str, Any]) -> Search:
    """The query (Claude Code's prefixed prompt, else the last user text) and max results."""
    texts = [
        _text(m.get("content"))
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    query = next(
        (
            t.strip()[len(QUERY_PREFIX) :].strip()
            for t in reversed(texts)
            if t.strip().startswith(QUERY_PREFIX)
        ),
        "",
    )
    if not query and texts:
        query = texts[-1].strip()
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") in WEB_SEARCH_TYPES]
    tool = tools[0] if tools else {}
    max_uses = tool.get("max_uses")
    return Search(query, max_uses if isinstance(max_uses, int) and max_uses > 0 else DEFAULT_MAX_RESULTS)


def _claude_code_search(body: dict[str, Any]) -> bool:
    """Claude Code's web-search sub-request, recognised by its system prompt or user prompt."""
    system = body.get("system")
    if isinstance(system, str) and _SYSTEM_MARKS[0] in system:
        return True
    if isinstance(system, list):
        for block in system:
            text = block.get("text", "") if isinstance(block, dict) else ""
            if any(mark in text for mark in _SYSTEM_MARKS):
                return True
    return any(
        isinstance(m, dict) and m.get("role") == "user" and _text(m.get("content")).startswith(QUERY_PREFIX)
        for m in body.get("messages") or []
    )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""
