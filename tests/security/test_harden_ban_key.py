"""Management's ban (five wrong keys, 30 minutes) behind a reverse proxy on the same
machine, with ``remote-management.allow-remote: true``: every request comes from a
loopback socket, so failures and bans must be keyed by the client the nearest proxy saw,
not by 127.0.0.1. Before, five wrong keys from anyone on the Internet banned the
operator's own local access, and one guesser's ban banned every remote user."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from cliproxy.access import forwarded_clients
from cliproxy.config.document import ConfigDocument
from cliproxy.management.auth import ManagementGate

SECRET = "harden-management-secret"
CONFIG = f"remote-management:\n  secret-key: {SECRET}\n  allow-remote: true\n"
RIGHT = {"Authorization": f"Bearer {SECRET}"}
WRONG = {"Authorization": "Bearer wrong"}


async def _status(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url + "/v0/management/config", headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def _guess_five(url: str, forwarded: list[dict[str, str]]) -> None:
    for headers in forwarded:
        status, body = await _status(url, {**headers, **WRONG})
        assert status == 401, body


async def test_a_remote_guesser_behind_nginx_bans_itself_not_the_operator(start_proxy, monkeypatch):
    """nginx appends the peer it saw to X-Forwarded-For after whatever the client sent. A
    guesser who makes up a new first entry for each try is still counted (and banned) as
    the address nginx appended; the operator on this machine (no header) and another
    remote user keep their access."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy(CONFIG)
    guesser = "203.0.113.7"
    await _guess_five(proxy.url, [{"X-Forwarded-For": f"198.51.100.{i}, {guesser}"} for i in range(5)])
    for made_up in ("198.51.100.99", "127.0.0.1", "10.1.2.3, 127.0.0.1"):
        status, body = await _status(proxy.url, {"X-Forwarded-For": f"{made_up}, {guesser}", **RIGHT})
        assert status == 403 and "banned" in body["error"], body  # rotating the first entry: no way out
    status, body = await _status(proxy.url, RIGHT)
    assert status == 200, body  # the operator on this machine: before, 403 banned for 30 minutes
    status, body = await _status(proxy.url, {"X-Forwarded-For": "203.0.113.8", **RIGHT})
    assert status == 200, body  # another Internet user: before, banned with the guesser


async def test_a_guesser_cannot_rotate_a_header_the_proxy_did_not_set(start_proxy, monkeypatch):
    """A proxy that sets only X-Real-IP passes the client's own X-Forwarded-For through:
    a guesser rotating it is still banned under the X-Real-IP the proxy set (and the other
    way round)."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy(CONFIG)
    await _guess_five(
        proxy.url, [{"X-Real-IP": "203.0.113.9", "X-Forwarded-For": f"198.51.100.{i}"} for i in range(5)]
    )
    status, body = await _status(
        proxy.url, {"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "192.0.2.1", **RIGHT}
    )
    assert status == 403 and "banned" in body["error"], body
    await _guess_five(
        proxy.url, [{"X-Forwarded-For": "203.0.113.10", "X-Real-IP": f"198.51.100.{i}"} for i in range(5)]
    )
    status, body = await _status(
        proxy.url, {"X-Forwarded-For": "203.0.113.10", "X-Real-IP": "192.0.2.2", **RIGHT}
    )
    assert status == 403 and "banned" in body["error"], body
    assert (await _status(proxy.url, RIGHT))[0] == 200


async def test_a_forwarded_ipv6_guesser_is_banned_by_its_network(start_proxy, monkeypatch):
    """``Forwarded: for=`` (its last element, the nearest proxy's) with an IPv6 client: as
    for a socket peer, its whole /64 counts as one."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy(CONFIG)
    await _guess_five(
        proxy.url, [{"Forwarded": f'for=192.0.2.{i}, for="[2001:db8:0:7::{i + 1}]:4711"'} for i in range(5)]
    )
    status, body = await _status(proxy.url, {"Forwarded": 'for="[2001:db8:0:7::ffff]"', **RIGHT})
    assert status == 403 and "banned" in body["error"], body
    assert (await _status(proxy.url, {"Forwarded": 'for="[2001:db8:0:8::1]"', **RIGHT}))[0] == 200
    assert (await _status(proxy.url, RIGHT))[0] == 200


def _config() -> Any:
    return ConfigDocument.from_text("remote-management:\n  allow-remote: true\n  secret-key: 'x'\n").config


async def test_headers_from_a_remote_peer_are_never_trusted(monkeypatch, clock):
    """Only a loopback peer (a reverse proxy on this machine) has its headers read: a remote
    peer that sends a new X-Forwarded-For each time is still banned as itself."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    gate = ManagementGate(clock, verify=lambda key, stored: key == "x")
    config = _config()
    for i in range(5):
        denied = await gate.check(config, "198.51.100.20", {"X-Forwarded-For": f"192.0.2.{i}", **WRONG})
        assert denied is not None and denied.status == 401
    banned = await gate.check(
        config, "198.51.100.20", {"X-Forwarded-For": "192.0.2.77", "Authorization": "x"}
    )
    assert banned is not None and banned.status == 403
    assert (
        await gate.check(config, "127.0.0.1", {"X-Forwarded-For": "198.51.100.21", "Authorization": "x"})
        is None
    )


@pytest.mark.parametrize(
    ("headers", "clients"),
    [
        ({}, ()),
        ({"X-Forwarded-For": "127.0.0.1, ::1"}, ()),
        ({"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}, ("203.0.113.7",)),
        ({"X-Forwarded-For": "1.2.3.4, 203.0.113.7:55, 127.0.0.1"}, ("203.0.113.7",)),  # two local hops
        ({"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "203.0.113.7"}, ("203.0.113.7",)),
        ({"X-Real-IP": "203.0.113.7", "X-Forwarded-For": "9.9.9.9"}, ("9.9.9.9", "203.0.113.7")),
        ({"Forwarded": 'for=1.2.3.4;proto=https, for="[2001:DB8::1]:80"'}, ("2001:db8::1",)),
        ({"Forwarded": "for=unknown"}, ("unknown",)),
    ],
)
def test_forwarded_clients(headers, clients):
    assert forwarded_clients(headers) == clients
