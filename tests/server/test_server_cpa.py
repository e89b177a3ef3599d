"""CPA's server route cases (internal/api/server_test.go) that no other test holds, through a
running proxy: health checks, the management answer's CORS headers, the usage queue's
route, the two video route families and the Interactions route."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

SECRET = "m-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
MGMT = {"Authorization": f"Bearer {SECRET}"}
# CPA's corsExposedResponseHeaders (internal/api/server_middleware.go), less the headers no
# cliproxy answer carries (X-CPA-HOME-*, X-SERVER-*: CPA's Home mode)
EXPOSED = (
    "X-CPA-Trace-Id",
    "X-CPA-VERSION",
    "X-CPA-COMMIT",
    "X-CPA-BUILD-DATE",
    "X-CPA-SUPPORT-PLUGIN",
    "Location",
    "Retry-After",
    "X-Request-Id",
    "OpenAI-Request-Id",
)


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", SECRET)
    return await start_proxy(matrix_config(fakes, "usage-statistics-enabled: true\n"))


async def test_healthz_answers_get_and_head(proxy: Any) -> None:
    """CPA: TestHealthz: ``GET /healthz`` is ``{"status":"ok"}``, ``HEAD`` the same status
    with no body; no key needed."""
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with s.head(proxy.url + "/healthz") as r:
            assert r.status == 200 and await r.read() == b""


async def test_a_management_answer_exposes_cpas_headers_to_a_browser(proxy: Any) -> None:
    """CPA: TestManagementResponseExposesPluginSupportHeaderForCORS: even a refused
    management call from a browser origin carries ``X-CPA-SUPPORT-PLUGIN`` and lets the
    page read CPA's headers (Access-Control-Expose-Headers)."""
    headers = {"Origin": "http://127.0.0.1:5173"}
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/v0/management/config", headers=headers) as r:
        assert r.status == 401
        assert r.headers["X-CPA-SUPPORT-PLUGIN"]
        exposed = {h.strip().lower() for h in r.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {h.lower() for h in EXPOSED} <= exposed, exposed


async def test_the_usage_queue_needs_the_management_key(proxy: Any) -> None:
    """CPA: TestManagementUsageRequiresManagementAuthAndPopsArray: ``/usage-queue`` without
    the key is 401; with it the records come as a JSON array and are taken off the queue.
    Deliberate difference: ``GET /usage`` still answers the statistics snapshot CPA had
    before it dropped in-process statistics (CPA: 404 now); it never takes records off
    the queue."""
    url = proxy.url + "/v0/management"
    async with aiohttp.ClientSession() as s:
        chat = {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(2):
            async with s.post(proxy.url + "/v1/chat/completions", json=chat, headers=AUTH) as r:
                assert r.status == 200
        async with s.get(url + "/usage-queue?count=2") as r:
            assert r.status == 401
        async with s.get(url + "/usage?count=2", headers=MGMT) as r:
            assert r.status == 200 and "usage" in await r.json()
        async with s.get(url + "/usage-queue?count=2", headers=MGMT) as r:
            assert r.status == 200
            records = await r.json()
        async with s.get(url + "/usage-queue?count=2", headers=MGMT) as r:
            assert await r.json() == []
    assert isinstance(records, list) and len(records) == 2


async def test_video_routes_keep_xais_native_api_and_openais_prefix(proxy: Any) -> None:
    """CPA: TestVideosRoutesKeepXAINativeAndExposeOpenAIPrefix: ``/v1/videos`` is xAI's native
    API (an OpenAI-style create is told to use ``/v1/videos/generations``), ``/openai/v1/videos``
    is OpenAI's (a broken body is a 400), and a content ``variant`` other than the video is
    refused."""
    async with aiohttp.ClientSession() as s:
        body = {"model": "sora-2", "prompt": "make a video"}
        async with s.post(proxy.url + "/v1/videos", json=body, headers=AUTH) as r:
            assert r.status == 400 and "/v1/videos/generations" in await r.text()
        async with s.post(
            proxy.url + "/openai/v1/videos",
            data=b'{"model":',
            headers={**AUTH, "Content-Type": "application/json"},
        ) as r:
            assert r.status == 400 and "json" in (await r.text()).lower()
        async with s.get(
            proxy.url + "/openai/v1/videos/video_123/content?variant=thumbnail", headers=AUTH
        ) as r:
            assert r.status == 400 and "variant" in await r.text()


async def test_the_interactions_route_is_served(proxy: Any) -> None:
    """CPA: TestInteractionsRouteRegistered: ``POST /v1beta/interactions`` is a route (here
    no credential serves the model: an error, never a 404)."""
    body = {"model": "gemini-3.5-flash", "input": "hi"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1beta/interactions", json=body, headers=AUTH) as r,
    ):
        assert r.status != 404 and r.status >= 400


async def test_safe_mode_shows_its_page_keeps_management_and_ends_with_a_real_key(
    start_proxy: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPA: TestExampleAPIKeySafeModeShowsWarningAndKeepsManagement: with a template key in
    api-keys, ``/`` and ``/management.html`` show the setup page (HEAD: no body, not
    cached) linking to ``/management.html?safe-mode=configure``, which opens the control
    panel; the proxy routes answer 403 ``unsafe_example_api_key`` pointing there;
    management still works; a reload with a real key ends safe mode. Before, cliproxy
    showed no page: ``/`` answered its JSON banner and the panel opened as usual.
    CPA: TestExampleAPIKeyWarningPageIncludesManagementButton (the page names the key and
    the button, and shows no local config path)."""
    from cliproxy.config import load_or_default

    monkeypatch.setenv("MANAGEMENT_PASSWORD", SECRET)
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "management.html").write_text("<html>management app</html>")
    monkeypatch.setenv("MANAGEMENT_STATIC_PATH", str(tmp_path / "static"))
    proxy = await start_proxy('api-keys: ["your-api-key-1"]\n')
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/management.html"):
            async with s.get(proxy.url + path) as r:
                assert r.status == 200, path
                text = await r.text()
                assert "Example API key detected" in text and "your-api-key-1" in text
                assert 'href="/management.html?safe-mode=configure"' in text and "Open Management" in text
                assert "Proxy API endpoints are disabled" in text and 'class="path"' not in text
        async with s.head(proxy.url + "/management.html") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store" and await r.read() == b""
        async with s.get(proxy.url + "/management.html?safe-mode=configure") as r:
            assert r.status == 200 and "management app" in await r.text()
        async with s.get(proxy.url + "/v1/models", headers={"Authorization": "Bearer your-api-key-1"}) as r:
            assert r.status == 403 and r.headers["X-CPA-SAFE-MODE"] == "example-api-key"
            text = await r.text()
            assert "unsafe_example_api_key" in text and "/management.html?safe-mode=configure" in text
        async with s.get(proxy.url + "/v0/management/config", headers=MGMT) as r:
            assert r.status == 200
        proxy.config_path.write_text('api-keys: ["real-key"]\n')
        proxy.service.apply(load_or_default(proxy.config_path)[0])
        async with s.get(proxy.url + "/v1/models", headers={"Authorization": "Bearer real-key"}) as r:
            assert r.status == 200
        async with s.get(proxy.url + "/") as r:
            assert "Example API key detected" not in await r.text()
