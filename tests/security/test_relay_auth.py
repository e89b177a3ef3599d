"""``ws-auth: false`` opens the AI Studio relay socket to anyone: the operator is told."""

from __future__ import annotations

import logging

import aiohttp

from cliproxy.config import load_or_default


def _warned(caplog) -> bool:
    return any("ws-auth is off" in r.getMessage() for r in caplog.records)


async def test_ws_auth_off_is_warned_at_start_and_on_reload(start_proxy, caplog):
    """CPA's ws-auth: false lets any peer attach as a relay (its requests then go to that
    peer), which the open socket shows; the proxy warns while it is so and keys guard
    everything else, at start and when a reload turns it off. Before, nothing was said."""
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy = await start_proxy('api-keys: ["k"]\nws-auth: false\n')
    assert _warned(caplog)
    async with aiohttp.ClientSession() as s, s.ws_connect(proxy.url + "/v1/ws") as ws:
        assert not ws.closed  # no key asked for
    caplog.clear()
    proxy.config_path.write_text(proxy.config_path.read_text().replace("ws-auth: false", "ws-auth: true"))
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(load_or_default(proxy.config_path)[0])
    assert not _warned(caplog)
    proxy.config_path.write_text(proxy.config_path.read_text().replace("ws-auth: true", "ws-auth: false"))
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(load_or_default(proxy.config_path)[0])
    assert _warned(caplog)
