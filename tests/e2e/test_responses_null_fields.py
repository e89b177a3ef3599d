"""A Responses client's ``"tools": null`` / ``"tool_choice": null`` read as absent on every route.

OpenAI's API takes null for an optional member as "not set", and CPA (gjson) reads a null
``tools`` as no tools; clients built on other languages' JSON libraries send explicit nulls.
Before, a Responses request translated for Claude, Gemini or a Chat Completions upstream
was refused with 400 "tools: expected a list" (or "tool_choice: expected a string or an
object with a type")."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY


@pytest.mark.parametrize("model", ["claude-model", "gemini-model", "compat-model", "codex-model"])
async def test_null_tools_and_tool_choice_are_absent(matrix: Any, model: str) -> None:
    body = {"model": model, "input": "Say hi", "tools": None, "tool_choice": None}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer
    assert answer["object"] == "response" and answer["status"] == "completed"
    assert any(item["type"] == "message" for item in answer["output"])


async def test_a_wrong_tools_type_is_still_a_400(matrix: Any) -> None:
    body = {"model": "claude-model", "input": "Say hi", "tools": "bash"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            answer = await resp.json()
    assert resp.status == 400
    assert answer["error"]["param"] == "tools"


@pytest.mark.parametrize(
    ("path", "model", "extra"),
    [
        ("/v1/chat/completions", "claude-model", {"messages": [{"role": "user", "content": "Say hi"}]}),
        ("/v1/chat/completions", "gemini-model", {"messages": [{"role": "user", "content": "Say hi"}]}),
        (
            "/v1/messages",
            "compat-model",
            {"max_tokens": 64, "messages": [{"role": "user", "content": "Say hi"}]},
        ),
        (
            "/v1/messages",
            "gemini-model",
            {"max_tokens": 64, "messages": [{"role": "user", "content": "Say hi"}]},
        ),
    ],
)
async def test_null_tools_on_chat_and_claude_routes(matrix: Any, path: str, model: str, extra: dict) -> None:
    """The same for Chat Completions and Claude clients translated to another upstream."""
    body = {"model": model, "tools": None, "tool_choice": None, **extra}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}{path}", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer
