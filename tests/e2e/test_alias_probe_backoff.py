"""An OAuth alias shares its cooldown with the upstream model and its other names (CPA's
``stateModelForExecution`` keeps one state for them), so what clears or resets one of
them reaches them all: a half-open probe's success, and a back-off left while cooling is
off (``models.alias_state``)."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from cliproxy.state.base import CooldownRecord
from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth
from tests.e2e.test_probes import until

UPSTREAM = "claude-sonnet-4-6"
NAMES = (UPSTREAM, "a", "b")
TWO = 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "a"}, {name: "claude-sonnet-4-6", alias: "b"}]\n'
PROBE = "routing:\n  probe: {enabled: true, after: 1s, interval: 0.5s}\n"


async def _chat(url: str, model: str) -> None:
    async with openai.AsyncOpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0, timeout=10) as client:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


async def test_a_probe_success_clears_every_name_of_the_upstream_model(start_proxy, fakes, tmp_path):
    """CPA: TestManagerExecute_OAuthAliasBypassesBlockedRouteModel (one state for the
    upstream model and its aliases). A 429 with an hour's Retry-After on alias ``a`` cools
    ``a``, ``b`` and ``claude-sonnet-4-6``; the upstream recovers and a half-open probe of
    one of those records succeeds. Every name is cleared and a request by each is served;
    before, only the probed record was cleared and the others stayed cooling for the hour
    (CPA's probe-free recovery is its one state: this is our probe's equivalent)."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + TWO + PROBE)
    fakes.claude.fail_next(429, retry_after=3600)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, "a")
    state = proxy.service.pool.state
    for name in NAMES:
        assert await state.get_cooldown("claude-a.json", name) is not None
    prober = proxy.service.prober
    await until(lambda: prober.probes >= 1)
    for _ in range(100):
        if not await state.credential_cooldowns("claude-a.json"):
            break
        await asyncio.sleep(0.02)
    assert await state.credential_cooldowns("claude-a.json") == []
    assert prober.probes == 1  # one probe cleared them all (one a probe each, before)
    for name in ("a", "b"):
        await _chat(proxy.url, name)


async def test_a_back_off_left_with_cooling_off_follows_every_name(start_proxy, fakes, tmp_path):
    """CPA: TestManagerExecute_OAuthAliasBypassesBlockedRouteModel (one state, its back-off
    level included, for the upstream model and its aliases). With ``disable-cooling`` a
    429 cools nothing, but a back-off level already kept under ``claude-sonnet-4-6`` alone
    (here set as ``save-cooldown-status`` restores one written before the aliases were
    configured) is rewritten by a 429 on alias ``a``. It is now kept under every name, so a
    later success by alias ``b`` resets it; before, the rewritten record stayed under the
    upstream name alone, which a success by ``b`` never read, so once cooling was back on the
    next 429 started from the raised level."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ndisable-cooling: true\n' + TWO)
    state = proxy.service.pool.state
    await state.set_cooldown(CooldownRecord("claude-a.json", UPSTREAM, "claude", backoff_level=2))
    fakes.claude.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, "a")
    for name in NAMES:
        record = await state.get_cooldown("claude-a.json", name)
        assert record is not None and record.backoff_level == 2 and not record.blocks(time.time())
    await _chat(proxy.url, "b")
    assert await state.credential_cooldowns("claude-a.json") == []


async def test_a_probe_429_extends_every_name_of_the_upstream_model(start_proxy, fakes, tmp_path):
    """CPA: TestManagerExecute_OAuthAliasBypassesBlockedRouteModel (one state for the
    upstream model and its aliases). A 429 with an hour's Retry-After on alias ``a`` cools
    ``a``, ``b`` and ``claude-sonnet-4-6``; a half-open probe of one of them is answered 429
    with two hours. Every name now cools for the two hours; before, only the probed record
    was extended and the others came back after the first hour, to fail again."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + TWO + PROBE)
    fakes.claude.fail_next(429, retry_after=3600)
    with pytest.raises(openai.RateLimitError):
        await _chat(proxy.url, "a")
    fakes.claude.fail_next(429, retry_after=7200)
    state = proxy.service.pool.state
    await until(lambda: proxy.service.prober.probes >= 1)

    async def ends() -> list[float]:
        records = [await state.get_cooldown("claude-a.json", name) for name in NAMES]
        return [r.until() if r is not None else 0.0 for r in records]

    for _ in range(100):
        if min(await ends()) > time.time() + 7200 - 60:
            break
        await asyncio.sleep(0.02)
    assert min(await ends()) > time.time() + 7200 - 60
