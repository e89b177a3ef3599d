"""A Claude client's ``tool_choice.disable_parallel_tool_use: null`` says nothing about
parallel calls: null is "not set" in Anthropic's API. Before, it was read as "not disabled",
so a Chat Completions upstream got ``parallel_tool_calls: true`` the client never sent."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA


@pytest.mark.parametrize(("flag", "expected"), [(None, None), (True, False)])
async def test_null_disable_parallel_tool_use_is_not_set(matrix: Any, flag: Any, expected: Any) -> None:
    """No CPA test covers the null; CPA's Claude -> Chat translator sends no
    parallel_tool_calls at all (a true flag reaching Chat as false is our addition)."""
    body = {
        "model": "compat-model",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say hi"}],
        "tools": [{"name": "bash", "input_schema": TOOL_SCHEMA}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": flag},
    }
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{matrix.url}/v1/messages", json=body, headers=headers) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer
    assert matrix.fakes.openai.last.json.get("parallel_tool_calls") == expected
