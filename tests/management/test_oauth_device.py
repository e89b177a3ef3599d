"""Sign-in from the management panel, device flows (Kimi, xAI), plus the rules shared with
plugin logins: a plugin for the same provider wins, a plugin's callback is handed over as
CPA's ``.oauth-<provider>-<state>.oauth`` file, and closing the proxy ends every sign-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.login.device import Polling
from cliproxy.management.oauth_sessions import OAuthSessions
from cliproxy.server.management import LOGINS
from cliproxy.server.routes import MANAGEMENT_APP
from tests.fakes.oauth_device import DeviceAuthFake
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_management_plugins import LOGIN

HEAD = 'api-keys: ["k-client"]\n'


class Gate:
    """Device-poll waits that end only when the test says so (and a clock they move), so
    the test sees ``wait`` for as long as it likes and no real 5 s interval passes."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeping = asyncio.Queue[float]()
        self._open = asyncio.Queue[None]()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeping.put_nowait(seconds)
        await self._open.get()
        self.now += seconds

    async def release(self) -> None:
        """Let the poll that is waiting (or the next one) go."""
        await asyncio.wait_for(self.sleeping.get(), 5)
        self._open.put_nowait(None)

    def polling(self) -> Polling:
        return Polling(sleep=self.sleep, clock=self.clock)


@pytest.fixture
async def device() -> AsyncIterator[DeviceAuthFake]:
    async with DeviceAuthFake(expires_in=10 * 24 * 3600) as fake:
        yield fake


@pytest.fixture
def gated(device: DeviceAuthFake, monkeypatch: pytest.MonkeyPatch) -> Gate:
    device.point_env(monkeypatch)
    return Gate()


def store_of(proxy: Any) -> OAuthSessions:
    return proxy.app[MANAGEMENT_APP][LOGINS].oauth


async def status_of(proxy: Any, state: str) -> dict[str, Any]:
    status, body = await mcall(proxy, "GET", f"/get-auth-status?state={state}")
    assert status == 200
    return body


async def until_done(proxy: Any, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (body := await status_of(proxy, state))["status"] == "wait":
        assert time.monotonic() < deadline, "the sign-in did not end"
        await asyncio.sleep(0.02)
    return body


async def started(proxy: Any, gate: Gate, name: str) -> dict[str, Any]:
    store_of(proxy).polling = gate.polling()
    status, body = await mcall(proxy, "GET", f"/{name}-auth-url?is_webui=true")
    assert status == 200, body
    return body


async def test_kimi_device_sign_in(mproxy, device, gated, tmp_path):
    proxy = await mproxy(HEAD)
    device.answers = ["pending", "slow_down"]
    body = await started(proxy, gated, "kimi")
    assert body == {
        "status": "ok",
        "url": f"{device.base_url}/device?user_code=KIMI-1234",
        "state": body["state"],
        "flow": "device",
        "user_code": "KIMI-1234",
        "expires_in": 600,
    }
    for _ in range(2):  # pending, slow_down: still waiting
        await gated.release()
        await asyncio.sleep(0.05)
        assert await status_of(proxy, body["state"]) == {"status": "wait"}
    await gated.release()
    assert await until_done(proxy, body["state"]) == {"status": "ok"}
    assert gated.now - 1_800_000_000.0 == 5 + 5 + 10  # slow_down added 5 s
    files = list((tmp_path / "auths").glob("kimi-*.json"))
    assert len(files) == 1
    saved = orjson.loads(files[0].read_bytes())
    assert saved["type"] == "kimi" and saved["device_id"]
    assert [c.access_token for c in proxy.service.pool.credentials() if c.provider == "kimi"] == [
        saved["access_token"]
    ]


async def test_xai_device_sign_in_and_a_second_one_replaces(mproxy, device, gated, tmp_path):
    proxy = await mproxy(HEAD)
    for round_ in range(2):
        device.answers = ["pending"]
        body = await started(proxy, gated, "xai")
        assert body["flow"] == "device" and body["user_code"] == "ABCD-1234" and body["expires_in"] == 600
        await asyncio.wait_for(gated.sleeping.get(), 5)  # xAI polled at once: pending
        assert await status_of(proxy, body["state"]) == {"status": "wait"}
        gated._open.put_nowait(None)
        assert await until_done(proxy, body["state"]) == {"status": "ok"}, round_
    files = [p.name for p in (tmp_path / "auths").iterdir()]
    assert files == ["xai-user@example.com.json"]
    xai = [c for c in proxy.service.pool.credentials() if c.provider == "xai"]
    assert (
        len(xai) == 1
        and xai[0].access_token == orjson.loads((tmp_path / "auths" / files[0]).read_bytes())["access_token"]
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("denied", "Authentication failed: kimi sign-in was denied by the user"),
        ("expired", "Authentication failed: the kimi device code expired"),
    ],
)
async def test_kimi_denied_or_expired(mproxy, device, gated, tmp_path, answer, error):
    proxy = await mproxy(HEAD)
    device.answers = [answer]
    body = await started(proxy, gated, "kimi")
    await gated.release()
    assert await until_done(proxy, body["state"]) == {"status": "error", "error": error}
    assert list((tmp_path / "auths").iterdir()) == []


async def test_a_device_code_that_runs_out(mproxy, device, gated):
    """The code's own lifetime passes while the user has not approved."""
    proxy = await mproxy(HEAD)
    device.answers = ["pending"] * 10
    body = await started(proxy, gated, "xai")
    await asyncio.wait_for(gated.sleeping.get(), 5)
    gated.now += 700  # past the code's 600 s
    gated._open.put_nowait(None)
    assert await until_done(proxy, body["state"]) == {
        "status": "error",
        "error": "Authentication failed: the xai device code expired before it was approved",
    }


async def test_device_start_failure_is_cpas_500(mproxy, device, gated):
    proxy = await mproxy(HEAD)
    await device.stop()  # the sign-in server is gone
    assert await mcall(proxy, "GET", "/xai-auth-url") == (
        500,
        {"error": "failed to start device authorization flow"},
    )
    assert await mcall(proxy, "GET", "/kimi-auth-url") == (
        500,
        {"error": "failed to generate authorization url"},
    )


async def test_cancel_and_shutdown_end_the_polling(mproxy, device, gated, tmp_path):
    proxy = await mproxy(HEAD)
    first = await started(proxy, gated, "kimi")
    second = await started(proxy, gated, "kimi")
    await asyncio.wait_for(gated.sleeping.get(), 5)
    await asyncio.wait_for(gated.sleeping.get(), 5)
    store = store_of(proxy)
    tasks = [store.get(first["state"]).task, store.get(second["state"]).task]
    assert await mcall(proxy, "DELETE", f"/oauth-session?state={first['state']}") == (
        200,
        {"status": "ok", "cancelled": True},
    )
    await asyncio.sleep(0)
    assert tasks[0].cancelled() and not tasks[1].done()
    await proxy.close()  # the management app's cleanup cancels what is left
    assert tasks[1].cancelled()
    assert len(store) == 0 and device.polls("kimi") == []
    assert list((tmp_path / "auths").iterdir()) == []


# -- plugins ----------------------------------------------------------------------------------


async def test_a_plugin_for_the_same_provider_still_wins(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    source = LOGIN.replace('identifier = "acme"', 'identifier = "kimi"')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": source}, {"acme": {}})
    assert await mcall(proxy, "GET", "/kimi-auth-url") == (
        200,
        {"status": "ok", "url": "https://login.example/authorize?x=1", "state": "st-1"},
    )
    assert len(store_of(proxy)) == 0  # no built-in session was opened
    assert await status_of(proxy, "st-1") == {"status": "wait"}


async def test_a_plugin_login_callback_is_handed_over_as_cpas_file(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA's oauth_callback_test: the plugin reads ``.oauth-<provider>-<state>.oauth``."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": LOGIN}, {"acme": {}})
    assert (await mcall(proxy, "GET", "/acme-auth-url"))[0] == 200
    assert await mcall(proxy, "GET", "/oauth-callback?state=st-1&code=test-code") == (200, {"status": "ok"})
    path = tmp_path / "auths" / ".oauth-acme-st-1.oauth"
    assert orjson.loads(path.read_bytes()) == {"code": "test-code", "state": "st-1", "error": ""}
    assert path.stat().st_mode & 0o777 == 0o600
    assert await mcall(proxy, "GET", "/oauth-callback?state=st-1&code=c&provider=codex") == (
        400,
        {"status": "error", "error": "provider does not match state"},
    )


async def test_the_browser_reaches_oauth_callback_without_the_management_key(
    start_proxy, fakes, tmp_path, monkeypatch
):
    """A plugin's provider sends the browser to ``/v0/management/oauth-callback``, and a
    browser has no management key: CPA serves that route outside the key check (only
    whether management is on at all). CPA: TestOAuthCallbackRouteSkipsManagementKeyMiddleware."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": LOGIN}, {"acme": {}})
    assert (await mcall(proxy, "GET", "/acme-auth-url"))[0] == 200
    async with (
        aiohttp.ClientSession() as session,
        session.get(proxy.url + "/v0/management/oauth-callback?state=st-1&code=c-1") as resp,
    ):
        assert resp.status == 200 and await resp.json() == {"status": "ok"}
    assert (tmp_path / "auths" / ".oauth-acme-st-1.oauth").is_file()
    async with aiohttp.ClientSession() as session, session.get(proxy.url + "/v0/management/config") as resp:
        assert resp.status == 401  # everything else still needs the key
