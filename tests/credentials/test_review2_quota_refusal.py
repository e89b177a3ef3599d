"""A token refused while the account's quota ran out (2541ac6: the 401's record keeps the
running quota) is still forgotten when the account gets new tokens (a refresh, a re-login:
``Pool.forget_refusals``), only the quota staying. Before, the carried quota flag made the
whole record look like a quota one, so the refusal's 30 minutes stayed: a refresh after a
401 left the account out for half an hour although its quota came back in a minute."""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.errors import CooldownError
from cliproxy.state.memory import MemoryState

from .conftest import Clock, cred

OLD = {"access_token": "at-old", "refresh_token": "rt-old"}
NEW = {"access_token": "at-new", "refresh_token": "rt-new"}


async def _refused_during_quota(clock: Clock, retry_after: float) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    pool.replace([cred("a", metadata=OLD)])
    await pool.mark_failure(pool.get("a"), "m", 429, retry_after=retry_after)  # type: ignore[arg-type]
    await pool.mark_failure(pool.get("a"), "m", 401)  # type: ignore[arg-type]  # in flight meanwhile
    return pool


async def test_new_tokens_forget_the_refusal_once_the_quota_is_back(clock: Clock) -> None:
    pool = await _refused_during_quota(clock, 60.0)
    clock.advance(120.0)  # the quota is back; the refusal's 30 minutes are not
    with pytest.raises(CooldownError):
        await pool.pick("m")
    renewed = pool.replace([cred("a", metadata=NEW)])
    assert renewed == ["a"]
    assert await pool.forget_refusals(renewed) == ["a"]
    assert (await pool.pick("m")).id == "a"


async def test_new_tokens_keep_a_quota_still_running(clock: Clock) -> None:
    pool = await _refused_during_quota(clock, 600.0)
    clock.advance(60.0)
    renewed = pool.replace([cred("a", metadata=NEW)])
    await pool.forget_refusals(renewed)
    with pytest.raises(CooldownError):  # the quota is the account's: new tokens do not end it
        await pool.pick("m")
    clock.advance(541.0)  # its reset, not the refusal's 30 minutes
    assert (await pool.pick("m")).id == "a"
