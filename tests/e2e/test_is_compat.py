"""``models[].is-compat`` through a running proxy: the upstream receives the reasoning
CPA's compatibility translators keep, and a model without it does not (the same key
serves both models, so only the flag differs)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY

THINKING_TURNS = [
    {"role": "user", "content": "What is 2+2?"},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Two plus two is four.", "signature": ""},
            {"type": "text", "text": "4"},
        ],
    },
    {"role": "user", "content": "And 3+3?"},
]


async def _post(
    base: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None, *, ok: bool = True
) -> Any:
    sent = {"x-api-key": KEY, "Authorization": f"Bearer {KEY}", **(headers or {})}
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(base + path, json=body, headers=sent) as resp,
    ):
        data = await resp.read()
        assert resp.status == 200 or not ok, data
        return data


@pytest.fixture
async def proxy(start_proxy, fakes):
    return await _proxy(start_proxy, fakes, optimize=True)


async def _proxy(start_proxy, fakes, *, optimize: bool):
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: deepseek
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat-1"}}]
    models:
      - {{name: "deepseek-v4", alias: "ds-compat", is-compat: true}}
      - {{name: "deepseek-v4", alias: "ds-plain"}}
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models:
      - {{name: "deepseek-v4", alias: "cl-compat", is-compat: true}}
      - {{name: "deepseek-v4", alias: "cl-plain"}}
  - api-key: "sk-ant-2"
    base-url: "{fakes.claude.base_url}"
    prefix: "tenant"
    models:
      - {{name: "deepseek-upstream", alias: "deepseek-alias", is-compat: true}}
codex:
  optimize-multi-agent-v2: {optimize}
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models:
      - {{name: "deepseek-v4-flash", alias: "cx-compat", is-compat: true}}
      - {{name: "gpt-5.4", alias: "cx-plain"}}
""".replace("{optimize}", "true" if optimize else "false")
    )
    proxy.fakes = fakes
    return proxy


@pytest.mark.parametrize(("model", "kept"), [("ds-compat", True), ("ds-plain", False)])
async def test_claude_thinking_reaches_a_compat_chat_upstream(proxy, model: str, kept: bool) -> None:
    """Claude client -> OpenAI-compatible: with is-compat the unsigned thinking goes up as
    the assistant's ``reasoning_content``; without it, it is dropped."""
    await _post(proxy.url, "/v1/messages", {"model": model, "max_tokens": 64, "messages": THINKING_TURNS})
    assistant = proxy.fakes.openai.last.json["messages"][1]
    assert assistant["role"] == "assistant" and assistant["content"] == "4"
    assert assistant.get("reasoning_content") == ("Two plus two is four." if kept else None)


@pytest.mark.parametrize(
    ("model", "kept"), [("cl-compat", True), ("cl-plain", False), ("tenant/deepseek-alias", True)]
)
async def test_chat_reasoning_reaches_a_compat_claude_upstream(proxy, model: str, kept: bool) -> None:
    """Chat client -> Claude-protocol upstream: with is-compat the assistant's
    ``reasoning_content`` becomes a thinking block with an empty signature, first in the
    turn; without it, the turn is text only. (The fake is as strict as Anthropic and
    refuses the unsigned block; the compatible endpoints is-compat is for take it.)
    CPA: TestResolvedAPIKeyModelInfoPropagatesIsCompat (also through a key's prefix)."""
    messages = [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "reasoning_content": "Two plus two is four.", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ]
    await _post(proxy.url, "/v1/chat/completions", {"model": model, "messages": messages}, ok=not kept)
    content = proxy.fakes.claude.last.json["messages"][1]["content"]
    if kept:
        assert content[0] == {"type": "thinking", "thinking": "Two plus two is four.", "signature": ""}
        assert content[1]["type"] == "text"
    else:
        assert [b["type"] for b in content] == ["text"]


@pytest.mark.parametrize(("model", "kept"), [("cx-compat", True), ("cx-plain", False)])
async def test_claude_thinking_reaches_a_compat_codex_upstream(proxy, model: str, kept: bool) -> None:
    """Claude client -> Codex-protocol upstream: with is-compat a ``reasoning`` item with
    an empty ``encrypted_content``; without it, none."""
    await _post(proxy.url, "/v1/messages", {"model": model, "max_tokens": 64, "messages": THINKING_TURNS})
    items = proxy.fakes.responses.last.json["input"]
    reasoning = [i for i in items if i.get("type") == "reasoning"]
    assert reasoning[0]["encrypted_content"] == "" if kept else reasoning == []


AGENT_INPUT = [
    {
        "type": "agent_message",
        "id": "amsg_1",
        "author": "/root",
        "recipient": "/root/worker",
        "content": [
            {"type": "input_text", "text": "Message Type: NEW_TASK\n"},
            {"type": "encrypted_content", "encrypted_content": "Add 2 and 2."},
        ],
    }
]


@pytest.mark.parametrize(
    ("model", "agent", "optimize", "converted"),
    [
        ("cx-compat", "codex-tui/0.146.0 (Mac OS 26.5.0; arm64)", True, True),
        ("cx-plain", "codex-tui/0.146.0 (Mac OS 26.5.0; arm64)", True, False),
        ("cx-compat", "codex-tui/0.146.0 (Mac OS 26.5.0; arm64)", False, False),
        ("cx-compat", "OpenAI/Python 1.99.0", True, False),
        ("cx-compat(high)", "codex-tui/0.146.0 (Mac OS 26.5.0; arm64)", True, True),
    ],
    ids=[
        "is-compat converts",
        "native model keeps",
        "optimize disabled keeps",
        "not a Codex client",
        "suffixed",
    ],
)
async def test_codex_agent_messages_for_a_compat_model(
    start_proxy, fakes, model: str, agent: str, optimize: bool, converted: bool
) -> None:
    """TestCodexExecutorIsCompatConvertsAgentMessage, through the proxy: with
    ``codex.optimize-multi-agent-v2`` on, an official Codex client's ``agent_message``
    reaches an is-compat Codex model as a user message (its encrypted part as text); a
    native model, the switch off, or another client keeps it an ``agent_message``.
    CPA: TestCodexAPIKeyModelIsCompat (the alias, with a thinking suffix too, is compat;
    the native model is not; its upstream-name case has no counterpart: a key whose models
    name an alias exposes only the alias)."""
    proxy = await _proxy(start_proxy, fakes, optimize=optimize)
    body = {"model": model, "input": AGENT_INPUT, "stream": True}
    await _post(proxy.url, "/v1/responses", body, {"User-Agent": agent})
    item = fakes.responses.last.json["input"][0]
    if converted:
        assert item["type"] == "message" and item["role"] == "user"
        assert item["content"][1] == {"type": "input_text", "text": "Add 2 and 2."}
        # a message id takes Codex's ``msg`` prefix (CPA's input-id rule runs after the conversion)
        assert item["id"] == "msg_amsg_1" and item["recipient"] == "/root/worker"
    else:
        assert item["type"] == "agent_message" and "role" not in item


@pytest.fixture
async def claude_proxy(start_proxy, fake_claude):
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fake_claude.base_url}"
    models:
      - {{name: "claude-sonnet-4-6", alias: "sonnet-compat", is-compat: true}}
      - {{name: "claude-sonnet-4-6", alias: "sonnet-plain"}}
"""
    )
    proxy.fake = fake_claude
    return proxy


@pytest.mark.parametrize(("model", "kept"), [("sonnet-compat", True), ("sonnet-plain", False)])
async def test_claude_passthrough_keeps_empty_thinking_for_compat(
    claude_proxy, model: str, kept: bool
) -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstreamPreservesEmptyThinkingInCompatMode, through
    the proxy: a Claude client's unsigned thinking block reaches an is-compat model as it
    is; the default sanitizer drops it."""
    body = {"model": model, "max_tokens": 64, "messages": THINKING_TURNS}
    await _post(claude_proxy.url, "/v1/messages", body, ok=not kept)
    content = claude_proxy.fake.last.json["messages"][1]["content"]
    if kept:
        assert content[0] == {"type": "thinking", "thinking": "Two plus two is four.", "signature": ""}
    else:
        assert [b["type"] for b in content] == ["text"]
