"""A client's mistake is the client's 400 and never cools a shared credential.

Through the proxy to the fake upstreams: malformed bodies are refused before any
upstream call, upstream errors that quote the client do not cool the credential,
``disable-cooling`` means no cooldown at all, JSON too deep to write back is a 400 on
every route, and a huge client-supplied value is not echoed whole in an error.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

AUTH = {"Authorization": f"Bearer {KEY}"}

# route -> (path, a valid body, the name of the fake that serves it on Fakes)
ROUTES: dict[str, tuple[str, dict[str, Any], str]] = {
    "chat": (
        "/v1/chat/completions",
        {"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]},
        "openai",
    ),
    "responses": ("/v1/responses", {"model": "codex-model", "input": "hi"}, "responses"),
    "codex": ("/backend-api/codex/responses", {"model": "codex-model", "input": "hi"}, "responses"),
    "messages": (
        "/v1/messages",
        {"model": "claude-model", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        "claude",
    ),
    "count_tokens": (
        "/v1/messages/count_tokens",
        {"model": "claude-model", "messages": [{"role": "user", "content": "hi"}]},
        "claude",
    ),
    "gemini": (
        "/v1beta/models/gemini-model:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
    ),
    "gemini_stream": (
        "/v1beta/models/gemini-model:streamGenerateContent?alt=sse",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
    ),
    "gemini_count": (
        "/v1beta/models/gemini-model:countTokens",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
    ),
    "gemini_v1": (
        "/v1/models/gemini-model:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        "gemini",
    ),
}

# a malformed body per route, and the path the 400 must name
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "chat": ({"model": "compat-model", "messages": "hello"}, "messages"),
    "responses": ({"model": "codex-model", "input": [{"role": "user", "content": "a"}, 7]}, "input[1]"),
    "codex": ({"model": "codex-model", "input": {"role": "user"}}, "input"),
    "messages": (
        {
            "model": "claude-model",
            "max_tokens": 64,
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": {"text": "c"}},
            ],
        },
        "messages[2].content",
    ),
    "count_tokens": (
        {"model": "claude-model", "messages": [{"role": "human", "content": "a"}]},
        "messages[0].role",
    ),
    "gemini": ({"contents": [{"role": "user", "parts": "hi"}]}, "contents[0].parts"),
    "gemini_stream": ({"contents": "hi"}, "contents"),
    "gemini_count": ({"contents": [{"role": "user", "parts": [{"text": "a"}]}, 3]}, "contents[1]"),
    "gemini_v1": (
        {
            "contents": [{"role": "user", "parts": [{"text": "a"}]}],
            "generationConfig": {"maxOutputTokens": "lots"},
        },
        "generationConfig.maxOutputTokens",
    ),
}


def error_message(route: str, payload: dict[str, Any]) -> str:
    """The error message, asserting the shape of the route's format."""
    err = payload["error"]
    if route in ("messages", "count_tokens"):
        assert payload["type"] == "error" and err["type"] == "invalid_request_error"
    elif route.startswith("gemini"):
        assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT"
    else:
        assert err["type"] == "invalid_request_error"
    return err["message"]


async def post(proxy: Any, path: str, body: Any) -> tuple[int, bytes]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            proxy.url + path, data=raw, headers={**AUTH, "Content-Type": "application/json"}
        ) as resp,
    ):
        return resp.status, await resp.read()


async def listed(proxy: Any) -> set[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(proxy.url + "/v1/models", headers=AUTH) as resp,
    ):
        assert resp.status == 200
        return {m["id"] for m in (await resp.json())["data"]}


async def cooling(proxy: Any) -> list[Any]:
    pool = proxy.service.pool
    return [r for c in pool.credentials() for r in await pool.cooldowns(c)]


# --------------------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_malformed_body_is_a_400_and_never_goes_upstream(matrix, route):
    path, good, fake_name = ROUTES[route]
    fake = getattr(matrix.fakes, fake_name)
    fake.fail_next(500, times=None)  # what an upstream may well do with such a body
    bad, param = MALFORMED[route]
    status, raw = await post(matrix, path, bad)
    assert status == 400, raw
    message = error_message(route, orjson.loads(raw))
    assert message.startswith(f"{param}: ")
    if not route.startswith("gemini") and route not in ("messages", "count_tokens"):
        assert orjson.loads(raw)["error"]["param"] == param
    assert fake.requests == []
    assert await cooling(matrix) == []
    fake.clear_faults()
    status, raw = await post(matrix, path, good)
    assert status == 200, raw


async def test_later_valid_requests_are_served_after_a_malformed_one(matrix):
    """The reported case: an OpenAI-compat pass-through whose upstream answers such a body
    with a 500, which cooled the only credential for 60 s (every later request got 429)."""
    matrix.fakes.openai.fail_next(500)  # the upstream's answer to such a body, were it sent
    status, _ = await post(matrix, "/v1/chat/completions", {"model": "compat-model", "messages": "hello"})
    assert status == 400
    matrix.fakes.openai.clear_faults()
    for _ in range(3):
        status, raw = await post(matrix, "/v1/chat/completions", ROUTES["chat"][1])
        assert status == 200, raw


# --------------------------------------------------------------------------- echoed "model not supported"


@pytest.mark.parametrize("route", ["chat", "messages", "gemini"])
async def test_upstream_echoing_model_not_supported_does_not_cool(matrix, route):
    path, good, fake_name = ROUTES[route]
    fake = getattr(matrix.fakes, fake_name)
    model = "compat-model" if route == "chat" else "claude-model" if route == "messages" else "gemini-model"
    assert model in await listed(matrix)
    # the upstream quotes the client's text back: "...the model not supported..."
    fake.fail_next(400, message="Invalid message: 'say: the model not supported, unsupported model'")
    status, raw = await post(matrix, path, good)
    assert status == 400 and b"model not supported" in raw
    assert await cooling(matrix) == []
    assert model in await listed(matrix)
    status, raw = await post(matrix, path, good)
    assert status == 200, raw


async def test_structured_model_not_supported_still_cools_and_unlists(matrix):
    matrix.fakes.openai.fail_next(
        400,
        body={
            "error": {
                "message": "The requested model is not supported.",
                "type": "invalid_request_error",
                "code": "model_not_supported",
            }
        },
    )
    status, _ = await post(matrix, "/v1/chat/completions", ROUTES["chat"][1])
    assert status == 400
    [record] = await cooling(matrix)
    assert record.reason == "model_not_supported"
    assert "compat-model" not in await listed(matrix)


# --------------------------------------------------------------------------- disable-cooling

FAULTS = [
    (500, None),
    (429, None),
    (404, None),
    (401, None),
    (403, None),
    (400, {"error": {"message": "no", "type": "invalid_request_error", "code": "model_not_supported"}}),
    (403, "<!DOCTYPE html><html><title>Just a moment...</title>challenge-platform</html>"),
]


@pytest.mark.parametrize(("status", "body"), FAULTS)
async def test_disable_cooling_means_no_cooldown(start_proxy, fakes, status, body):
    proxy = await start_proxy(matrix_config(fakes, "disable-cooling: true"))
    fakes.openai.fail_next(status, body=body)
    got, _ = await post(proxy, "/v1/chat/completions", ROUTES["chat"][1])
    assert got == status
    assert await cooling(proxy) == []
    assert "compat-model" in await listed(proxy)
    got, raw = await post(proxy, "/v1/chat/completions", ROUTES["chat"][1])
    assert got == 200, raw


async def test_disable_cooling_per_provider_entry(start_proxy, fakes):
    config = matrix_config(fakes).replace(
        '      - api-key: "sk-compat-1"\n', '      - api-key: "sk-compat-1"\n    disable-cooling: true\n', 1
    )
    proxy = await start_proxy(config)
    fakes.openai.fail_next(429)
    assert (await post(proxy, "/v1/chat/completions", ROUTES["chat"][1]))[0] == 429
    assert await cooling(proxy) == []
    fakes.claude.fail_next(429)
    assert (await post(proxy, "/v1/messages", ROUTES["messages"][1]))[0] == 429
    assert [r.provider for r in await cooling(proxy)] == ["claude"]  # the others still cool


# --------------------------------------------------------------------------- deep JSON


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("levels", [254, 600, 1023])
async def test_deep_json_is_a_400_on_every_route(matrix, route, levels):
    path, good, fake_name = ROUTES[route]
    raw = orjson.dumps(good)[:-1] + b',"x_extra":' + deep(levels) + b"}"
    status, answer = await post(matrix, path, raw)
    assert status == 400, answer[:300]
    assert "nested too deeply" in error_message(route, orjson.loads(answer))
    assert getattr(matrix.fakes, fake_name).requests == []


async def test_deep_json_within_the_limit_is_served(matrix):
    path, good, _ = ROUTES["chat"]
    raw = orjson.dumps(good)[:-1] + b',"x_extra":' + deep(199) + b"}"  # 200 levels with the body
    status, answer = await post(matrix, path, raw)
    assert status == 200, answer[:300]


async def test_deep_json_on_management_is_a_400(start_proxy, fakes, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "mgmt")
    proxy = await start_proxy(matrix_config(fakes))
    headers = {"Authorization": "Bearer mgmt", "Content-Type": "application/json"}
    base = proxy.url + "/v0/management"
    async with aiohttp.ClientSession() as session:
        async with session.post(
            base + "/auth-files?name=a.json",
            headers=headers,
            data=orjson.dumps({"type": "claude", "email": "a@x", "api_key": "k"}),
        ) as resp:
            assert resp.status == 200, await resp.text()
        calls = [
            ("PATCH", "/auth-files/fields", b'{"name":"a.json","note":' + deep(300) + b"}", "invalid"),
            (
                "POST",
                "/auth-files?name=b.json",
                b'{"type":"claude","x":' + deep(300) + b"}",
                "nested too deeply",
            ),
        ]
        for method, path, body, message in calls:
            async with session.request(method, base + path, data=body, headers=headers) as resp:
                assert resp.status == 400, (path, await resp.text())
                assert message in (await resp.json())["error"]
        async with session.get(base + "/auth-files", headers=headers) as resp:
            assert resp.status == 200
            assert [f["name"] for f in (await resp.json())["files"]] == ["a.json"]


# --------------------------------------------------------------------------- echoed values


@pytest.mark.parametrize("route", ["chat", "responses", "messages", "count_tokens"])
async def test_a_huge_model_name_is_not_echoed_whole(matrix, route):
    path, good, _ = ROUTES[route]
    name = "m" * 1_000_000
    status, raw = await post(matrix, path, {**good, "model": name})
    assert status in (400, 404), raw[:300]
    assert len(raw) < 2000
    assert "mmmmmmmmmm" in error_message(route, orjson.loads(raw))  # still says which model


async def test_a_long_gemini_model_and_method_are_not_echoed_whole(matrix):
    for path in (
        "/v1beta/models/" + "g" * 6000 + ":generateContent",
        "/v1beta/models/gemini-model:" + "x" * 6000,
    ):
        status, raw = await post(matrix, path, ROUTES["gemini"][1])
        assert status in (400, 404), raw[:300]
        assert len(raw) < 2000
