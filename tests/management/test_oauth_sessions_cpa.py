"""CPA's oauth_sessions_test.go: what cancelling does to a sign-in that already ended, the
finished sign-in's one-minute tombstone, and a cancel that lands while the code is being
exchanged. Through the management API where the panel sees it; the tombstone's expiry on
the store itself (a second completion cannot be caused over HTTP)."""

from __future__ import annotations

import asyncio

import pytest

from cliproxy.management.oauth_sessions import COMPLETED_TTL, OAuthSessions
from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401
from tests.login.conftest import fetch_location
from tests.management.conftest import mcall
from tests.management.test_oauth_panel import HEAD, land, signin, start, status_of  # noqa: F401

GONE = (200, {"status": "error", "error": "unknown or expired state"})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_second_completion_does_not_extend_the_tombstone() -> None:
    """CPA: TestOAuthSessionStoreCompleteDoesNotExtendCompletedSession. The finished
    sign-in answers ``ok`` one minute from its first completion, however often it ends."""
    clock = Clock()
    store = OAuthSessions(clock)
    store.register("done-state", "codex", callback=False)
    store.complete("done-state")
    clock.now += 30
    store.complete("done-state")
    store.set_error("done-state", "late failure")  # nor does a late failure revive it
    session = store.get("done-state")
    assert session is not None and session.completed and not session.status
    clock.now += COMPLETED_TTL - 30 + 1
    assert store.get("done-state") is None


async def test_cancel_leaves_finished_and_failed_sign_ins_alone(mproxy, signin):  # noqa: F811
    """CPA: TestOAuthSessionStoreCancelIgnoresCompletedAndUnknown,
    TestOAuthSessionStoreCancelIgnoresErrorSession. A cancel of a finished sign-in says
    ``cancelled: false`` and its ``ok`` stays; a cancel of a failed one keeps its error for
    the panel to show."""
    proxy = await mproxy(HEAD)
    done = await start(proxy, "codex")
    await land(proxy, "codex", await fetch_location(done["url"]))
    assert await status_of(proxy, done["state"]) == (200, {"status": "ok"})
    not_cancelled = (200, {"status": "ok", "cancelled": False})
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={done['state']}") == not_cancelled
    assert await status_of(proxy, done["state"]) == (200, {"status": "ok"})

    signin.deny = True
    failed = await start(proxy, "anthropic")
    await land(proxy, "anthropic", await fetch_location(failed["url"]))
    failure = (200, {"status": "error", "error": "Bad request"})
    assert await status_of(proxy, failed["state"]) == failure
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={failed['state']}") == not_cancelled
    assert await status_of(proxy, failed["state"]) == failure

    assert await mcall(proxy, "DELETE", "/oauth-session?state=bad/state") == (
        400,
        {"status": "error", "error": "invalid state"},
    )


@pytest.mark.parametrize("name", ["anthropic", "codex", "antigravity"])
async def test_a_cancel_during_the_code_exchange_saves_nothing(mproxy, signin, tmp_path, name):  # noqa: F811
    """CPA: TestGuardOAuthSessionPendingForSave (its callback providers; xAI and Kimi's
    device polling is cancelled in test_oauth_device.py). The token endpoint holds its
    answer while the panel cancels: the tokens that then arrive are not saved, and the
    state is gone."""
    proxy = await mproxy(HEAD)
    signin.hold = asyncio.Event()
    body = await start(proxy, name)
    location = await fetch_location(body["url"])
    landing = asyncio.create_task(land(proxy, name, location))
    await asyncio.wait_for(signin.holding.wait(), 5)
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={body['state']}") == (
        200,
        {"status": "ok", "cancelled": True},
    )
    signin.hold.set()
    await asyncio.wait_for(landing, 5)
    await asyncio.sleep(0.05)  # time for a save that must not happen
    assert await status_of(proxy, body["state"]) == GONE
    auths = tmp_path / "auths"
    assert not auths.exists() or list(auths.iterdir()) == []
    assert not [
        c for c in proxy.service.pool.credentials() if c.provider in ("claude", "codex", "antigravity")
    ]
