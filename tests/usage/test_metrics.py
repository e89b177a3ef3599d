"""``GET /metrics``: off by default, the Prometheus text format when on, loopback or the
management key, credential state gauges and plugin call latency."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cliproxy.management.usage_api import metrics_answer
from tests.usage.helpers import close_recorder
from tests.usage.upstream import UsageUpstream

KEY = "sk-metrics-client-1"
MKEY = "m-metrics-secret"

PLUGIN = """
from cliproxy.plugins.api import *

class Lat(Plugin, ModelRouter):
    name = "lat"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/lat"
    async def route(self, req):
        return None

plugin = Lat()
"""


@pytest.fixture
async def upstream() -> AsyncIterator[UsageUpstream]:
    async with UsageUpstream() as up:
        yield up


def config(up: UsageUpstream, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
usage-ledger: {{enabled: false}}
openai-compatibility:
  - name: up
    base-url: "http://127.0.0.1:{up.port}/v1"
    api-key-entries: [{{api-key: sk-good}}]
    models: [{{name: up-model, alias: m}}]
{extra}
"""


async def get(proxy: Any, path: str = "/metrics") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as s, s.get(proxy.url + path) as r:
        return r.status, await r.text(), r.headers.get("Content-Type", "")


async def chat(proxy: Any) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()


def samples(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append(s)
    return out


async def test_off_by_default(start_proxy, upstream):
    proxy = await start_proxy(config(upstream))
    try:
        status, body, _ = await get(proxy)
        assert status == 404 and "metrics: {enabled: true}" in orjson.loads(body)["error"]
    finally:
        close_recorder(proxy)


async def test_exposition_parses_and_counts(start_proxy, upstream, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (tmp_path / "auths").mkdir()
    off = {"type": "claude", "access_token": "at", "email": "off@example.com", "disabled": True}
    (tmp_path / "auths" / "claude-off.json").write_bytes(orjson.dumps(off))
    (plugins / "lat.py").write_text(textwrap.dedent(PLUGIN))
    extra = f'metrics: {{enabled: true}}\nplugins:\n  enabled: true\n  dir: "{plugins}"\n  configs:\n    lat: {{enabled: true}}'
    proxy = await start_proxy(config(upstream, extra))
    try:
        for _ in range(3):
            await chat(proxy)
        status, text, kind = await get(proxy)
        assert status == 200 and kind.startswith("text/plain")
        found = samples(text)
        [req] = found["cliproxy_requests_total"]
        assert req.value == 3 and req.labels == {
            "model": "up-model",
            "provider": "openai-compatible-up",
            "status": "200",
        }
        assert sum(s.value for s in found["cliproxy_request_duration_seconds_count"]) == 3
        states = {(s.labels["provider"], s.labels["state"]): s.value for s in found["cliproxy_credentials"]}
        assert states[("openai-compatible-up", "active")] == 1 and states[("claude", "disabled")] == 1
        assert sum(states.values()) == 2
        calls = [s for s in found["cliproxy_plugin_call_seconds_count"] if s.labels["plugin"] == "lat"]
        assert calls and sum(s.value for s in calls) >= 3
    finally:
        close_recorder(proxy)


async def test_remote_peers_need_the_management_key(start_proxy, upstream, monkeypatch):
    proxy = await start_proxy(config(upstream, "metrics: {enabled: true}"))
    try:
        service = proxy.service
        answer = await metrics_answer(service, "203.0.113.7", {})
        assert answer.status == 403  # no management key configured: loopback only
        monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
        monkeypatch.setattr(service.config.remote_management, "allow_remote", True)
        assert (await metrics_answer(service, "203.0.113.7", {})).status == 401
        assert (await metrics_answer(service, "203.0.113.7", {"Authorization": "Bearer nope"})).status == 401
        ok = await metrics_answer(service, "203.0.113.7", {"Authorization": f"Bearer {MKEY}"})
        assert ok.status == 200 and b"cliproxy_credentials" in ok.body()
        assert (await metrics_answer(service, "127.0.0.1", {})).status == 200
    finally:
        close_recorder(proxy)
