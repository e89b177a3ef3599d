"""Cache breakpoints of Claude requests (CPA's enforceCacheControlLimit,
upgradeClaudeCacheControlTTL and normalizeCacheControlTTL): at most 4 per request, the
1h pool for cloaked requests of Claude Code credentials, and never a 1h mark after a 5m
one; through the proxy into the fake Anthropic upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import MODEL, PROMPT, last, write_oauth

EPH: dict[str, Any] = {"type": "ephemeral"}


def _tool(name: str, mark: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "description": "d",
        "input_schema": {"type": "object", "properties": {}},
        "cache_control": mark,
    }


def marks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every cache_control in Anthropic's evaluation order: tools, system, messages."""
    out = [
        (f"tools.{i}", t["cache_control"])
        for i, t in enumerate(body.get("tools", []))
        if "cache_control" in t
    ]
    system = body.get("system")
    if isinstance(system, list):
        out += [(f"system.{i}", b["cache_control"]) for i, b in enumerate(system) if "cache_control" in b]
    for m, msg in enumerate(body.get("messages", [])):
        if isinstance(msg.get("content"), list):
            out += [
                (f"messages.{m}.content.{i}", b["cache_control"])
                for i, b in enumerate(msg["content"])
                if "cache_control" in b
            ]
    return out


async def _send(proxy, tools: list[dict[str, Any]]) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=16,
            system="be brief",
            tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": PROMPT}],
        )


async def test_cloaking_keeps_at_most_four_breakpoints(start_proxy, fake_claude, tmp_path: Path) -> None:
    # four caller marks on tools + cloaking's identity and first-user marks = 6
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _send(proxy, [_tool(f"t{i}", dict(EPH)) for i in range(4)])
    body = last(fake_claude).json
    found = marks(body)
    assert len(found) == 4, found
    # the earliest tool marks go first; the last tool, the system and the message keep theirs
    assert [path for path, _ in found][:3] == ["tools.2", "tools.3", "system.1"]
    assert found[3][0].startswith("messages.0.content.")


async def test_an_oauth_cloak_takes_the_one_hour_pool(start_proxy, fake_claude, tmp_path: Path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _send(proxy, [_tool("t0", dict(EPH))])
    rec = last(fake_claude)
    found = marks(rec.json)
    assert found and all(mark == {"type": "ephemeral", "ttl": "1h"} for _, mark in found), found
    assert "extended-cache-ttl-2025-04-11" in rec.headers["anthropic-beta"]


async def test_a_5m_mark_is_never_followed_by_a_1h_one(start_proxy, fake_claude, tmp_path: Path) -> None:
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _send(proxy, [_tool("t0", dict(EPH)), _tool("t1", {"type": "ephemeral", "ttl": "5m"})])
    found = marks(last(fake_claude).json)
    assert found[0] == ("tools.0", {"type": "ephemeral", "ttl": "1h"})
    assert found[1] == ("tools.1", {"type": "ephemeral", "ttl": "5m"})  # the caller's explicit ttl
    assert [mark for _, mark in found[2:]] == [EPH] * (len(found) - 2)  # 1h after 5m: plain again


async def test_a_cloaked_api_key_keeps_the_default_ttl(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_CacheTTLIsPairedWithExtendedCacheTTLBeta,
    TestClaudeExecutor_NonClaudeRequestUsesClaudeCode220CLIFingerprint.
    """
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
    cloak: {{mode: always}}
"""
    proxy = await start_proxy(cfg)
    await _send(proxy, [_tool(f"t{i}", dict(EPH)) for i in range(4)])
    found = marks(last(fake_claude).json)
    assert len(found) == 4 and all(mark == EPH for _, mark in found), found


async def test_a_plain_api_key_is_held_to_four_too(start_proxy, fake_claude) -> None:
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{fake_claude.base_url}"
"""
    proxy = await start_proxy(cfg)
    await _send(proxy, [_tool(f"t{i}", dict(EPH)) for i in range(6)])
    found = marks(last(fake_claude).json)
    assert [path for path, _ in found] == ["tools.2", "tools.3", "tools.4", "tools.5"]


async def test_a_gateway_never_gets_injected_context_management(
    start_proxy, fake_claude, tmp_path: Path
) -> None:
    # CPA adds context_management to cloaked requests on api.anthropic.com only
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=MODEL,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": PROMPT}],
        )
    body = last(fake_claude).json
    assert body["thinking"]["type"] == "enabled" and "context_management" not in body
