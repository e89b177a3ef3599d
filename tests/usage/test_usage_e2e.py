"""Counters, ledger rows and metrics after real traffic through the proxy (SDK clients).

Twelve mixed requests: plain and streamed Chat Completions (usage only at the stream's
end), Anthropic Messages translated to the Chat upstream, one credential that answers
429 (so one request fails over), requests the upstream rejects and one for a model no
credential serves. The panel's two endpoints, the ledger and ``/metrics`` must agree with
what was sent, down to cached and reasoning tokens; after a restart the ledger and the
counters still hold it.

CPA: ``internal/api/handlers/management/api_key_usage_test.go``
(``TestGetAPIKeyUsage_GroupsOpenAICompatibleByCompatName``: an OpenAI-compatible key is
listed under its lower-cased compat name, here ``up`` and ``rejecting``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cliproxy.usage import recorder_of
from tests.usage.helpers import close_recorder
from tests.usage.upstream import UsageUpstream

MKEY = "m-usage-secret"
K1, K2 = "sk-client-one-111111", "sk-client-two-222222"


def config(up: UsageUpstream, ledger: Path) -> str:
    base = f"http://127.0.0.1:{up.port}/v1"
    return f"""
api-keys: ["{K1}", "{K2}"]
usage-statistics-enabled: true
metrics: {{enabled: true}}
usage-ledger: {{path: "{ledger}"}}
openai-compatibility:
  - name: Up
    base-url: "{base}"
    api-key-entries: [{{api-key: sk-good}}, {{api-key: sk-bad}}]
    models: [{{name: up-model, alias: m}}]
  - name: Rejecting
    base-url: "{base}"
    api-key-entries: [{{api-key: sk-other}}]
    models: [{{name: reject-me, alias: r}}]
"""


@pytest.fixture
async def upstream() -> AsyncIterator[UsageUpstream]:
    async with UsageUpstream() as up:
        yield up


@pytest.fixture
def mgmt(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    return MKEY


async def mget(proxy: Any, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management" + path, headers={"Authorization": f"Bearer {MKEY}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json(content_type=None)


async def traffic(proxy: Any) -> None:
    """The 12 requests: 9 succeed (one after a failover), 3 fail."""
    o1 = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=K1, max_retries=0)
    o2 = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=K2, max_retries=0)
    a2 = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=K2, max_retries=0)
    msgs: Any = [{"role": "user", "content": "hi"}]
    for _ in range(4):
        r = await o1.chat.completions.create(model="m", messages=msgs)
        assert r.usage is not None and r.usage.prompt_tokens == 100
    for _ in range(3):
        stream = await o2.chat.completions.create(model="m", messages=msgs, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "hello"
    for _ in range(2):
        m = await a2.messages.create(model="m", max_tokens=10, messages=msgs)
        assert m.content[0].type == "text"
    for _ in range(2):
        with pytest.raises(openai.BadRequestError):
            await o1.chat.completions.create(model="r", messages=msgs)
    with pytest.raises(openai.APIStatusError):
        await o2.chat.completions.create(model="no-such-model", messages=msgs)
    for c in (o1, o2, a2):
        await c.close()


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def test_counters_ledger_and_metrics_agree(start_proxy, upstream, mgmt, tmp_path):
    ledger_file = tmp_path / "ledger" / "usage.sqlite"
    proxy = await start_proxy(config(upstream, ledger_file))
    try:
        await traffic(proxy)
        pool = proxy.service.pool
        good = next(c for c in pool.credentials() if c.api_key == "sk-good")
        bad = next(c for c in pool.credentials() if c.api_key == "sk-bad")
        other = next(c for c in pool.credentials() if c.api_key == "sk-other")

        # the panel's view of config API keys
        usage = await mget(proxy, "/api-key-usage")
        base = f"http://127.0.0.1:{upstream.port}/v1"
        up = usage["up"]
        assert (up[f"{base}|sk-good"]["success"], up[f"{base}|sk-good"]["failed"]) == (9, 0)
        assert (up[f"{base}|sk-bad"]["success"], up[f"{base}|sk-bad"]["failed"]) == (0, 1)
        assert (
            usage["rejecting"][f"{base}|sk-other"]["success"],
            usage["rejecting"][f"{base}|sk-other"]["failed"],
        ) == (0, 2)
        recent = up[f"{base}|sk-good"]["recent_requests"]
        assert len(recent) == 20 and recent[-1]["success"] == 9 and sum(b["success"] for b in recent) == 9
        assert up[f"{base}|sk-good"]["total_tokens"] == 9 * 130
        assert up[f"{base}|sk-good"]["cached_tokens"] == 9 * 40

        # per client key
        keys = {k["api_key"]: k for k in (await mget(proxy, "/usage/keys"))["keys"]}
        assert len(keys) == 2 and all(K1 not in name and K2 not in name for name in keys)
        k1 = next(k for name, k in keys.items() if name.endswith(K1[-2:]))
        k2 = next(k for name, k in keys.items() if name.endswith(K2[-2:]))
        assert (k1["success"], k1["failed"]) == (4, 2)
        assert (k2["success"], k2["failed"]) == (5, 1)

        # the ledger: one row per request
        rec = recorder_of(proxy.service)
        ledger = rec.stats.ledger
        assert ledger is not None and ledger.flush()
        rows = {r["key"]: r for r in (await mget(proxy, "/usage/summary?group=credential"))["rows"]}
        assert rows[good.index]["requests"] == 9 and rows[good.index]["failed"] == 0
        assert rows[good.index]["retries"] == 1  # the request that went to sk-bad first
        assert rows[other.index]["requests"] == 2 and rows[other.index]["failed"] == 2
        assert rows[""]["requests"] == 1  # no credential could serve it
        assert rows[""]["retries"] == 0  # it made no attempt: not -1 retry
        g = rows[good.index]
        # chat requests pass usage through; Messages report Claude's split, read back the same
        assert (g["input_tokens"], g["output_tokens"], g["total_tokens"]) == (900, 270, 1170)
        assert (g["cached_tokens"], g["reasoning_tokens"]) == (360, 9 * 12)
        by_model = {r["key"]: r for r in (await mget(proxy, "/usage/summary?group=alias"))["rows"]}
        assert by_model["m"]["requests"] == 9 and by_model["r"]["failed"] == 2
        assert bad.index not in rows  # it only appears as a failed attempt

        # metrics
        async with aiohttp.ClientSession() as s, s.get(proxy.url + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
        assert _metric(text, "cliproxy_requests_total", provider="openai-compatible-up") == 9
        assert _metric(text, "cliproxy_requests_total", provider="openai-compatible-rejecting") == 2
        assert _metric(text, "cliproxy_requests_total", status="200") == 9
        assert _metric(text, "cliproxy_tokens_total", kind="cached") == 360
        assert _metric(text, "cliproxy_tokens_total", kind="reasoning") == 108
        assert _metric(text, "cliproxy_tokens_total", kind="input") == 900
        assert _metric(text, "cliproxy_failovers_total") == 1
        assert _metric(text, "cliproxy_cooldown_events_total") == 1
        assert _metric(text, "cliproxy_credentials", state="cooling") == 1
        assert _metric(text, "cliproxy_credentials", state="active") == 2
        assert _metric(text, "cliproxy_upstream_latency_seconds_count") == 12
        assert _metric(text, "cliproxy_ttfb_seconds_count") == 9
    finally:
        close_recorder(proxy)
        await proxy.close()

    # restart: the same ledger file, a fresh process state
    again = await start_proxy(config(upstream, ledger_file))
    try:
        usage = await mget(again, "/api-key-usage")
        good_entry = usage["up"][f"http://127.0.0.1:{upstream.port}/v1|sk-good"]
        assert (good_entry["success"], good_entry["failed"]) == (9, 0)
        assert usage["up"][f"http://127.0.0.1:{upstream.port}/v1|sk-bad"]["failed"] == 1
        assert sum(b["success"] for b in good_entry["recent_requests"]) == 9
        keys = (await mget(again, "/usage/keys"))["keys"]
        assert sorted((k["success"], k["failed"]) for k in keys) == [(4, 2), (5, 1)]
        snap = await mget(again, "/usage")
        assert snap["usage"]["total_requests"] == 12 and snap["failed_requests"] == 3
    finally:
        close_recorder(again)
