"""``GET /management.html`` answers without a key (a static page, as CPA serves it), so
when the page cannot be had it must not tell a caller from elsewhere more than that."""

from __future__ import annotations

import aiohttp
import pytest


@pytest.fixture
def no_release_api(monkeypatch):
    monkeypatch.setenv("CLIPROXY_PANEL_RELEASE_API", "http://127.0.0.1:9/")  # nothing listens there
    monkeypatch.delenv("MANAGEMENT_STATIC_PATH", raising=False)
    monkeypatch.delenv("WRITABLE_PATH", raising=False)


async def _panel(url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url + "/management.html", headers=headers) as r:
        return r.status, await r.text()


async def test_a_remote_caller_is_not_shown_the_servers_path_or_error(start_proxy, no_release_api, tmp_path):
    """Before, anyone who reached the proxy (no key asked, management on or off) was shown
    the panel file's path on the server (the OS user's home, typically) and the download's
    network error (hosts and addresses of the server's network). Now a caller elsewhere
    (here: forwarded by a reverse proxy for another client) gets a page that says only
    that the panel is unavailable; the operator on the machine still sees why."""
    proxy = await start_proxy()
    status, page = await _panel(proxy.url, {"X-Forwarded-For": "203.0.113.7"})
    assert status == 503
    assert str(tmp_path) not in page and "127.0.0.1:9" not in page and "Reason" not in page
    status, page = await _panel(proxy.url, {})
    assert status == 503
    assert str(tmp_path / "static" / "management.html") in page and "Reason" in page
