"""Routing explain through a running proxy: the X-Cliproxy-Route-* headers on answers, and
the dry run at POST /v0/management/route."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from cliproxy.state.memory import MemoryState
from cliproxy.state.redis import RedisState
from tests.e2e.clients import KEY
from tests.management.conftest import MANAGEMENT_KEY, MHEADERS
from tests.plugins.test_flow_python import ROUTER
from tests.plugins.test_flow_python import _proxy as plugin_proxy

OTHER = "sk-proxy-other"
MSG = {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
ROUTE = "X-Cliproxy-Route-"


def _config(fakes: Any, routing: str = "", a_priority: int = 0) -> str:
    return f"""
api-keys: ["{KEY}", "{OTHER}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    priority: {a_priority}
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
{routing}
"""


def _index(proxy: Any, api_key: str) -> str:
    return next(c.index for c in proxy.service.pool.credentials() if c.api_key == api_key)


def _route_headers(headers: Any) -> dict[str, str]:
    prefix = ROUTE.lower()  # httpx (the SDKs) lower-cases names, aiohttp keeps them
    return {k[len(prefix) :].capitalize(): v for k, v in headers.items() if k.lower().startswith(prefix)}


def _keys(fake: Any) -> list[str]:
    return [
        r.headers.get("x-api-key") or r.headers.get("Authorization", "").removeprefix("Bearer ")
        for r in fake.requests
        if r.path.startswith("/v1/messages")
    ]


async def _post(
    proxy: Any, body: dict, *, key: str = KEY, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": key, **(headers or {})}) as r,
    ):
        return r.status, await r.read(), _route_headers(r.headers)


def _no_secret(headers: dict[str, str]) -> None:
    text = " ".join(headers.values())
    for secret in ("sk-a", "sk-b", KEY, "@"):
        assert secret not in text


# ------------------------------------------------------------------ answer headers


async def test_failover_success_names_the_answering_credential_and_the_failed_one(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, "routing: {explain: true}", a_priority=1))
    fakes.claude.fail_key("sk-a", 429, retry_after=60)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        raw = await client.messages.with_raw_response.create(**MSG)
    assert (await raw.parse()).content[0].text
    got = _route_headers(raw.headers)
    a, b = _index(proxy, "sk-a"), _index(proxy, "sk-b")
    assert got["Attempts"] == "2"
    assert got["Provider"] == "claude"
    assert got["Credential"] == b
    assert got["Model"] == "claude-sonnet-4-6"
    skipped = got["Skipped"].split(", ")
    assert f"{a}=failed:429" in skipped
    assert any(s.startswith(f"{a}=cooling:20") and s.endswith("Z") for s in skipped), skipped
    assert not any(s.startswith(b) for s in skipped)  # the answering one was never passed over
    _no_secret(got)


async def test_a_lower_priority_credential_is_named_as_skipped(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, "routing: {explain: true}", a_priority=1))
    status, _, got = await _post(proxy, MSG)
    assert status == 200
    assert got["Attempts"] == "1" and got["Credential"] == _index(proxy, "sk-a")
    assert got["Skipped"] == f"{_index(proxy, 'sk-b')}=lower-priority:priority 0"


async def test_a_stream_carries_the_headers(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, "routing: {explain: true}", a_priority=1))
    fakes.claude.fail_key("sk-a", 500)
    status, body, got = await _post(proxy, {**MSG, "stream": True})
    assert status == 200
    assert b"message_stop" in body  # the whole stream came through
    assert got["Attempts"] == "2" and got["Credential"] == _index(proxy, "sk-b")
    assert f"{_index(proxy, 'sk-a')}=failed:500" in got["Skipped"]


async def test_errors_carry_the_headers_too(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, "routing: {explain: true}"))
    fakes.claude.fail_key("sk-a", 429, retry_after=60)
    fakes.claude.fail_key("sk-b", 429, retry_after=60)
    a, b = _index(proxy, "sk-a"), _index(proxy, "sk-b")
    status, _, got = await _post(proxy, MSG)  # both tried, both answer 429
    assert status == 429
    assert got["Attempts"] == "2"
    assert {f"{a}=failed:429", f"{b}=failed:429"} <= set(got["Skipped"].split(", "))
    status, body, got = await _post(proxy, MSG)  # now both cool: nobody is asked
    assert status == 429 and orjson.loads(body)["error"]["code"] == "model_cooldown"
    assert got["Attempts"] == "0" and got["Credential"] == "-" and got["Provider"] == "-"
    skipped = got["Skipped"].split(", ")
    assert len(skipped) == 2
    assert {s.split("=")[0] for s in skipped} == {a, b}
    assert all("=cooling:20" in s for s in skipped)


async def test_the_request_header_is_honoured_only_for_a_listed_key(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, f'routing: {{explain-keys: ["{OTHER}"]}}'))
    ask = {"X-Cliproxy-Explain": "1"}
    status, _, got = await _post(proxy, MSG, key=KEY, headers=ask)
    assert status == 200 and got == {}  # not a listed key: silently ignored
    status, _, got = await _post(proxy, MSG, key=OTHER)
    assert status == 200 and got == {}  # a listed key that did not ask
    status, _, got = await _post(proxy, MSG, key=OTHER, headers=ask)
    assert status == 200 and got["Attempts"] == "1"
    assert got["Credential"] in {_index(proxy, "sk-a"), _index(proxy, "sk-b")}
    assert all(r.headers.get("X-Cliproxy-Explain") is None for r in fakes.claude.requests)  # not upstream


async def test_no_headers_by_default(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes))
    status, _, got = await _post(proxy, MSG, headers={"X-Cliproxy-Explain": "1"})
    assert status == 200 and got == {}


async def test_a_config_reload_turns_explain_on(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes), watch=True)
    assert (await _post(proxy, MSG))[2] == {}
    proxy.config_path.write_text(proxy.config_path.read_text() + "routing: {explain: true}\n")
    for _ in range(200):
        await asyncio.sleep(0.025)
        if proxy.service.config.routing.explain:
            break
    status, _, got = await _post(proxy, MSG)
    assert status == 200 and got["Attempts"] == "1"


async def test_browsers_may_read_the_headers(start_proxy, fakes):
    proxy = await start_proxy(_config(fakes, "routing: {explain: true}"))
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=MSG, headers={"x-api-key": KEY, "Origin": "http://x"}) as r,
    ):
        exposed = r.headers["Access-Control-Expose-Headers"]
        assert r.headers[ROUTE + "Attempts"] == "1"
    for name in ("Provider", "Credential", "Attempts", "Model", "Skipped"):
        assert ROUTE + name in exposed


# ------------------------------------------------------------------ the dry run


@pytest.fixture
def mgmt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)


async def _dry(proxy: Any, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v0/management/route",
            data=data,
            headers=MHEADERS if headers is None else headers,
        ) as r,
    ):
        return r.status, orjson.loads(await r.read())


async def test_dry_run_shows_the_cooling_credential_and_the_pick(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes))
    fakes.claude.fail_key("sk-a", 429, retry_after=120)
    for _ in range(2):  # round-robin reaches sk-a within two requests; it fails over and cools
        assert (await _post(proxy, MSG))[0] == 200
    fakes.claude.clear_faults()
    status, plan = await _dry(proxy, {"model": "claude-model", "format": "claude", "body": MSG})
    assert status == 200, plan
    a, b = _index(proxy, "sk-a"), _index(proxy, "sk-b")
    assert plan["route"] == {
        "requested": "claude-model",
        "model": "claude-model",
        "suffix": None,
        "providers": ["claude"],
    }
    assert plan["router"] is None and plan["strategy"] == "round-robin" and plan["order_exact"] is True
    assert plan["pick"]["credential"] == b and plan["pick"]["state"] == "available"
    by = {c["credential"]: c for c in plan["candidates"]}
    assert by[a]["state"] == "cooling" and by[a]["order"] is None
    assert by[a]["until"].endswith("Z") and 100 <= by[a]["seconds_left"] <= 120
    assert by[b]["upstream_models"] == ["claude-sonnet-4-6"]
    assert [c["credential"] for c in plan["candidates"]] == [b, a]  # in the order they would be tried
    assert "sk-a" not in orjson.dumps(plan).decode()


async def test_dry_runs_move_no_cursor(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes))
    picks = []
    for _ in range(2):
        status, plan = await _dry(proxy, {"model": "claude-model"})
        assert status == 200
        picks.append(plan["pick"]["credential"])
        assert [c["order"] for c in plan["candidates"]] == [1, 2]
    assert picks[0] == picks[1]
    assert (await _post(proxy, MSG))[0] == 200
    assert _index(proxy, _keys(fakes.claude)[0]) == picks[0]  # the real request went where it said
    status, plan = await _dry(proxy, {"model": "claude-model"})
    assert plan["pick"]["credential"] != picks[0]  # a real pick does move it


async def test_dry_run_shows_priority_tiers(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes, a_priority=5))
    status, plan = await _dry(proxy, {"model": "claude-model", "format": "openai"})
    assert status == 200
    assert [(c["credential"], c["state"], c["order"]) for c in plan["candidates"]] == [
        (_index(proxy, "sk-a"), "available", 1),
        (_index(proxy, "sk-b"), "lower-priority", 2),
    ]
    assert plan["candidates"][0]["priority"] == 5


async def test_dry_run_runs_the_router_plugins_but_calls_no_upstream(start_proxy, fakes, tmp_path, mgmt):
    router = ROUTER.format(name="r1", match="fast", provider="claude", model="claude-opus-4-6")
    proxy = await plugin_proxy(start_proxy, fakes, tmp_path, {"r1": router}, {"r1": {}})
    status, plan = await _dry(proxy, {"model": "fast", "body": {"messages": []}})
    assert status == 200, plan
    assert plan["router"] == {
        "plugin": "r1",
        "kind": "provider",
        "target": "claude",
        "target_model": "claude-opus-4-6",
    }
    assert plan["route"]["providers"] == ["claude"]
    assert plan["pick"]["provider"] == "claude"
    assert plan["pick"]["upstream_models"] == ["claude-opus-4-6"]
    status, plan = await _dry(proxy, {"model": "claude-model"})  # not routed: the registry's route
    assert status == 200 and plan["router"] is None
    assert plan["pick"]["upstream_models"] == ["claude-sonnet-4-6"]
    assert not fakes.claude.requests


async def test_dry_run_does_not_rotate_a_model_pool(start_proxy, fakes, mgmt):
    proxy = await start_proxy(f"""
openai-compatibility:
  - name: pooled
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat"}}]
    models: [{{name: "up-1", alias: "pool-model"}}, {{name: "up-2", alias: "pool-model"}}]
""")
    for _ in range(2):
        status, plan = await _dry(proxy, {"model": "pool-model"})
        assert status == 200 and plan["pick"]["upstream_models"] == ["up-1", "up-2"]


async def test_dry_run_shows_a_credential_at_its_max_concurrency(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes, "routing: {max-concurrency: {claude: 1}}"))
    fakes.claude.delay_next(1.0)
    busy = asyncio.ensure_future(_post(proxy, MSG))
    state = proxy.service.pool.state
    creds = proxy.service.pool.credentials()
    for _ in range(200):
        held = [c for c in creds if await state.slots_in_use(c.id)]
        if held:
            break
        await asyncio.sleep(0.01)
    status, plan = await _dry(proxy, {"model": "claude-model"})
    assert (await busy)[0] == 200
    assert status == 200 and held
    by = {c["credential"]: c for c in plan["candidates"]}
    assert by[held[0].index]["state"] == "over-concurrency" and by[held[0].index]["detail"] == "1/1"
    assert plan["pick"]["credential"] != held[0].index


async def test_dry_run_refuses_bad_input_clearly(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes))
    status, body = await _dry(proxy, {"model": "no-such-model"})
    assert status == 404 and "no-such-model" in body["error"]
    for payload, word in (
        (b"{not json", "invalid JSON"),
        ([1, 2], "JSON object"),
        ({}, "model"),
        ({"model": 3}, "model"),
        ({"model": "claude-model", "format": "soap"}, "format"),
        ({"model": "claude-model", "body": "hi"}, "body"),
        ({"model": "claude-model", "headers": {"a": 1}}, "headers"),
    ):
        status, body = await _dry(proxy, payload)
        assert status == 400 and word in body["error"], (payload, body)


async def test_dry_run_needs_the_management_key(start_proxy, fakes, mgmt):
    proxy = await start_proxy(_config(fakes))
    assert (await _dry(proxy, {"model": "claude-model"}, headers={}))[0] == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await _dry(proxy, {"model": "claude-model"}, headers=wrong))[0] == 401


# ------------------------------------------------------------------ peek_cursor, both backends


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        yield MemoryState()
        return
    state = RedisState(request.getfixturevalue("redis_server").url, "rx:")
    await state.start()
    yield state
    await state.close()


async def test_peek_cursor_reads_without_moving(backend):
    assert await backend.peek_cursor("claude:m") == 0
    assert await backend.peek_cursor("claude:m") == 0
    assert await backend.next_cursor("claude:m") == 0
    assert await backend.peek_cursor("claude:m") == 1
    assert await backend.next_cursor("claude:m") == 1
    assert await backend.peek_cursor("other") == 0
