"""CPA's management gate cases (internal/api/handlers/management/handler_test.go), ported
through a running proxy."""

from __future__ import annotations

import re

import aiohttp

from tests.management.conftest import MHEADERS


async def _get(proxy, headers: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management/config", headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None), dict(r.headers)


async def test_localhost_is_banned_after_five_wrong_keys(mproxy):
    """TestAuthenticateManagementKey_LocalhostIPBan_BlocksCorrectKeyDuringBan: five wrong keys
    from 127.0.0.1 are 401s ``invalid management key``; then even the right key is a 403
    saying ``IP banned due to too many failed attempts. Try again in 30m0s`` (a Go duration)."""
    proxy = await mproxy("debug: false\n")
    for _ in range(5):
        status, body, _ = await _get(proxy, {"Authorization": "Bearer wrong-secret"})
        assert (status, body) == (401, {"error": "invalid management key"})
    status, body, _ = await _get(proxy, MHEADERS)
    assert status == 403
    assert re.fullmatch(
        r"IP banned due to too many failed attempts\. Try again in (30m0s|29m5\ds)", body["error"]
    )


async def test_every_gate_answer_says_plugins_are_supported(mproxy):
    """TestMiddlewareSetsSupportPluginHeader: ``X-CPA-SUPPORT-PLUGIN: 1`` on a refused key, a
    missing key and an accepted one."""
    proxy = await mproxy("debug: false\n")
    for headers, code in (({"Authorization": "Bearer nope"}, 401), ({}, 401), (MHEADERS, 200)):
        status, _, got = await _get(proxy, headers)
        assert status == code and got["X-CPA-SUPPORT-PLUGIN"] == "1"
