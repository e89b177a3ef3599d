"""CPA's conductor warn-logging cases (sdk/cliproxy/auth/conductor_warn_logging_test.go)
through a running proxy: what an operator reads in the log when a request fails."""

from __future__ import annotations

import logging
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY

RATE_LIMITED = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("cliproxy") and text in r.getMessage()
    ]


async def _ask(proxy: Any, model: str) -> int:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        try:
            await client.messages.create(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        except anthropic.APIStatusError as exc:
            return exc.status_code
    return 200


async def test_every_credential_cooling_is_one_warning(start_proxy, fakes, caplog):
    """TestWarnLogOnAuthUnavailable_SingleProvider and
    TestWarnLogOnAuthUnavailable_SessionAffinityLegacyPath: once both Claude keys cool on a
    429, the next request's 429 model_cooldown comes with exactly one WARNING naming each
    key (label and auth_index, never the key), why it cools and the time left. Before, the
    log said nothing."""
    keys = "".join(f'  - api-key: "{k}"\n    base-url: "{fakes.claude.base_url}"\n' for k in ("sk-a", "sk-b"))
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nrequest-retry: 0\nrouting:\n  session-affinity: true\nclaude-api-key:\n{keys}'
    )
    for key in ("sk-a", "sk-b"):
        fakes.claude.fail_key(key, 429, body=RATE_LIMITED, headers={"Retry-After": "45"})
    assert await _ask(proxy, "claude-sonnet-4-6") == 429  # both tried, both cool
    caplog.clear()
    caplog.set_level(logging.INFO)
    assert await _ask(proxy, "claude-sonnet-4-6") == 429
    (line,) = _warnings(caplog, "auth unavailable")
    indexes = [c.index for c in proxy.service.pool.credentials()]
    assert "claude-sonnet-4-6" in line and "providers=claude" in line
    assert all(i in line for i in indexes) and line.count("remaining=") == 2
    assert "sk-a" not in line and "sk-b" not in line


async def test_mixed_providers_are_named(start_proxy, fakes, caplog):
    """TestWarnLogOnAuthUnavailable_MixedProviders: a model two providers serve names both."""
    proxy = await start_proxy(
        f"""api-keys: ["{KEY}"]
request-retry: 0
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "shared"}}]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k1"}}]
    models: [{{name: "gpt-4o-mini", alias: "shared"}}]
"""
    )
    fakes.claude.fail_key("sk-a", 429, body=RATE_LIMITED, headers={"Retry-After": "45"})
    fakes.openai.fail_key("k1", 429, headers={"Retry-After": "45"})
    assert await _ask(proxy, "shared") == 429
    caplog.clear()
    caplog.set_level(logging.INFO)
    assert await _ask(proxy, "shared") == 429
    (line,) = _warnings(caplog, "auth unavailable")
    names = line.split("providers=", 1)[1].split(")", 1)[0].split(",")
    assert sorted(names) == ["claude", "openai-compatible-up"] and line.count("remaining=") == 2
