"""Fixtures for the sign-in tests: the fake authorization server with every provider's
URLs pointed at it, our HTTP client, and a browser that follows redirects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from cliproxy.credentials.login.callback import run_callback_login
from cliproxy.providers.http import HttpClient
from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401

__all__ = ["Page", "authorize", "browse", "fetch_location", "login_in_browser"]


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(connect_timeout=5.0, first_byte_timeout=10.0, idle_timeout=10.0)
    yield client
    await client.close()


@pytest.fixture
def providers_at(auth_server: AuthServerFake, monkeypatch: pytest.MonkeyPatch) -> AuthServerFake:  # noqa: F811
    """Every Claude, Codex and Antigravity URL points at the fake (the env overrides)."""
    for provider in ("CLAUDE", "CODEX", "ANTIGRAVITY"):
        monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_BASE", auth_server.base)
    return auth_server


@dataclass(slots=True)
class Page:
    status: int
    url: str
    text: str


async def browse(url: str) -> Page:
    """What a browser does with ``url``: follow the redirects, show the last page."""
    timeout = aiohttp.ClientTimeout(total=40)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        return Page(resp.status, str(resp.url), await resp.text())


async def fetch_location(url: str) -> str:
    """Where the authorize page sends the browser (without going there)."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        assert resp.status == 302, await resp.text()
        return resp.headers["Location"]


async def login_in_browser(flow, auth_dir, *, redirect_uri: str | None, **kw):
    """Run :func:`run_callback_login` while playing the browser: open the printed URL and
    follow its redirects to our callback server. Returns (saved, the browser's page)."""
    urls: asyncio.Queue[str] = asyncio.Queue()
    kw.setdefault("timeout", 20.0)
    task = asyncio.create_task(
        run_callback_login(
            flow,
            auth_dir,
            open_browser=False,
            port=0,
            redirect_uri=redirect_uri,
            on_url=urls.put_nowait,
            say=lambda _line: None,
            **kw,
        )
    )
    url = await urls.get()
    page = await browse(url)
    return await task, page


async def authorize(flow, redirect_uri: str = "http://127.0.0.1:9/callback"):
    """Start ``flow`` and play the user at the authorize page, without a callback server:
    returns (started, code, state) as the redirect carries them."""
    started = await flow.start(redirect_uri=redirect_uri)
    query = parse_qs(urlsplit(await fetch_location(started.url)).query)
    return started, query["code"][0], query["state"][0]
