"""Codex ``web_search_call`` items as Claude's web-search blocks (CPA).

A Responses upstream runs web search itself and reports it as ``web_search_call`` items;
a Claude client knows the same thing as a ``server_tool_use`` block named ``web_search``
followed by its ``web_search_tool_result``. The decoders keep the item whole for the
openai family and add the two Claude blocks next to it (``ServerTool`` of the claude
family), so each client's encoder writes the one its format has and the others drop
both. An item with neither a query nor results (an ``open_page`` step) adds nothing,
and an id seen before adds nothing again.
"""

from __future__ import annotations

from typing import Any

__all__ = ["claude_web_search_blocks"]


def _query(item: dict[str, Any]) -> str:
    for holder in (item.get("action"), item, item.get("input")):
        if isinstance(holder, dict):
            q = holder.get("query")
            if isinstance(q, str) and q.strip():
                return q.strip()
    return ""


def _results(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    results = item.get("results")
    if not isinstance(results, list):
        return None
    out = []
    for r in results:
        url = r.get("url") if isinstance(r, dict) else None
        if isinstance(url, str) and url.strip():
            title = r.get("title") if isinstance(r.get("title"), str) and r["title"].strip() else url
            out.append({"type": "web_search_result", "title": title, "url": url.strip(), "page_age": None})
    return out


def claude_web_search_blocks(item: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    """``[server_tool_use, web_search_tool_result]`` for a web_search_call item, or ``[]``."""
    if item.get("type") != "web_search_call":
        return []
    wid = item.get("id")
    if not isinstance(wid, str) or not wid or wid in seen:
        return []
    query, results = _query(item), _results(item)
    if not query and not results:
        return []
    seen.add(wid)
    use: dict[str, Any] = {"type": "server_tool_use", "id": wid, "name": "web_search", "input": {}}
    if query:
        use["input"] = {"query": query}
    return [use, {"type": "web_search_tool_result", "tool_use_id": wid, "content": results or []}]
