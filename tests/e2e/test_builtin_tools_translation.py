"""CPA test/builtin_tools_translation_test.go, through the proxy with the openai SDK: a
built-in tool (``web_search``) reaches a Responses-family upstream with its settings and a
forced choice of it, and never reaches a Chat Completions upstream, which has no such tool."""

from __future__ import annotations

from typing import Any

import openai

from tests.e2e.clients import KEY


async def test_chat_client_keeps_builtin_tool_and_its_choice_for_codex(matrix: Any) -> None:
    """CPA: TestOpenAIToCodex_PreservesBuiltinTools: the tool with its
    ``search_context_size`` and the forced ``tool_choice`` both reach Codex (the choice was
    dropped, leaving Codex to pick)."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.chat.completions.create(
            model="codex-model",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "web_search", "search_context_size": "high"}],  # type: ignore[list-item]
            tool_choice={"type": "web_search"},  # type: ignore[arg-type,typeddict-item]
        )
    assert done.choices[0].message.role == "assistant"
    body = matrix.fakes.responses.last.json
    # (the Codex provider adds its image_generation tool after the client's, as CPA does)
    assert body["tools"][0] == {"type": "web_search", "search_context_size": "high"}
    assert body["tool_choice"] == {"type": "web_search"}


async def test_responses_client_builtin_tool_stays_off_a_chat_upstream(matrix: Any) -> None:
    """CPA: TestOpenAIResponsesToOpenAI_IgnoresBuiltinTools."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(
            model="compat-model",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            tools=[{"type": "web_search", "search_context_size": "low"}],
        )
    assert done.output_text
    body = matrix.fakes.openai.last.json
    assert not body.get("tools") and "tool_choice" not in body
