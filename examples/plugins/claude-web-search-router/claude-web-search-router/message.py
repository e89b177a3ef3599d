"""Claude Messages answers built from search hits, whole and as an SSE stream."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from .tavily import Found

DEFAULT_MODEL = "claude-sonnet-4-6"
INPUT_TOKENS = 85  # a fixed estimate, as CPA reports it
NO_RESULTS = "No web search results were returned."


def build_message(query: str, found: Found, model: str) -> dict[str, Any]:
    """A Claude message: ``server_tool_use``, ``web_search_tool_result`` and ``text``."""
    tool_id = f"srvtoolu_{time.time_ns()}"
    text = _summary(found)
    results = [
        {
            "type": "web_search_result",
            "title": h.title or urlsplit(h.url).hostname or h.url,
            "url": h.url,
            "page_age": None,
            "encrypted_content": "",
        }
        for h in found.hits
    ]
    return {
        "id": f"msg_{time.time_ns():x}",
        "type": "message",
        "role": "assistant",
        "model": model or DEFAULT_MODEL,
        "content": [
            {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": query}},
            {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results},
            {"type": "text", "text": text},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": INPUT_TOKENS,
            "output_tokens": max(1, len(text) // 4),
            "server_tool_use": {"web_search_requests": 1},
        },
    }


def message_events(message: dict[str, Any]) -> bytes:
    """The same message as the Claude SSE events a streaming client expects."""
    tool, result, text = message["content"]
    usage = message["usage"]
    head = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 0},
    }
    events = [
        ("message_start", {"message": head}),
        ("content_block_start", {"index": 0, "content_block": {**tool, "input": {}}}),
        (
            "content_block_delta",
            {"index": 0, "delta": {"type": "input_json_delta", "partial_json": dumps(tool["input"])}},
        ),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": result}),
        ("content_block_stop", {"index": 1}),
        ("content_block_start", {"index": 2, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 2, "delta": {"type": "text_delta", "text": text["text"]}}),
        ("content_block_stop", {"index": 2}),
        (
            "message_delta",
            {
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {
                    "output_tokens": usage["output_tokens"],
                    "server_tool_use": usage["server_tool_use"],
                },
            },
        ),
        ("message_stop", {}),
    ]
    return b"".join(
        f"event: {name}\ndata: {dumps({'type': name, **data})}\n\n".encode() for name, data in events
    )


def dumps(data: Any) -> str:
    """``data`` as compact UTF-8 JSON text, the way Anthropic writes its answers."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _summary(found: Found) -> str:
    if found.answer:
        return found.answer
    if not found.hits:
        return NO_RESULTS
    return "\n\n".join(
        f"{i}. {h.title or h.url}\n{h.url}" + (f"\n{h.snippet}" if h.snippet else "")
        for i, h in enumerate(found.hits, 1)
    )
