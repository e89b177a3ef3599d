"""``GET /latest-version`` (the package index).

CPA: ``internal/api/handlers/management/config_basic.go`` (``GetLatestVersion``: 200
``{"latest-version"}``, 502 ``request_failed`` / ``unexpected_status`` / ``decode_failed``).
cliproxy asks PyPI for its own package instead of GitHub for CPA's release. The plugin
store endpoints: tests/plugins/test_store_api.py.
"""

from __future__ import annotations

import time

import pytest
from aiohttp import web

from cliproxy import __version__
from tests.fakes.local import LocalServer
from tests.management.conftest import mcall


class PackageIndex(LocalServer):
    def __init__(self, answer: object, status: int = 200, delay: float = 0.0) -> None:
        self.answer, self.status, self.delay, self.hits = answer, status, delay, 0

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/pypi/cliproxy/json", self._json)

    async def _json(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response(self.answer, status=self.status)


async def test_latest_version_from_the_package_index(mproxy, monkeypatch):
    async with PackageIndex({"info": {"version": "9.9.9"}}) as index:
        monkeypatch.setenv("CLIPROXY_PACKAGE_INDEX", f"http://127.0.0.1:{index.port}/pypi/cliproxy/json")
        proxy = await mproxy("")
        status, body = await mcall(proxy, "GET", "/latest-version")
    assert status == 200 and body == {"latest-version": "9.9.9", "current-version": __version__}
    assert index.hits == 1


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [({"info": {}}, 200, "decode_failed"), ({"detail": "gone"}, 404, "unexpected_status")],
)
async def test_latest_version_bad_index_answers(mproxy, monkeypatch, answer, status, code):
    async with PackageIndex(answer, status) as index:
        monkeypatch.setenv("CLIPROXY_PACKAGE_INDEX", f"http://127.0.0.1:{index.port}/pypi/cliproxy/json")
        proxy = await mproxy("")
        got, body = await mcall(proxy, "GET", "/latest-version")
    assert got == 502 and body["error"] == code and body["message"]


async def test_latest_version_offline_is_quick_and_clear(mproxy, monkeypatch):
    monkeypatch.setenv("CLIPROXY_PACKAGE_INDEX", "http://127.0.0.1:9/pypi/cliproxy/json")
    proxy = await mproxy("")
    started = time.monotonic()
    status, body = await mcall(proxy, "GET", "/latest-version")
    assert status == 502 and body["error"] == "request_failed"
    assert "could not be reached" in body["message"] and __version__ in body["message"]
    assert time.monotonic() - started < 6
