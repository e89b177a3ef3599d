"""CPA ``internal/thinking/kimi_max_clamp_repro_test.go`` through the proxy: Claude Code on
Kimi's Messages endpoint asking ``effort: max``, which Kimi's models do not list."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import HEAD, kimi_file


async def test_claude_max_effort_on_kimi_becomes_high(
    start_proxy: Any, fake_claude: Any, tmp_path: Any
) -> None:
    """TestKimiClaudeMessagesMaxClampsToHigh: the format is Claude's on both sides, but the
    model is Kimi's, so the level is clamped to the nearest it lists instead of refused."""
    kimi_file(tmp_path, fake_claude.base_url)
    proxy = await start_proxy(HEAD)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        await client.messages.create(
            model="kimi-k2.5",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}},
        )
    sent = fake_claude.last.json
    assert sent["thinking"]["type"] == "adaptive" and sent["output_config"]["effort"] == "high"
