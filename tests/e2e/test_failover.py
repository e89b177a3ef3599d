"""Failover and cooldown through a running proxy, against fake upstreams."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask


@pytest.fixture(params=["memory", "redis"])
def start_proxy(request, start_proxy):
    """The suite runs once per state backend: in memory, and on a real Redis."""
    if request.param == "memory":
        return start_proxy
    url = request.getfixturevalue("redis_server").url

    async def start(yaml_text: str = "", **kw):
        return await start_proxy(f"{yaml_text}\nstate:\n  backend: redis\n  url: {url}\n", **kw)

    return start


def two_claude_keys(fakes, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-a"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
  - api-key: "sk-b"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
{extra}
"""


def _keys(fake) -> list[str]:
    return [
        r.headers.get("x-api-key") or r.headers.get("Authorization", "").removeprefix("Bearer ")
        for r in fake.requests
        if r.path.startswith("/v1/messages")
    ]


async def _post(proxy, body: dict, path: str = "/v1/messages") -> tuple[int, dict | bytes, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=body, headers={"x-api-key": KEY}) as r,
    ):
        raw = await r.read()
        try:
            return r.status, orjson.loads(raw), dict(r.headers)
        except orjson.JSONDecodeError:
            return r.status, raw, dict(r.headers)


MSG = {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


async def test_round_robin_alternates(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    for _ in range(4):
        status, _, _ = await _post(proxy, MSG)
        assert status == 200
    keys = _keys(fakes.claude)
    assert sorted(keys) == ["sk-a", "sk-a", "sk-b", "sk-b"]
    assert keys[0] != keys[1] and keys[1] != keys[2]


async def test_429_with_retry_after_fails_over_and_skips_until_expiry(start_proxy, fakes, clock):
    proxy = await start_proxy(two_claude_keys(fakes), clock=clock)
    fakes.claude.fail_key("sk-a", 429, retry_after=60)
    for _ in range(4):
        status, body, _ = await _post(proxy, MSG)
        assert status == 200, body
    assert _keys(fakes.claude).count("sk-a") == 1  # tried once, then cooling
    fakes.claude.clear_faults()
    clock.advance(59)
    fakes.claude.clear()
    for _ in range(2):
        await _post(proxy, MSG)
    assert _keys(fakes.claude) == ["sk-b", "sk-b"]  # still cooling 1 s before expiry
    clock.advance(2)
    fakes.claude.clear()
    for _ in range(2):
        await _post(proxy, MSG)
    assert "sk-a" in _keys(fakes.claude)  # back after the cooldown


async def test_every_credential_cooling_gives_model_cooldown(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.fail_key("sk-a", 429, retry_after=30)
    fakes.claude.fail_key("sk-b", 429, retry_after=30)
    status, body, headers = await _post(proxy, MSG)
    assert status == 429  # the upstream's own 429 on the request that found out
    status, body, headers = await _post(proxy, MSG)
    assert status == 429
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert body["error"]["code"] == "model_cooldown"
    assert 25 <= int(headers["Retry-After"]) <= 30
    n = len(fakes.claude.requests)
    await _post(proxy, MSG)
    assert len(fakes.claude.requests) == n  # nobody was asked while all cool down


async def test_request_fault_is_not_retried_nor_cooled(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.fail_next(400, message="messages: bad thing")
    status, body, _ = await _post(proxy, MSG)
    assert status == 400
    assert "bad thing" in orjson.dumps(body).decode()
    assert len(fakes.claude.requests) == 1
    for _ in range(2):  # both credentials still serve
        assert (await _post(proxy, MSG))[0] == 200
    assert sorted(_keys(fakes.claude)[1:]) == ["sk-a", "sk-b"]


async def test_500_before_first_byte_of_stream_moves_on(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.fail_next(500)
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    assert "Hello from fake" in answer.text
    assert len(set(_keys(fakes.claude))) == 2


async def test_in_band_error_before_content_fails_over(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.stream_error_next("overloaded", after=0)
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    assert "Hello from fake" in answer.text


async def test_cut_after_first_byte_ends_with_error_event(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.cut_next(after=4)
    body = {**MSG, "stream": True}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r,
    ):
        assert r.status == 200
        raw = await r.read()
    assert b"event: message_start" in raw
    assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    assert b"message_stop" not in raw


async def test_cut_after_first_byte_translated_to_openai(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    fakes.claude.cut_next(after=4)
    body = {"model": "claude-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        raw = await r.read()
    last = raw.rstrip().split(b"\n\n")[-1]
    assert last.startswith(b"data: {") and b'"error"' in last
    assert b"[DONE]" not in raw


async def test_cooldown_survives_restart_with_cds(start_proxy, fakes, tmp_path):
    cfg = two_claude_keys(fakes, "save-cooldown-status: true\n")
    proxy = await start_proxy(cfg)
    fakes.claude.fail_key("sk-a", 429, retry_after=300)
    for _ in range(2):
        await _post(proxy, MSG)
    assert list(proxy.service.auth_dir.glob("*.cds")), "no .cds written"
    await proxy.close()
    fakes.claude.clear_faults()
    fakes.claude.clear()
    again = await start_proxy(cfg)
    for _ in range(3):
        assert (await _post(again, MSG))[0] == 200
    assert set(_keys(fakes.claude)) == {"sk-b"}


async def test_unknown_model_is_400_model_not_found(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    status, body, _ = await _post(proxy, {**MSG, "model": "no-such-model"})
    assert status == 400
    assert body["type"] == "error" and "no-such-model" in body["error"]["message"]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            json={"model": "nope", "messages": []},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        body = await r.json()
        assert r.status == 400 and body["error"]["code"] == "model_not_found"


async def test_bad_json_and_bad_fields_are_400_in_client_format(start_proxy, fakes):
    proxy = await start_proxy(two_claude_keys(fakes))
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages", data=b"{not json", headers={"x-api-key": KEY}) as r:
            assert r.status == 400
            assert (await r.json())["type"] == "error"
        async with s.post(
            proxy.url + "/v1/chat/completions",
            json={"model": "claude-model", "stream": "yes"},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"]["param"] == "stream"
        async with s.post(
            proxy.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "claude-model", "messages": [{"role": "robot", "content": "x"}]},
        ) as r:
            assert r.status == 400
            assert "robot" in (await r.json())["error"]["message"]
        assert not fakes.claude.requests  # nothing bad reached the upstream
        async with s.post(
            proxy.url + "/v1beta/models/claude-model:generateContent?key=" + KEY, json={"contents": "nope"}
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"]["status"] == "INVALID_ARGUMENT"
