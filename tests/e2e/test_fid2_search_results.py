"""Anthropic search result blocks (``search_result``: a RAG tool's passages, with a source
and a title, that Claude can cite) reaching a model that is not Claude.

A tool whose result is search results (the anthropic SDK's documented RAG pattern), or a
user turn that hands the model search results, lost them on a Codex, Chat Completions or
Gemini upstream: the block was kept only for Claude, so the model read an empty tool output
(``output: []``, ``content: ""``, ``result: ""``) or a question without its passages. CPA
sends such a tool result to Codex as its raw JSON. Now each search result reaches those
models as text (title, source and passages); a Claude upstream still gets the block as sent.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import Scene, ScriptedUpstream, config

RESULT = {
    "type": "search_result",
    "source": "https://docs.example/guide",
    "title": "Install guide",
    "content": [{"type": "text", "text": "Run make install as root."}],
    "citations": {"enabled": True},
}
TOOLS: Any = [{"name": "search_docs", "input_schema": TOOL_SCHEMA}]
PASSAGE = ("Install guide", "https://docs.example/guide", "Run make install as root.")


@pytest.fixture
async def up():
    async with ScriptedUpstream() as u:
        u.scene = Scene(text="ok")
        yield u


def _tool_loop() -> list[Any]:
    return [
        {"role": "user", "content": "How do I install it?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "search_docs", "input": {"command": "x"}}
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [RESULT]}]},
    ]


def _tool_output(model: str, body: dict[str, Any]) -> str:
    if model == "up-codex":
        out = body["input"][-1]
        assert out["type"] == "function_call_output"
        parts = out["output"]
        return parts if isinstance(parts, str) else "\n".join(p["text"] for p in parts)
    if model == "up-chat":
        out = body["messages"][-1]
        assert out["role"] == "tool"
        return str(out["content"])
    return str(body["contents"][-1]["parts"][0]["functionResponse"]["response"]["result"])


def _user_text(model: str, body: dict[str, Any]) -> str:
    if model == "up-codex":
        return "\n".join(p["text"] for p in body["input"][-1]["content"])
    if model == "up-chat":
        content = body["messages"][-1]["content"]
        return content if isinstance(content, str) else "\n".join(p["text"] for p in content)
    return "\n".join(p["text"] for p in body["contents"][-1]["parts"])


@pytest.mark.parametrize("model", ["up-codex", "up-chat", "up-gemini"])
async def test_a_tool_results_search_results_reach_the_model(start_proxy, up, model: str) -> None:
    proxy = await start_proxy(config(up.url, KEY))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model=model, max_tokens=256, messages=_tool_loop(), tools=TOOLS)
    output = _tool_output(model, up.requests[-1])
    assert all(piece in output for piece in PASSAGE), output


@pytest.mark.parametrize("model", ["up-codex", "up-chat", "up-gemini"])
async def test_search_results_in_a_user_turn_reach_the_model(start_proxy, up, model: str) -> None:
    proxy = await start_proxy(config(up.url, KEY))
    messages: Any = [{"role": "user", "content": [RESULT, {"type": "text", "text": "How do I install it?"}]}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model=model, max_tokens=256, messages=messages)
    text = _user_text(model, up.requests[-1])
    assert all(piece in text for piece in PASSAGE), text
    assert text.index("Run make install") < text.index("How do I install it?")


async def test_claude_still_gets_the_block(start_proxy, up) -> None:
    proxy = await start_proxy(config(up.url, KEY))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model="up-claude", max_tokens=256, messages=_tool_loop(), tools=TOOLS)
    assert up.requests[-1]["messages"][-1]["content"][0]["content"] == [RESULT]
