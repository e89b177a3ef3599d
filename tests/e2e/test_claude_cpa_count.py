"""CPA's ``claude_executor_test.go`` count_tokens cases of a cloaked credential, through
a running proxy into the fake Anthropic gateway: what the count request carries upstream
(Claude Code's count shape: no system, no metadata), and the client's 400 for what the
cloak cannot carry."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from cliproxy.translate import tokens
from cliproxy.translate.token_segments import claude_segments
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last
from tests.fakes.server import Behavior

pytestmark = pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally

OAUTH_KEY = "sk-ant-oat01-count"
COUNT = "/v1/messages/count_tokens"


def config(base_url: str, cloak: str = "", models: tuple[str, ...] = ("claude-opus-5",)) -> str:
    names = "".join(f'      - name: "{m}"\n' for m in models)
    extra = f"    cloak: {cloak}\n" if cloak else ""
    return (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "{OAUTH_KEY}"\n'
        f'    base-url: "{base_url}"\n{extra}    models:\n{names}'
    )


async def count(url: str, model: str, **body: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as client:
        got = await client.messages.count_tokens(model=model, **body)
    return got.input_tokens


def texts(body: dict[str, Any]) -> str:
    out = []
    for message in body["messages"]:
        content = message["content"]
        out += [content] if isinstance(content, str) else [b.get("text", "") for b in content]
    return "\n".join(out)


@pytest.mark.parametrize(("model", "turn"), [("claude-opus-5", True), ("claude-sonnet-4-5", False)])
async def test_a_cloaked_count_moves_the_system_and_hides_sensitive_words(
    start_proxy, fake_claude, model: str, turn: bool
) -> None:
    """TestClaudeExecutor_CountTokensCloakRelocatesCallerSystemAndObfuscates: no
    ``system`` on the count; the caller's system still counted, as a ``role: system``
    turn (or a reminder for a model that refuses the turn), and its sensitive word
    broken by a zero-width space as on the Messages call. Before, the count sent the
    word as the caller wrote it."""
    proxy = await start_proxy(config(fake_claude.base_url, "{sensitive-words: [ACMECORP]}", (model,)))
    system = [{"type": "text", "text": "third party ACMECORP orchestrator rules"}]
    await count(proxy.url, model, system=system, messages=[{"role": "user", "content": "hello"}])
    sent = last(fake_claude, COUNT).json
    assert "system" not in sent and "metadata" not in sent
    said = texts(sent)
    assert "orchestrator rules" in said and "ACMECORP" not in said and "A\u200bCMECORP" in said
    assert any(m["role"] == "system" for m in sent["messages"]) is turn
    assert ("<system-reminder>" in said) is not turn


async def test_a_strict_count_leaves_the_callers_system_out(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_CountTokensCloakStrictModeDropsCallerSystem."""
    proxy = await start_proxy(config(fake_claude.base_url, "{strict-mode: true}"))
    system = [{"type": "text", "text": "caller only secret directive"}]
    await count(proxy.url, "claude-opus-5", system=system, messages=[{"role": "user", "content": "hello"}])
    sent = last(fake_claude, COUNT)
    assert "system" not in sent.json and b"secret directive" not in sent.body


async def test_a_non_text_system_block_is_the_counts_400(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_CountTokensRejectsNonTextCallerSystemBlock: the count refuses
    what the Messages call refuses, before anything goes upstream. Before, the block was
    dropped silently and the count came back smaller."""
    proxy = await start_proxy(config(fake_claude.base_url))
    system: Any = [{"type": "text", "text": "S1"}, {"type": "input_image"}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await count(proxy.url, "claude-opus-5", system=system, messages=[{"role": "user", "content": "x"}])
    assert "system.1" in str(caught.value)
    assert not [r for r in fake_claude.requests if r.path == COUNT]


async def test_a_count_with_cloak_never_keeps_the_tool_names(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_CountTokensUpstreamCloakNeverPreservesCustomTool: an OAuth key
    whose cloak is off counts its tools under their own names, with no metadata, and
    names its Claude Code session in the header only."""
    proxy = await start_proxy(config(fake_claude.base_url, "{mode: never}"))
    tools: Any = [{"name": "search_web", "input_schema": {"type": "object"}}]
    await count(proxy.url, "claude-opus-5", tools=tools, messages=[{"role": "user", "content": "search"}])
    sent = last(fake_claude, COUNT)
    assert sent.json["tools"][0]["name"] == "search_web" and "metadata" not in sent.json
    assert sent.headers["X-Claude-Code-Session-Id"]


async def test_a_local_count_leaves_out_thinking_claude_cannot_verify(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_CountTokensExcludesInvalidOpenAIThinking: a gateway without
    count_tokens gets the local count, of the history as it would be sent (another
    backend's thinking dropped), the same as without that block."""
    cfg = (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-ant-gw"\n    base-url: "{fake_claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6"}]\n'
    )
    proxy = await start_proxy(cfg)
    fake_claude.script(Behavior(status=404, path="count_tokens", times=None))
    answer = {"type": "text", "text": "Answer"}
    foreign = {
        "type": "thinking",
        "thinking": "codex reasoning",
        "signature": "gAAAAABopenai-encrypted-content",
    }
    turns: Any = [{"role": "user", "content": "next"}]
    plain = [{"role": "assistant", "content": [answer]}, *turns]
    mixed = [{"role": "assistant", "content": [foreign, answer]}, *turns]
    without = await count(proxy.url, "claude-sonnet-4-6", messages=plain)
    assert await count(proxy.url, "claude-sonnet-4-6", messages=mixed) == without
    assert without == await tokens.count(tokens.O200K, claude_segments({"messages": plain}))
