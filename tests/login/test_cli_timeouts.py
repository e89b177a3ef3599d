"""One token-endpoint call for every flow, with a per-call limit: a sign-in server that
accepts the connection and never answers ends the sign-in with ``unreachable`` after the
request timeout, for the callback flows as for the device flows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from cliproxy.credentials.login import core
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.codex import CodexLogin
from cliproxy.credentials.login.device import Polling
from cliproxy.credentials.login.kimi import KimiDeviceFlow
from tests.login.conftest import authorize


@pytest.fixture
async def silent() -> AsyncIterator[str]:
    """A server that takes every request and answers none (within the test)."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    release.set()
    await runner.cleanup()


@pytest.mark.parametrize("cls", [ClaudeLogin, CodexLogin], ids=["claude", "codex"])
async def test_silent_token_endpoint_of_a_callback_flow_is_unreachable(
    cls, http, providers_at, silent, monkeypatch
) -> None:
    flow = cls(http)
    started, code, state = await authorize(flow)
    monkeypatch.setenv(f"CLIPROXY_OAUTH_{flow.provider.upper()}_TOKEN", silent + "/token")
    monkeypatch.setattr(core, "REQUEST_TIMEOUT", 0.2, raising=False)
    with pytest.raises(LoginError) as caught:
        await asyncio.wait_for(flow.finish(started, code=code, state=state), 5)
    assert caught.value.reason == "unreachable"
    assert "0.2s" in caught.value.message and "code exchange" in caught.value.message


async def test_device_flows_use_the_same_call_and_limit(http, silent, monkeypatch) -> None:
    monkeypatch.setenv("CLIPROXY_OAUTH_KIMI_BASE", silent)
    flow = KimiDeviceFlow(http, polling=Polling(request_timeout=0.2))
    with pytest.raises(LoginError) as caught:
        await asyncio.wait_for(flow.start(), 5)
    assert caught.value.reason == "unreachable"
    assert "kimi" in caught.value.message and "0.2s" in caught.value.message


def test_the_default_limit_is_thirty_seconds() -> None:
    assert core.REQUEST_TIMEOUT == 30.0
    assert Polling().request_timeout == 30.0
