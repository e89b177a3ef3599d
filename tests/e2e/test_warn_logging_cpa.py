"""CPA's conductor warn-logging cases (sdk/cliproxy/auth/conductor_warn_logging_test.go)
through a running proxy: what an operator reads in the log when a request fails."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anthropic
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_oauth_files import MODEL as OAUTH_MODEL
from tests.e2e.test_oauth_files import refreshing  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401

RATE_LIMITED = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("cliproxy") and text in r.getMessage()
    ]


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The upstream-failure warnings (one a failed attempt)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == "cliproxy.pipeline_failover"
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


def _one_key(fakes: Any) -> str:
    return f'api-keys: ["{KEY}"]\nrequest-retry: 0\nclaude-api-key:\n  - api-key: "sk-a"\n    base-url: "{fakes.claude.base_url}"\n'


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_upstream_failure_is_a_warning(start_proxy, fakes, caplog, stream):
    """TestWarnLogOnUpstreamFailure_NonStream, TestWarnLogOnStreamUpstreamFailure and
    TestWarnLogOnStreamBootstrapFailure: a failed attempt is one WARNING naming the
    credential's label (never its key), the provider, the model, the status and the
    upstream's message; before, an upstream error status was logged at INFO. Differs from
    CPA in leaving out the attempt's duration (the request log has it)."""
    proxy = await start_proxy(_one_key(fakes))
    fakes.claude.fail_next(500, message="upstream timeout")
    caplog.set_level(logging.INFO)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        with pytest.raises(anthropic.APIStatusError):
            body = {
                "model": "claude-sonnet-4-6",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "hi"}],
            }
            if stream:
                async with client.messages.stream(**body) as s:
                    await s.get_final_message()
            else:
                await client.messages.create(**body)
    (line,) = _warnings(caplog, "answered 500")
    assert "claude-apikey" in line and "(claude)" in line and "claude-sonnet-4-6" in line
    assert "upstream timeout" in line and "sk-a" not in line


async def test_a_401_the_refresh_cures_is_no_warning(refreshing, caplog):  # noqa: F811
    """TestWarnLogOnUpstreamFailure_401RefreshSuccess_DoesNotLogWarn: the token is refreshed
    and the same credential answers; no failure is logged."""
    caplog.set_level(logging.INFO)
    answer = await ask(Format.CLAUDE, refreshing.url, OAUTH_MODEL, "hi", stream=False)
    assert "Hello from fake" in answer.text
    assert not _failures(caplog)


async def test_a_client_that_leaves_is_no_warning(start_proxy, fakes, caplog):
    """TestWarnLogOnUpstreamFailure_ClientCanceled_DoesNotLogWarn: a client that gives up
    while the upstream thinks leaves no upstream-failure warning behind."""
    proxy = await start_proxy(_one_key(fakes))
    fakes.claude.delay_next(1.0)
    caplog.set_level(logging.INFO)
    async with anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=KEY, max_retries=0, timeout=0.3
    ) as client:
        with pytest.raises(anthropic.APITimeoutError):
            await client.messages.create(
                model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    await asyncio.sleep(0.3)  # the proxy notices the client is gone
    assert not _failures(caplog)
