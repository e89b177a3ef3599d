"""What CPA's management panel reads for a setting the proxy runs with a default instead.

CPA's GetRoutingStrategy answers a strategy it does not know as written (trimmed), and
GetConfig shows the config as loaded; the proxy runs round-robin for it in both
(internal/api/handlers/management/config_basic.go, sdk/cliproxy/service_config.go).
"""

from __future__ import annotations

from tests.management.conftest import mcall


async def test_an_unknown_strategy_is_shown_as_written(mproxy):
    proxy = await mproxy('api-keys: ["k"]\nrouting:\n  strategy: " least-busy"\n')
    assert proxy.service.config.routing.strategy == "round-robin"
    assert await mcall(proxy, "GET", "/routing/strategy") == (200, {"strategy": "least-busy"})
    status, body = await mcall(proxy, "GET", "/config")
    assert status == 200 and body["routing"]["strategy"] == " least-busy"


async def test_a_known_strategy_is_shown_by_its_name(mproxy):
    proxy = await mproxy('api-keys: ["k"]\nrouting:\n  strategy: least-busy\n')
    assert (await mcall(proxy, "PUT", "/routing/strategy", {"value": "FF"}))[0] == 200
    assert await mcall(proxy, "GET", "/routing/strategy") == (200, {"strategy": "fill-first"})
    status, body = await mcall(proxy, "GET", "/config")
    assert status == 200 and body["routing"]["strategy"] == "fill-first"
    assert proxy.service.config.routing.strategy == "fill-first"
