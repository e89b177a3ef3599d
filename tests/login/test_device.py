"""The RFC 8628 polling core: pending, slow_down, expiry, the overall cap, cancellation,
and run_device_login end to end against the fake authorization server."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.core import oauth_error
from cliproxy.credentials.login.device import (
    PENDING,
    SLOW_DOWN,
    Pending,
    Polling,
    classify,
    poll_until,
    run_device_login,
)
from cliproxy.credentials.login.kimi import KimiDeviceFlow
from tests.login.conftest_device import *  # noqa: F403
from tests.login.conftest_device import FakeTime


def script(*answers: object) -> tuple[list[float], object]:
    """An attempt that returns ``answers`` one by one (raising the exceptions)."""
    calls: list[float] = []
    queue = list(answers)

    async def attempt() -> object:
        calls.append(0)
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return calls, attempt


async def poll(fake_time: FakeTime, attempt, **kw):
    args = {"provider": "kimi", "polling": fake_time.polling(), "interval": 5.0, "issued_at": fake_time.now}
    args.update({"expires_in": 600.0, "max_wait": 900.0, **kw})
    return await poll_until(attempt, **args)


async def test_pending_twice_then_done(fake_time) -> None:
    calls, attempt = script(PENDING, PENDING, {"access_token": "x"})
    assert await poll(fake_time, attempt) == {"access_token": "x"}
    assert len(calls) == 3 and fake_time.sleeps == [5.0, 5.0, 5.0]  # waits before each poll


async def test_first_now_polls_before_waiting(fake_time) -> None:
    _, attempt = script(PENDING, "done")
    assert await poll(fake_time, attempt, first_now=True) == "done"
    assert fake_time.sleeps == [5.0]


async def test_slow_down_adds_five_seconds_for_good(fake_time) -> None:
    _, attempt = script(PENDING, SLOW_DOWN, PENDING, SLOW_DOWN, "done")
    assert await poll(fake_time, attempt, first_now=True) == "done"
    assert fake_time.sleeps == [5.0, 10.0, 10.0, 15.0]  # each slow_down adds 5 s, kept after


async def test_interval_floor_and_server_interval(fake_time) -> None:
    _, attempt = script(PENDING, "done")
    await poll(fake_time, attempt, interval=1.0, min_interval=5.0)
    assert fake_time.sleeps == [5.0, 5.0]
    fake_time.sleeps.clear()
    _, attempt = script("done")
    await poll(fake_time, attempt, interval=12.0, min_interval=5.0)
    assert fake_time.sleeps == [12.0]


async def test_code_lifetime_ends_in_expired(fake_time) -> None:
    calls, attempt = script(*[PENDING] * 10)
    with pytest.raises(LoginError) as info:
        await poll(fake_time, attempt, expires_in=12.0)
    assert info.value.reason == "expired"
    assert len(calls) == 2  # polled at 5 s and 10 s, stopped at 15 s without a third call


async def test_overall_cap_ends_in_timeout(fake_time) -> None:
    calls, attempt = script(*[PENDING] * 10)
    with pytest.raises(LoginError) as info:
        await poll_until(
            attempt,
            provider="xai",
            polling=fake_time.polling(max_wait=20.0),
            interval=5.0,
            issued_at=fake_time.now,
            expires_in=600.0,
            max_wait=1800.0,
        )
    assert info.value.reason == "timeout" and len(calls) == 3
    assert "not approved in time" in info.value.message


async def test_the_wait_counts_from_when_the_code_was_issued(fake_time) -> None:
    _, attempt = script(PENDING)
    with pytest.raises(LoginError) as info:
        await poll(fake_time, attempt, issued_at=fake_time.now - 598.0)
    assert info.value.reason == "expired"


async def test_a_terminal_answer_stops_polling(fake_time) -> None:
    calls, attempt = script(PENDING, LoginError("denied", "no"), "never")
    with pytest.raises(LoginError) as info:
        await poll(fake_time, attempt)
    assert info.value.reason == "denied" and len(calls) == 2


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("authorization_pending", PENDING),
        ("slow_down", SLOW_DOWN),
        ("expired_token", "expired"),
        ("access_denied", "denied"),
        ("invalid_grant", "bad_response"),
    ],
)
def test_classify(code: str, outcome: object) -> None:
    if isinstance(outcome, Pending):
        assert classify("kimi", code) == outcome
        return
    with pytest.raises(LoginError) as info:
        classify("kimi", code, "details here")
    assert info.value.reason == outcome and info.value.provider == "kimi"


def test_oauth_error_shapes() -> None:
    assert oauth_error({"error": "slow_down", "error_description": "d"}) == ("slow_down", "d")
    assert oauth_error({"error": {"code": "access_denied", "message": "m"}}) == ("access_denied", "m")
    assert oauth_error({"error": {"type": "expired_token"}}) == ("expired_token", "")
    assert oauth_error({"access_token": "x"}) == ("", "")


async def test_a_real_wait_is_cancelled_at_once() -> None:
    """The wait between polls is an await: cancelling the task ends it now, not after 5 s."""
    _, attempt = script(PENDING, "done")
    task = asyncio.create_task(
        poll_until(
            attempt,
            provider="kimi",
            polling=Polling(),
            interval=5.0,
            issued_at=time.time(),
            expires_in=0,
            max_wait=60,
        )
    )
    await asyncio.sleep(0.05)
    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - began < 1.0


async def test_run_device_login_end_to_end(device_fake, http, fake_time, auth_dir) -> None:
    device_fake.answers = ["pending", "pending"]
    lines: list[str] = []
    saved = await run_device_login(
        KimiDeviceFlow(http, polling=fake_time.polling()), auth_dir, on_prompt=lines.append
    )
    assert saved.provider == "kimi" and saved.path.parent == auth_dir
    assert orjson.loads(saved.path.read_bytes())["access_token"] == "kimi-at-1"
    assert any(device_fake.base_url + "/device?user_code=KIMI-1234" in line for line in lines)
    assert any("KIMI-1234" in line for line in lines)
    assert str(saved.path) in lines[-1]
    assert not any("kimi-at-1" in line or "kimi-rt-1" in line for line in lines)  # no token shown


async def test_run_device_login_timeout_ends_a_real_wait(device_fake, http, auth_dir) -> None:
    """Kimi's 5 s interval with real sleeps: the 0.3 s timeout ends the sign-in first."""
    device_fake.answers = ["pending"] * 5
    began = time.monotonic()
    with pytest.raises(LoginError) as info:
        await run_device_login(KimiDeviceFlow(http), auth_dir, on_prompt=lambda _line: None, timeout=0.3)
    assert info.value.reason == "timeout"
    assert time.monotonic() - began < 2.0
    assert list(auth_dir.iterdir()) == []


async def test_a_silent_server_is_unreachable_after_the_request_timeout(device_fake, http, auth_dir) -> None:
    device_fake.delay = 5.0
    flow = KimiDeviceFlow(http, polling=Polling(request_timeout=0.2))
    began = time.monotonic()
    with pytest.raises(LoginError) as info:
        await flow.start()
    assert info.value.reason == "unreachable" and "0.2s" in info.value.message
    assert time.monotonic() - began < 2.0
