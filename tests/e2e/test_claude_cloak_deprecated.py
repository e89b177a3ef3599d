"""``claude-api-key[].experimental-cch-signing``: deprecated in CPA (CCH signing is automatic),
kept as a no-op key that logs one deprecation WARNING at start."""

from __future__ import annotations

import logging

import anthropic

from tests.e2e.clients import KEY
from tests.logcheck import warnings_starting as _warnings

DEPRECATED = "deprecated config keys (accepted, no effect): "
NOT_EFFECTIVE = "config keys set but not implemented in cliproxy yet (they have no effect): "
TEXT = "please keep literal cch=00000 in this message"


async def test_experimental_cch_signing_is_a_deprecated_no_op(start_proxy, fake_claude, caplog) -> None:
    # CPA TestClaudeExecutor_CustomBaseURLAPIKeyDoesNotEnableCCHSigning: the flag on a plain
    # key to a custom base URL adds no billing block and leaves a literal "cch=00000" alone
    caplog.set_level(logging.INFO, "cliproxy")
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "key-123"
    base-url: "{fake_claude.base_url}"
    experimental-cch-signing: true
"""
    proxy = await start_proxy(cfg)
    lines = _warnings(caplog, DEPRECATED)
    assert len(lines) == 1, lines
    assert lines[0].startswith(DEPRECATED + "claude-api-key[].experimental-cch-signing (")
    assert "automatic" in lines[0]
    assert not _warnings(caplog, NOT_EFFECTIVE)  # not "not implemented": CPA ignores it too

    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=64,
            messages=[{"role": "user", "content": [{"type": "text", "text": TEXT}]}],
        )
    rec = [r for r in fake_claude.requests if r.path == "/v1/messages"][-1]
    assert rec.json["messages"][0]["content"][0]["text"] == TEXT
    assert "system" not in rec.json
    assert b"x-anthropic-billing-header:" not in rec.body


async def test_no_deprecation_warning_without_the_key(start_proxy, fake_claude, caplog) -> None:
    caplog.set_level(logging.INFO, "cliproxy")
    cfg = f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "key-123"
    base-url: "{fake_claude.base_url}"
    experimental-cch-signing: false
"""
    await start_proxy(cfg)
    assert not _warnings(caplog, DEPRECATED)
