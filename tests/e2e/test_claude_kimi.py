"""Claude cloaking on Kimi's Anthropic-compatible path, as CPA does it: its Kimi executor
hands Claude-format requests to the Claude executor, so the Kimi file's cloak settings and
``fingerprint_profile`` apply (auto cloaks only a file that sets them: a Kimi token is no
Claude subscription); Claude Code's billing block is dropped unless the file takes the CLI
profile; nothing is signed (not Anthropic's host)."""

from __future__ import annotations

import re
from pathlib import Path

import anthropic
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_provider_identity import FAR, write_auth

SYSTEM = "You are a terse assistant."
PROMPT = "Say hello to Kimi"
IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
HEAD = f'api-keys: ["{KEY}"]\n'


def kimi(fake_claude, tmp_path: Path, **extra: object) -> None:
    data = {
        "type": "kimi",
        "access_token": "kimi-token",
        "refresh_token": "kimi-refresh",
        "expired": FAR,
        "device_id": "dev-1",
        "base_url": fake_claude.base_url + "/coding",
        **extra,
    }
    write_auth(tmp_path, "kimi-user.json", data)


async def _send(proxy) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="kimi-k2", max_tokens=32, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}]
        )


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content if b.get("type") == "text"]  # type: ignore[union-attr]


async def test_default_kimi_file_is_not_cloaked(start_proxy, fake_claude, tmp_path: Path) -> None:
    kimi(fake_claude, tmp_path)
    proxy = await start_proxy(HEAD)
    await _send(proxy)
    rec = fake_claude.last
    assert rec.path == "/coding/v1/messages" and rec.query == {"beta": "true"}
    assert [b["text"] for b in rec.json["system"]] == [SYSTEM]
    assert "metadata" not in rec.json
    assert not rec.headers["User-Agent"].startswith("claude-cli/")
    assert rec.headers["Authorization"] == "Bearer kimi-token"


async def test_cloak_mode_always_cloaks_without_billing(start_proxy, fake_claude, tmp_path: Path) -> None:
    kimi(fake_claude, tmp_path, cloak_mode="always")
    proxy = await start_proxy(HEAD)
    await _send(proxy)
    rec = fake_claude.last
    body = rec.json
    # the billing block is Kimi-visible prompt text: dropped (no CLI profile); identity kept
    assert [b["text"] for b in body["system"]] == [IDENTITY]
    first = _texts(body["messages"][0]["content"])
    assert first[0].startswith("<system-reminder>\nAs you answer")  # currentDate
    assert SYSTEM in "".join(t for m in body["messages"] for t in _texts(m["content"]))  # moved, kept
    uid = orjson.loads(body["metadata"]["user_id"])  # CPA's fake id for a cloak without the CLI profile
    assert uid["account_uuid"] == "" and re.fullmatch(r"[0-9a-f]{64}", uid["device_id"])
    assert rec.headers["User-Agent"] == "claude-cli/2.1.220 (external, cli)" and rec.headers["x-app"] == "cli"
    betas = rec.headers["anthropic-beta"].split(",")
    assert betas[0] == "claude-code-20250219" and "oauth-2025-04-20" not in betas
    assert rec.headers["Authorization"] == "Bearer kimi-token"


async def test_cli_profile_keeps_an_unsigned_billing_block(start_proxy, fake_claude, tmp_path: Path) -> None:
    """CPA: TestKimiExecutor_ClaudeMessagesWithAndWithoutClaudeCodeCLIFingerprint (its
    profiled half), TestKimiExecutor_ClaudeCodeCLIProfileKeepsUnsignedBillingAndNativeCountTokens
    (its Messages half, here whole rather than streamed)."""
    kimi(fake_claude, tmp_path, fingerprint_profile="claude-code-cli")
    proxy = await start_proxy(HEAD)
    await _send(proxy)
    rec = fake_claude.last
    body = rec.json
    billing = body["system"][0]["text"]
    assert billing.startswith("x-anthropic-billing-header: cc_version=2.1.220.") and "cch=" not in billing
    assert body["system"][1]["text"] == IDENTITY
    uid = orjson.loads(body["metadata"]["user_id"])  # the file's stable CLI identity
    assert re.fullmatch(r"[0-9a-f]{64}", uid["device_id"]) and uid["account_uuid"]
    betas = rec.headers["anthropic-beta"].split(",")
    assert betas[:2] == ["claude-code-20250219", "oauth-2025-04-20"]  # CPA: UseOAuthBetas follows the profile


@pytest.mark.parametrize("mode", ["never", ""])
async def test_disable_claude_cloak_mode_and_never(
    start_proxy, fake_claude, tmp_path: Path, mode: str
) -> None:
    """``cloak_mode: never`` on a file that also sets words, or ``disable-claude-cloak-mode``
    for a file with cloak settings but no mode: not cloaked."""
    extra: dict[str, object] = {"cloak_sensitive_words": "Kimi"}
    if mode:
        extra["cloak_mode"] = mode
    kimi(fake_claude, tmp_path, **extra)
    proxy = await start_proxy(HEAD + ("" if mode else "disable-claude-cloak-mode: true\n"))
    await _send(proxy)
    body = fake_claude.last.json
    assert [b["text"] for b in body["system"]] == [SYSTEM]
    assert _texts(body["messages"][0]["content"]) == [PROMPT]
