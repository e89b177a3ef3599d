"""Subscription pools whose accounts hit their limits and come back, through a running
proxy and the fake Anthropic upstream: an account a half-open probe (or the operator's
reset-quota) finds serving again is used again at once, quota steering included, and an
account cooled as a whole by a rejected shared window is back after one probe."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import pytest

from cliproxy.state.base import CooldownRecord
from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys
from tests.e2e.test_oauth_files import claude_file, write_auth
from tests.e2e.test_probes import probes, until
from tests.e2e.test_quota_steering import unified
from tests.fakes.server import Behavior
from tests.management.conftest import MANAGEMENT_KEY, mcall

HOUR = 3600
STEER_PROBE = "routing:\n  quota-steering: 90\n  probe: {enabled: true, after: 1s, interval: 0.2s}\n"


def five_hours_rejected(now: float) -> dict[str, Any]:
    """Anthropic's headers of a 429 that rejects the account's shared 5-hour window."""
    reset = int(now + HOUR)
    return {"status": "rejected", "5h-status": "rejected", "5h-reset": reset, "reset": reset}


async def limit_a(proxy: Any, fakes: Any) -> None:
    """sk-a answers one 429 that rejects its 5-hour window (then it has recovered); sk-b
    says 10 % used. Two requests: one of them meets the 429 and moves on to sk-b."""
    fakes.claude.answer_headers["sk-b"] = unified(0.10)
    fakes.claude.script(
        Behavior(status=429, key="sk-a", message="5h", unified=five_hours_rejected(time.time()))
    )
    for _ in range(2):
        assert (await _post(proxy, MSG))[0] == 200
    assert "sk-a" in _keys(fakes.claude)
    marks = await proxy.service.state.get_headroom()
    assert sorted(round(m.used_percent) for m in marks.values()) == [10, 100]


async def cooling(proxy: Any) -> int:
    pool = proxy.service.pool
    return sum([len(await pool.cooldowns(c)) for c in pool.credentials()])


async def test_an_account_a_probe_finds_back_takes_requests_again_with_steering(start_proxy, fakes):
    """With quota-steering and probes on, an account whose 5-hour window was rejected is
    found serving by a probe: its cooldown is cleared and round-robin sends it its share at
    once. Before, the 100 % its 429 left in the steering estimate stayed until the window's
    old reset an hour later, so every request still went to the other account."""
    proxy = await start_proxy(two_claude_keys(fakes, STEER_PROBE))
    await limit_a(proxy, fakes)
    await until(lambda: proxy.service.prober.probes >= 1)
    for _ in range(100):
        if not await cooling(proxy):
            break
        await asyncio.sleep(0.02)
    assert not await cooling(proxy)
    fakes.claude.clear()
    for _ in range(4):
        assert (await _post(proxy, MSG))[0] == 200
    assert sorted(_keys(fakes.claude)) == ["sk-a", "sk-a", "sk-b", "sk-b"]


async def test_reset_quota_lets_steering_use_the_account_again(start_proxy, fakes, monkeypatch):
    """The operator's POST /v0/management/reset-quota on the limited account: its cooldown
    and its steering estimate both go, and it takes its share at once. Before, the
    estimate's 100 % kept steering every request away for the hour."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    proxy = await start_proxy(two_claude_keys(fakes, "routing:\n  quota-steering: 90\n"))
    await limit_a(proxy, fakes)
    cred = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-a")
    status, body = await mcall(proxy, "POST", "/reset-quota", {"auth_index": cred.index})
    assert status == 200, body
    assert not await cooling(proxy)
    assert list(await proxy.service.state.get_headroom()) == [
        c.id for c in proxy.service.pool.credentials() if c.api_key == "sk-b"
    ]
    fakes.claude.clear()
    for _ in range(4):
        assert (await _post(proxy, MSG))[0] == 200
    assert sorted(_keys(fakes.claude)) == ["sk-a", "sk-a", "sk-b", "sk-b"]


ALIAS = 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "sonnet"}]\n'


async def test_a_rejected_shared_window_is_lifted_by_one_probe(start_proxy, fakes, tmp_path):
    """A Claude subscription account rejects its 5-hour window: the model asked and the
    whole account cool for the hour (two records). The window starts over early; the first
    probe generates with the model asked and clears both, so the next request is served.
    Before, the first probe took the account-wide record, generated with whatever model the
    account lists first and cleared only that record: the model asked stayed cooling until a
    second probe an interval later."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    probe = "routing:\n  probe: {enabled: true, after: 1s, interval: 1s}\n"
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{ALIAS}{probe}')
    fakes.claude.script(Behavior(status=429, message="5h", unified=five_hours_rejected(time.time())))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        ask = {"model": "sonnet", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(**ask)
        state = proxy.service.pool.state
        assert {r.model for r in await state.credential_cooldowns("claude-a.json")} >= {"", "sonnet"}
        prober = proxy.service.prober
        await until(lambda: prober.probes >= 1)
        for _ in range(25):
            if not await cooling(proxy):
                break
            await asyncio.sleep(0.02)
        assert prober.probes == 1
        assert not await cooling(proxy)
        assert probes(fakes.claude)[0].json["model"] == "claude-sonnet-4-6"
        reply = await client.messages.create(**ask)
    assert reply.content[0].type == "text"


async def test_an_account_wide_probe_sends_the_upstream_name_of_an_aliased_model(
    start_proxy, fakes, tmp_path
):
    """An account cooling as a whole (no model's record: an account-wide refusal) is probed
    with the first model it serves. With an OAuth alias that is the name clients ask by
    ("quick"); the probe sends the upstream's own name, which Anthropic knows. Before, it
    sent the alias: the real upstream answers 404 and the account stayed out until its old
    reset."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    probe = "routing:\n  probe: {enabled: true, after: 1s, interval: 0.2s}\n"
    first = 'oauth-model-alias:\n  claude: [{name: "claude-haiku-4-5-20251001", alias: "quick"}]\n'
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n{first}{probe}')
    assert proxy.service.models.models_for(proxy.service.pool.get("claude-a.json"))[0].id == "quick"
    now = time.time()
    state = proxy.service.pool.state
    await state.set_cooldown(
        CooldownRecord("claude-a.json", "", "claude", now + HOUR, "unauthorized", updated_at=now - 5)
    )
    proxy.service.prober.cooled("claude-a.json")  # (the pool's hook, as a failure calls it)
    assert await cooling(proxy)
    await until(lambda: bool(probes(fakes.claude)))
    assert probes(fakes.claude)[0].json["model"] == "claude-haiku-4-5-20251001"
    await until(lambda: proxy.service.prober.probes >= 1)
    for _ in range(50):
        if not await cooling(proxy):
            break
        await asyncio.sleep(0.02)
    assert not await cooling(proxy)
