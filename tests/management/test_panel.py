"""GET /management.html: cached page, download from a (local fake) GitHub release with
digest check, disable-control-panel, disable-auto-update-panel, throttling."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cliproxy.management.panel import panel_path, release_url, static_dir
from cliproxy.server.panel import PANEL

PAGE = b"<!doctype html><title>panel v2</title>"
OLD = b"<!doctype html><title>panel v1</title>"
DEFAULT_RELEASE = "/repos/router-for-me/Cli-Proxy-API-Management-Center/releases/latest"


class ReleaseServer:
    """A fake GitHub API: the latest release lists management.html, whose download redirects."""

    def __init__(self) -> None:
        self.page = PAGE
        self.digest: str | None = None  # None: the page's real digest
        self.asset_name = "management.html"
        self.paths: list[str] = []
        self.hold: asyncio.Event | None = None  # when set: the release answer waits for it
        self.release_status = 200
        app = web.Application()
        app.router.add_get("/repos/{owner}/{name}/releases/latest", self.release)
        app.router.add_get("/download/management.html", self.download)
        app.router.add_get("/cdn/management.html", self.cdn)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def release(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self.hold is not None:
            await self.hold.wait()
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["User-Agent"] == "cliproxy-management-updater"
        if not 200 <= self.release_status < 300:
            return web.Response(status=self.release_status, text="missing")
        digest = self.digest if self.digest is not None else hashlib.sha256(self.page).hexdigest()
        asset = {
            "name": self.asset_name,
            "browser_download_url": self.url + "/download/management.html",
            "digest": f"sha256:{digest}",
        }
        return web.json_response({"tag_name": "v2", "assets": [asset]}, status=self.release_status)

    async def download(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        raise web.HTTPFound("/cdn/management.html")

    async def cdn(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        return web.Response(
            body=self.page, content_type="application/octet-stream", status=self.release_status
        )


@pytest.fixture
async def releases(monkeypatch) -> AsyncIterator[ReleaseServer]:
    fake = ReleaseServer()
    await fake.server.start_server()
    monkeypatch.setenv("CLIPROXY_PANEL_RELEASE_API", fake.url)
    monkeypatch.delenv("MANAGEMENT_STATIC_PATH", raising=False)
    monkeypatch.delenv("WRITABLE_PATH", raising=False)
    yield fake
    await fake.server.close()


async def get_panel(proxy) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/management.html") as r:
        return r.status, await r.read(), r.headers.get("Content-Type", "")


async def test_first_access_downloads_verifies_and_caches(start_proxy, releases, tmp_path):
    proxy = await start_proxy()
    status, body, ctype = await get_panel(proxy)
    assert (status, body) == (200, PAGE) and ctype.startswith("text/html")
    assert (tmp_path / "static" / "management.html").read_bytes() == PAGE  # <config dir>/static
    assert releases.paths == [DEFAULT_RELEASE, "/download/management.html", "/cdn/management.html"]
    assert await get_panel(proxy) == (200, PAGE, ctype)
    assert len(releases.paths) == 3  # served from the cache


async def test_digest_mismatch_is_rejected_and_not_cached(start_proxy, releases, tmp_path):
    releases.digest = "00" * 32
    proxy = await start_proxy()
    status, body, ctype = await get_panel(proxy)
    assert status == 503 and ctype.startswith("text/html")
    assert b"digest mismatch" in body and b"Control panel unavailable" in body
    assert not (tmp_path / "static" / "management.html").exists()
    calls = len(releases.paths)
    assert (await get_panel(proxy))[0] == 503
    assert len(releases.paths) == calls  # at most one attempt every 30 seconds


async def test_release_without_the_asset(start_proxy, releases, tmp_path):
    releases.asset_name = "other.html"
    proxy = await start_proxy()
    status, body, _ = await get_panel(proxy)
    assert status == 503 and b"management.html not found in the latest release" in body


async def test_a_refused_release_query_is_an_error(start_proxy, releases, tmp_path):
    """CPA: TestGetBytesRejectsErrorStatus, TestGetBytesReturnsBodyAndSendsHeaders (the
    fake checks the Accept and User-Agent headers on every release query): a 404 from the
    release API is an error naming the status, and no page is written."""
    releases.release_status = 404
    proxy = await start_proxy()
    status, body, _ = await get_panel(proxy)
    assert status == 503 and b"answered 404" in body
    assert not (tmp_path / "static" / "management.html").exists()


async def test_any_success_status_is_accepted(start_proxy, releases, tmp_path):
    """CPA: TestGetBytesReturnsBodyAndSendsHeaders, with httpfetch.GetBytes' status rule
    (any 2xx is a success, TestGetBytesRejectsErrorStatus the rest): a release query and a
    download answered 203 still give the page; before, only 200 was taken."""
    releases.release_status = 203
    proxy = await start_proxy()
    assert (await get_panel(proxy))[:2] == (200, PAGE)
    assert (tmp_path / "static" / "management.html").read_bytes() == PAGE


async def test_a_download_over_the_size_limit_is_refused(start_proxy, releases, tmp_path, monkeypatch):
    """CPA: TestGetBytesEnforcesMaxSize (the limit lowered to 16 bytes: the real one is
    50 MiB, as CPA's maxAssetDownloadSize)."""
    monkeypatch.setattr("cliproxy.management.panel.MAX_SIZE", 16)
    proxy = await start_proxy()
    status, body, _ = await get_panel(proxy)
    assert status == 503 and b"download larger than 16 bytes" in body
    assert not (tmp_path / "static" / "management.html").exists()


async def test_disabled_control_panel_is_404(start_proxy, releases, tmp_path):
    """CPA: TestAutoUpdateSkipReason (its cluster-mode row: no such mode here)."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "management.html").write_bytes(OLD)
    proxy = await start_proxy("remote-management:\n  disable-control-panel: true\n")
    assert (await get_panel(proxy))[0] == 404
    assert releases.paths == []


async def test_auto_update_off_serves_the_cache_without_download(
    start_proxy, releases, tmp_path, monkeypatch
):
    """CPA: TestAutoUpdateSkipReason (its cluster-mode row: no such mode here)."""
    static = tmp_path / "elsewhere"
    static.mkdir()
    (static / "management.html").write_bytes(OLD)
    monkeypatch.setenv("MANAGEMENT_STATIC_PATH", str(static))
    proxy = await start_proxy("remote-management:\n  disable-auto-update-panel: true\n")
    assert (await get_panel(proxy))[:2] == (200, OLD)
    await asyncio.sleep(0.05)
    assert releases.paths == [] and not proxy.app[PANEL].tasks


async def test_auto_update_off_still_fetches_a_missing_page(start_proxy, releases, tmp_path):
    proxy = await start_proxy("remote-management:\n  disable-auto-update-panel: true\n")
    assert (await get_panel(proxy))[:2] == (200, PAGE)


async def test_auto_update_on_refreshes_a_cached_page_in_background(start_proxy, releases, tmp_path):
    """CPA: TestAutoUpdateSkipReason (its cluster-mode row: no such mode here)."""
    (tmp_path / "static").mkdir()
    page = tmp_path / "static" / "management.html"
    page.write_bytes(OLD)
    proxy = await start_proxy(
        "remote-management:\n  panel-github-repository: https://github.com/acme/panel.git\n"
    )
    releases.hold = asyncio.Event()  # the update cannot finish before the first answer
    assert (await get_panel(proxy))[:2] == (200, OLD)  # the cached page answers at once
    releases.hold.set()
    updater = proxy.app[PANEL]
    await asyncio.gather(*updater.tasks)
    assert page.read_bytes() == PAGE
    assert releases.paths[0] == "/repos/acme/panel/releases/latest"
    assert (await get_panel(proxy))[:2] == (200, PAGE)
    assert not updater.tasks  # not due again for 3 hours


def test_release_url_forms(monkeypatch):
    monkeypatch.delenv("CLIPROXY_PANEL_RELEASE_API", raising=False)
    api = "https://api.github.com/repos/{}/releases/latest"
    assert release_url("") == api.format("router-for-me/Cli-Proxy-API-Management-Center")
    assert release_url("acme/panel") == api.format("acme/panel")
    assert release_url("https://github.com/acme/panel.git") == api.format("acme/panel")
    assert release_url("https://api.github.com/repos/acme/panel") == api.format("acme/panel")
    assert release_url("https://example.com/x") == api.format("router-for-me/Cli-Proxy-API-Management-Center")
    monkeypatch.setenv("CLIPROXY_PANEL_RELEASE_API", "http://127.0.0.1:9/")
    assert release_url("acme/panel") == "http://127.0.0.1:9/repos/acme/panel/releases/latest"


def test_static_dir_order(monkeypatch, tmp_path):
    config = tmp_path / "config.yaml"
    monkeypatch.delenv("MANAGEMENT_STATIC_PATH", raising=False)
    monkeypatch.delenv("WRITABLE_PATH", raising=False)
    assert panel_path(config) == tmp_path / "static" / "management.html"
    assert static_dir(None) is None and panel_path(None) is None
    monkeypatch.setenv("WRITABLE_PATH", str(tmp_path / "w"))
    assert static_dir(config) == tmp_path / "w" / "static"
    monkeypatch.setenv("MANAGEMENT_STATIC_PATH", str(tmp_path / "p" / "management.html"))
    assert static_dir(config) == tmp_path / "p"
    assert panel_path(config) == Path(tmp_path / "p" / "management.html")
