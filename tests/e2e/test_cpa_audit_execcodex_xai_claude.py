"""CPA's xAI executor case whose Claude-client half the provider tests left out
(internal/runtime/executor/xai_executor_test.go), through a running proxy: the official
``anthropic`` SDK on a Grok model, the fake OpenAI server in its xAI role."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY


async def test_a_claude_clients_forced_web_search_reaches_xai_as_allowed_tools(
    start_proxy: Any, fake_openai: Any
) -> None:
    """CPA TestXAIExecutorPrepareNormalizesClaudeWebSearchToolChoice, whole: a Claude
    request (``max_tokens``, ``output_config.effort``, thinking disabled) that forces its
    ``web_search_20250305`` server tool with ``tool_choice: {type: tool, name: web_search}``
    reaches xAI's ``/responses`` with the choice xAI takes for a built-in tool:
    ``allowed_tools``, mode ``required``, the one ``web_search`` tool."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\n'
        f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    )
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        async with claude.messages.stream(
            model="grok-4.5",
            max_tokens=4096,
            thinking={"type": "disabled"},
            messages=[{"role": "user", "content": [{"type": "text", "text": "Perform a web search"}]}],
            tool_choice={"type": "tool", "name": "web_search"},
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 8}],
            extra_body={"output_config": {"effort": "high"}},
        ) as stream:
            await stream.get_final_message()
    sent = fake_openai.last
    assert sent.path == "/v1/responses"
    choice = sent.json["tool_choice"]
    assert choice["type"] == "allowed_tools" and choice["mode"] == "required", choice
    assert [t["type"] for t in choice["tools"]] == ["web_search"], choice
