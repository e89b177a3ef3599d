"""Behind a reverse proxy on the same machine (nginx, Caddy... in front of 127.0.0.1:8317),
every request comes from a loopback socket. The loopback-only rules (an open proxy's, and
management's without ``allow-remote``, and ``/metrics``) must not then serve the whole
network: a request that says it was forwarded for another client (``X-Forwarded-For``,
``X-Real-IP``, ``Forwarded: for=``) is treated as remote. The headers only ever refuse;
they never let a remote peer in (that is still the socket's address)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from cliproxy.access import forwarded_remote

SECRET = "hunt2-management-secret"
FORWARDED = [
    {"X-Forwarded-For": "203.0.113.7"},
    {"X-Forwarded-For": "127.0.0.1, 203.0.113.7"},  # nginx appends the peer it saw
    {"X-Real-IP": "203.0.113.7"},
    {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'},
    {"Forwarded": "for=unknown"},
]


async def _get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("headers", FORWARDED)
async def test_an_open_proxy_refuses_a_forwarded_remote_client(start_proxy, headers):
    """No api-keys: the proxy serves its own machine only. Before, a reverse proxy on that
    machine made every Internet client a loopback caller of the open proxy (nginx's
    default Host header, 127.0.0.1:port, passed the DNS-rebinding check too), spending
    the owner's subscriptions for anyone; now it is the 401 a remote peer gets."""
    proxy = await start_proxy("")
    status, body = await _get(proxy.url + "/v1/models", {**headers, "Host": f"127.0.0.1:{proxy.port}"})
    assert status == 401, body
    assert body["error"]["code"] == "remote_access_refused"
    assert "reverse proxy" in body["error"]["message"]
    # a caller on this machine, or one the proxy forwarded for this machine, is served
    assert (await _get(proxy.url + "/v1/models", {}))[0] == 200
    assert (await _get(proxy.url + "/v1/models", {"X-Forwarded-For": "127.0.0.1"}))[0] == 200
    open_remote = await start_proxy("allow-unauthenticated-remote: true\n")
    assert (await _get(open_remote.url + "/v1/models", headers))[0] == 200  # the operator's choice


@pytest.mark.parametrize("headers", FORWARDED[:3])
async def test_management_without_allow_remote_refuses_a_forwarded_client(start_proxy, headers):
    """``remote-management.allow-remote: false`` (the default) keeps management on this
    machine, as CPA does when gin takes the client address from X-Forwarded-For. Before,
    behind a reverse proxy, anyone on the Internet reached it (the right key let them in,
    and five wrong guesses banned 127.0.0.1, the operator included, for 30 minutes); now
    they get 403 "remote management disabled", and their guesses ban nobody."""
    proxy = await start_proxy(f"remote-management:\n  secret-key: {SECRET}\n")
    url = proxy.url + "/v0/management/config"
    status, body = await _get(url, {**headers, "Authorization": f"Bearer {SECRET}"})
    assert (status, body) == (403, {"error": "remote management disabled"})
    for _ in range(6):
        assert (await _get(url, {**headers, "Authorization": "Bearer wrong"}))[0] == 403
    status, _ = await _get(url, {"Authorization": f"Bearer {SECRET}"})
    assert status == 200  # the operator on this machine: not banned
    allowed = await start_proxy(f"remote-management:\n  secret-key: {SECRET}\n  allow-remote: true\n")
    status, _ = await _get(
        allowed.url + "/v0/management/config", {**headers, "Authorization": f"Bearer {SECRET}"}
    )
    assert status == 200


async def test_metrics_need_the_key_for_a_forwarded_client(start_proxy):
    """``/metrics`` is served to loopback without a key. Before, behind a reverse proxy,
    to everyone; now a forwarded client needs the management key as a remote peer does."""
    proxy = await start_proxy("metrics: {enabled: true}\n")
    assert (await _get(proxy.url + "/metrics", {"X-Forwarded-For": "203.0.113.7"}))[0] == 403
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/metrics") as r:
        assert r.status == 200


@pytest.mark.parametrize(
    ("headers", "client"),
    [
        ({}, None),
        ({"X-Forwarded-For": " 127.0.0.1 , ::1"}, None),
        ({"X-Real-IP": "localhost"}, None),
        ({"Forwarded": 'for="[::1]:80", for=127.0.0.2'}, None),
        ({"Forwarded": "proto=https;by=203.0.113.9"}, None),  # by= is the proxy, not the client
        ({"X-Forwarded-For": "10.0.0.5:1234"}, "10.0.0.5:1234"),
        ({"Forwarded": "For=_hidden"}, "_hidden"),
    ],
)
def test_forwarded_remote(headers, client):
    assert forwarded_remote(headers) == client
