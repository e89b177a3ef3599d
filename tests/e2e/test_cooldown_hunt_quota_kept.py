"""A model's quota cooldown outlives a different failure of the same account and model,
through a running proxy and the fake Anthropic upstream.

Two requests are in flight on one account when its quota runs out: one gets the 429 that
says when the quota comes back (an hour), the other fails a moment later for another reason
(a 500, a 401). CPA keeps the model's quota state through such a failure (MarkResult in
sdk/cliproxy/auth/conductor_cooldown.go changes ``state.Quota`` only on a 429, and
``availabilityBlock`` blocks until the later of the retry time and the quota's recovery), so
the account stays out for the hour. Before, the later failure replaced the record, and the
account came back after the transient cooldown (here 1 s) or 30 minutes, to be refused
again."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post
from tests.fakes.server import Behavior

HOUR = 3600


def primary_and_spare(fakes) -> str:
    """sk-a is tried first while it is free (priority); sk-b serves meanwhile."""
    return f"""
api-keys: ["{KEY}"]
transient-error-cooldown-seconds: 1
claude-api-key:
  - api-key: "sk-a"
    priority: 10
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""


@pytest.mark.parametrize("late", [500, 401])
async def test_a_later_failure_keeps_the_quota_cooldown(start_proxy, fakes, late):
    proxy = await start_proxy(primary_and_spare(fakes))
    # the first request to sk-a fails late (after the second's 429), the second gets the 429
    fakes.claude.script(
        Behavior(status=late, key="sk-a", delay=0.4),
        Behavior(status=429, key="sk-a", retry_after=HOUR),
    )
    first = asyncio.create_task(_post(proxy, MSG))
    await asyncio.sleep(0.1)  # the first is at sk-a, waiting for its answer
    second = await _post(proxy, MSG)
    assert second[0] == 200  # sk-a's 429, then sk-b
    assert (await first)[0] == 200  # sk-a's late failure, then sk-b
    cred = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-a")
    (record,) = await proxy.service.pool.cooldowns(cred)
    assert record.until() > time.time() + HOUR - 60
    await asyncio.sleep(1.1)  # past the transient cooldown
    fakes.claude.clear()
    for _ in range(3):
        assert (await _post(proxy, MSG))[0] == 200
    assert _keys(fakes.claude) == ["sk-b"] * 3  # sk-a's quota is still gone for the hour
