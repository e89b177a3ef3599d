"""A token count sent to api.anthropic.com carries no ``max_tokens``, which Anthropic's
``/v1/messages/count_tokens`` refuses ("max_tokens: Extra inputs are not permitted"),
through a running proxy into the Anthropic fake behind a CONNECT redirect of
``api.anthropic.com`` (as ``test_claude_cpa_exec_diagnostics``).

The thinking step a count goes through (as CPA's ``CountTokens`` runs
``ApplyRequestThinking``) keeps a budget below ``max_tokens`` and writes the model's
``max_tokens`` when the body has none, as for a generation; a count body never has one.
CPA sends that field on; cliproxy drops it with the other fields Anthropic's count
endpoint refuses (``metadata``, ``context_management``, ``diagnostics``): a deliberate
difference, so that a count with thinking is not Anthropic's 400."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cpa_exec_diagnostics import proxy_of
from tests.providers import test_impersonate as tls

pytestmark = tls.pytestmark
cert, tls_claude = tls.cert, tls.tls_claude


async def test_a_count_with_thinking_sends_anthropic_no_max_tokens(
    start_proxy: Any, tls_claude: Any, cert: Any
) -> None:
    """CPA's ``TestApplyRequestThinkingUsesSelectedPrefixedAPIKeyModel`` count row, on
    Anthropic's own origin: the suffix's budget reaches the count as ``thinking``, the
    client's ``max_tokens`` (sent by hand) and the model's one the thinking step would add
    do not."""
    fake = tls_claude[0]
    proxy = await proxy_of(start_proxy, tls_claude, cert, "sk-ant-api03-count")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        for extra in ({}, {"extra_body": {"max_tokens": 100000}}):
            got = await client.messages.count_tokens(
                model="claude-sonnet-4-5-20250929(8192)",
                messages=[{"role": "user", "content": "hello"}],
                **extra,
            )
            assert got.input_tokens > 0
            sent = [r for r in fake.requests if r.path.endswith("/count_tokens")][-1].json
            assert sent["thinking"] == {"type": "enabled", "budget_tokens": 8192}
            assert "max_tokens" not in sent
