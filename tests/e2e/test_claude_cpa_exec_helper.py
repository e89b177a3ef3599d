"""A real Claude Code's minimal Haiku helper request on a Claude OAuth token, given a system
prompt by a payload rule: CPA signs it with a billing block then, as a helper that carries
a system prompt (``claude_executor_native_helper_test.go``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy.providers import claude_helper as helper
from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.e2e.test_claude_helper import _post
from tests.providers.test_claude_helper import helper_headers, minimal_raw

MODEL = "claude-haiku-4-5-20251001"


@pytest.mark.parametrize("system", [None, "injected by a payload rule"], ids=["none", "by a rule"])
async def test_a_helper_gets_a_billing_block_only_with_a_system_prompt(
    start_proxy, fake_claude, tmp_path: Path, system: str | None
) -> None:
    """The minimal helper sends no system prompt and gets no billing block; once a payload
    rule gives it one, the request leads with a signed billing block and keeps the rule's
    text after it.

    CPA: TestClaudeBodyNeedsBillingFallbackTracksSystemPresence (its measured helper and
    string-system cases; a structured helper's own billing block:
    tests/e2e/test_claude_helper.py)."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    rule = ""
    if system is not None:
        rule = f'payload:\n  override:\n    - models: [{{name: "{MODEL}", protocol: "claude"}}]\n'
        rule += f'      params: {{"system": "{system}"}}\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{rule}')
    await _post(proxy.url, helper_headers(helper.beta_profile(True)), minimal_raw())
    body = last(fake_claude).json
    if system is None:
        assert "system" not in body
        return
    billing, text = body["system"][0]["text"], body["system"][-1]["text"]
    assert billing.startswith("x-anthropic-billing-header:") and " cch=" in billing
    assert "cch=00000" not in billing  # signed
    assert text == system
