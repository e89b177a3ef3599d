"""CPA's own breakpoint placement (ensureCacheControl) through the proxy into the fake
Anthropic upstream: for a markerless or cloaked request the proxy places Claude Code's
breakpoints; a real Claude Code keeps its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import openai

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import MODEL, PROMPT, SYSTEM, last, write_oauth
from tests.e2e.test_claude_cloak_cache import marks

EPH: dict[str, Any] = {"type": "ephemeral"}
HOUR: dict[str, Any] = {"type": "ephemeral", "ttl": "1h"}
NEWER = "claude-opus-4-8"  # takes role=system turns: the caller's system is not a reminder


def conversation(exchanges: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(exchanges):
        out += [
            {"role": "user", "content": f"question number {i}"},
            {"role": "assistant", "content": f"answer number {i}"},
        ]
    return out


def last_marked(body: dict[str, Any]) -> int:
    """The highest message index carrying a breakpoint."""
    found = -1
    for i, msg in enumerate(body["messages"]):
        content = msg.get("content")
        if isinstance(content, list) and any("cache_control" in b for b in content):
            found = i
    return found


async def _converse(proxy, model: str, exchanges: int) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=model,
            max_tokens=16,
            system="You are a helpful assistant.",
            messages=conversation(exchanges),
        )


async def test_cloaked_rolling_breakpoint_advances(start_proxy, fake_claude, tmp_path: Path) -> None:
    """CPA caching_verify_test.go TestClaudeExecutorCloakedRollingCacheBreakpointAdvances:
    cloaking's first-user mark must not freeze the rolling mark on the first turn."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _converse(proxy, NEWER, 2)
    short = last(fake_claude).json
    await _converse(proxy, NEWER, 6)
    long = last(fake_claude).json
    assert 0 < last_marked(short) < last_marked(long) == len(long["messages"]) - 1
    assert long["messages"][0]["content"][1]["cache_control"] == HOUR  # cloaking's own, 1h pool
    assert len(marks(long)) <= 4


async def test_translated_request_on_a_plain_key_gets_breakpoints(start_proxy, fake_claude) -> None:
    """An OpenAI Chat client (markerless) on a plain API key: the system and the last turn
    take Claude Code's default mark, without ttl (CPA: the 1h pool is a Claude Code
    credential's only); tools are left alone since there is a system prompt."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
"""
    proxy = await start_proxy(cfg)
    tool = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
            tools=[tool],  # type: ignore[list-item]
        )
    body = last(fake_claude).json
    assert [path for path, _ in marks(body)] == [f"system.{len(body['system']) - 1}", "messages.0.content.0"]
    assert all(mark == EPH for _, mark in marks(body))


async def test_a_callers_own_mark_keeps_placement_its_own(start_proxy, fake_claude) -> None:
    """A caller that placed a mark on a plain key: nothing is added (CPA: unconfirmed with marker)."""
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
"""
    proxy = await start_proxy(cfg)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=16,
            system=[{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "user", "content": PROMPT},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "more"},
            ],
        )
    body = last(fake_claude).json
    assert [path for path, _ in marks(body)] == ["system.0"]


async def test_uncloaked_oauth_takes_placement_and_the_1h_pool(
    start_proxy, fake_claude, tmp_path: Path
) -> None:
    """An OAuth token with ``cloak_mode: never`` and a markerless caller: CPA still owns the
    placement (no marks) and, as a Claude Code credential, uses the 1h pool."""
    write_oauth(tmp_path, "one", fake_claude.base_url, cloak_mode="never")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL, max_tokens=16, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}]
        )
    body = last(fake_claude).json
    system_marks = [(p, m) for p, m in marks(body) if p.startswith("system.")]
    assert system_marks and all(m == HOUR for _, m in system_marks)
    assert body["messages"][-1]["content"][-1]["cache_control"] == HOUR
