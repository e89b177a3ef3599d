"""Half-open probes (``routing.probe``) through a real proxy and the fake Claude upstream.

A credential cooled by a 429 with an hour-long Retry-After is probed every interval with
one tiny request built like real traffic; when the upstream has recovered, the probe
clears the cooldown and the next client request goes to it again. A failed probe keeps
it cooling; two proxies sharing one Redis probe it once per interval between them; with
no ``routing.probe`` there is no prober at all; probes never count as client usage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_failover import _post

MSG = {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
PROBE = "routing:\n  probe: {enabled: true, after: 1s, interval: 0.2s}\n"
HOUR = 3600


def one_key(fakes: Any, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
{extra}
"""


def probes(fake: Any) -> list[Any]:
    """The probe requests the fake received: one-token generations."""
    return [r for r in fake.requests if r.path == "/v1/messages" and (r.json or {}).get("max_tokens") == 1]


async def until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def cool(proxy: Any, fakes: Any) -> None:
    """One client request that the upstream answers with a 429 and an hour's Retry-After."""
    status, body, _ = await _post(proxy, MSG)
    assert status == 429, body
    cred = proxy.service.pool.credentials()[0]
    (record,) = await proxy.service.pool.cooldowns(cred)
    assert record.until() > time.time() + HOUR - 60


async def test_a_recovered_upstream_is_probed_back_early(start_proxy, fakes, caplog):
    caplog.set_level(logging.INFO, logger="cliproxy.credentials.probe")
    proxy = await start_proxy(one_key(fakes, PROBE))
    fakes.claude.fail_next(429, retry_after=HOUR)
    await cool(proxy, fakes)
    status, _, _ = await _post(proxy, MSG)
    assert status == 429  # cooling: the only credential is not asked
    started = time.monotonic()
    cred = proxy.service.pool.credentials()[0]
    # the fake has recovered (the fault was for one request): the next probe clears it
    await until(lambda: probes(fakes.claude))
    for _ in range(100):
        if not await proxy.service.pool.cooldowns(cred):
            break
        await asyncio.sleep(0.02)
    assert not await proxy.service.pool.cooldowns(cred)
    assert time.monotonic() - started < 3  # an hour early
    probe = probes(fakes.claude)[0]
    assert probe.key == "sk-a" and probe.json["model"] == "claude-sonnet-4-6"
    fakes.claude.clear()
    status, body, _ = await _post(proxy, MSG)
    assert status == 200, body
    assert [r.key for r in fakes.claude.requests] == ["sk-a"]
    lines = [r.getMessage() for r in caplog.records if "cleared" in r.getMessage()]
    assert len(lines) == 1 and "claude-apikey" in lines[0] and "sk-a" not in lines[0]


async def test_a_failing_probe_keeps_it_cooling(start_proxy, fakes):
    proxy = await start_proxy(one_key(fakes, PROBE))
    fakes.claude.fail_key("sk-a", 429, retry_after=HOUR)
    await cool(proxy, fakes)
    cred = proxy.service.pool.credentials()[0]
    await until(lambda: len(probes(fakes.claude)) >= 2)
    (record,) = await proxy.service.pool.cooldowns(cred)
    assert record.until() > time.time() + HOUR - 60
    # a 5xx on a probe neither clears nor shortens the quota cooldown (a 60 s transient one)
    fakes.claude.clear_faults()
    fakes.claude.fail_key("sk-a", 503)
    seen = len(probes(fakes.claude))
    await until(lambda: len(probes(fakes.claude)) >= seen + 2)
    (record,) = await proxy.service.pool.cooldowns(cred)
    assert record.until() > time.time() + HOUR - 60
    # a 429 with a later Retry-After extends it, as the normal classification does
    fakes.claude.clear_faults()
    fakes.claude.fail_key("sk-a", 429, retry_after=2 * HOUR)
    seen = len(probes(fakes.claude))
    await until(lambda: len(probes(fakes.claude)) >= seen + 1)
    for _ in range(100):
        (record,) = await proxy.service.pool.cooldowns(cred)
        if record.until() > time.time() + 2 * HOUR - 60:
            break
        await asyncio.sleep(0.02)
    assert record.until() > time.time() + 2 * HOUR - 60
    fakes.claude.clear()
    status, _, _ = await _post(proxy, MSG)
    assert status == 429
    assert all((r.json or {}).get("max_tokens") == 1 for r in fakes.claude.requests)  # probes only


async def test_probes_read_the_cooled_model_and_keep_identity(start_proxy, fakes):
    """``kinds: {claude: count}``: the count endpoint, with the credential's own key."""
    extra = "routing:\n  probe: {enabled: true, after: 1s, interval: 0.2s, kinds: {claude: count}}\n"
    proxy = await start_proxy(one_key(fakes, extra))
    fakes.claude.fail_next(429, retry_after=HOUR)
    await cool(proxy, fakes)
    cred = proxy.service.pool.credentials()[0]
    await until(lambda: any(r.path == "/v1/messages/count_tokens" for r in fakes.claude.requests))
    counted = next(r for r in fakes.claude.requests if r.path == "/v1/messages/count_tokens")
    assert counted.key == "sk-a" and counted.json["model"] == "claude-sonnet-4-6"
    for _ in range(100):
        if not await proxy.service.pool.cooldowns(cred):
            break
        await asyncio.sleep(0.02)
    assert not await proxy.service.pool.cooldowns(cred)
    assert not probes(fakes.claude)  # no generation was sent


async def test_two_proxies_on_one_redis_probe_once_per_interval(start_proxy, fakes, redis_server):
    shared = f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: 'probe:'\n"
    text = one_key(fakes, shared + "routing:\n  probe: {enabled: true, after: 1s, interval: 0.25s}\n")
    a = await start_proxy(text)
    fakes.claude.fail_key("sk-a", 429, retry_after=HOUR)
    await cool(a, fakes)
    b = await start_proxy(text)  # finds the shared cooldown when it starts
    cred = a.service.pool.credentials()[0]
    await until(lambda: bool(probes(fakes.claude)))
    assert a.service.prober is not None and b.service.prober is not None
    await until(lambda: cred.id in b.service.prober.watching and cred.id in a.service.prober.watching)
    fakes.claude.clear()
    await asyncio.sleep(2.0)
    sent = len(probes(fakes.claude))
    # eight intervals: one probe each (two unshared probers would send about sixteen)
    assert 4 <= sent <= 10, sent


async def test_off_by_default_no_prober(start_proxy, fakes):
    proxy = await start_proxy(one_key(fakes))
    fakes.claude.fail_next(429, retry_after=HOUR)
    await cool(proxy, fakes)
    assert proxy.service.prober is None and proxy.service.pool.on_cool is None
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "cliproxy-prober"]
    await asyncio.sleep(0.5)
    assert len(fakes.claude.requests) == 1  # the client's request only


async def test_turned_on_and_off_by_a_reload(start_proxy, fakes):
    proxy = await start_proxy(one_key(fakes))
    assert proxy.service.prober is None
    await proxy.service.edit_config(lambda doc: doc.set(["routing", "probe", "enabled"], True))
    assert proxy.service.prober is not None
    await proxy.service.edit_config(lambda doc: doc.set(["routing", "probe", "enabled"], False))
    assert proxy.service.prober is None and proxy.service.pool.on_cool is None


async def test_a_probe_is_not_client_usage(start_proxy, fakes):
    extra = PROBE + "usage-statistics-enabled: true\nmetrics: {enabled: true}\n"
    proxy = await start_proxy(one_key(fakes, extra))
    fakes.claude.fail_next(429, retry_after=HOUR)
    await cool(proxy, fakes)
    cred = proxy.service.pool.credentials()[0]
    await until(lambda: bool(probes(fakes.claude)))
    for _ in range(100):
        if not await proxy.service.pool.cooldowns(cred):
            break
        await asyncio.sleep(0.02)
    status, _, _ = await _post(proxy, MSG)
    assert status == 200
    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/metrics") as r:
        text = await r.text()
    assert _metric(text, "cliproxy_requests_total") == 2  # the two client requests
    assert _metric(text, "cliproxy_upstream_attempts_total") == 2
    assert len(fakes.claude.requests) >= 3  # ... though the upstream saw the probe too


def _metric(text: str, name: str) -> float:
    return sum(
        s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == name
    )


async def test_defaults_per_provider_model_list_and_codex_generation(start_proxy, fakes):
    """OpenAI-compatible keys get a model-list GET; Codex a generation on its own path, with
    the same identity headers as the client request that cooled it."""
    extra = "routing:\n  probe: {enabled: true, after: 1s, interval: 0.2s}\n"
    proxy = await start_proxy(matrix_config(fakes, extra))
    fakes.openai.fail_next(429, retry_after=HOUR)
    fakes.responses.fail_next(429, retry_after=HOUR)
    for model in ("compat-model", "codex-model"):
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        status, _, _ = await _post(proxy, body, "/v1/chat/completions")
        assert status == 429
    await until(lambda: "/v1/models" in fakes.openai.paths)
    listed = next(r for r in fakes.openai.requests if r.path == "/v1/models")
    assert listed.method == "GET" and listed.key == "sk-compat-1"
    await until(lambda: len(fakes.responses.requests) >= 2)
    cooled, probe = fakes.responses.requests[:2]
    assert probe.path == cooled.path == "/backend-api/codex/responses" and probe.key == "sk-codex-1"
    for name in ("User-Agent", "Originator"):
        assert probe.headers.get(name) == cooled.headers.get(name)
    assert probe.json["model"] == "gpt-5.4"
    pool = proxy.service.pool
    for _ in range(100):
        if not any([await pool.cooldowns(c) for c in pool.credentials()]):
            break
        await asyncio.sleep(0.02)
    assert not any([await pool.cooldowns(c) for c in pool.credentials()])
