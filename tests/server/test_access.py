"""Client API keys: every key source, wrong and missing keys, open proxy, safe mode."""

from __future__ import annotations

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

KEYS = """
api-keys:
  - "sk-good"
  - "  sk-spaced  "
"""

# one route per client format: path, error-shape checker
OPENAI = "/v1/chat/completions"
CLAUDE = "/v1/messages"
GEMINI = "/v1beta/models/gemini-2.5-flash:generateContent"


def _is_openai_error(body: dict, code: str) -> bool:
    return set(body) == {"error"} and body["error"]["code"] == code and "message" in body["error"]


def _is_claude_error(body: dict, etype: str) -> bool:
    return body["type"] == "error" and body["error"]["type"] == etype


# an accepted key reaches the handler, which refuses the empty body in the client's format:
# proof that the request got past the access check (a refused key is a 401 before that)
PAST_ACCESS = {
    OPENAI: {
        "error": {
            "message": "model: required, a non-empty string",
            "type": "invalid_request_error",
            "code": "invalid_request_error",
            "param": "model",
        }
    },
    CLAUDE: {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "model: required, a non-empty string"},
    },
    GEMINI: {
        "error": {
            "code": 400,
            "message": "contents: required, a list of content objects",
            "status": "INVALID_ARGUMENT",
        }
    },
}


async def _assert_past_access(r: aiohttp.ClientResponse, path: str) -> None:
    assert r.status == 400, await r.text()
    assert await r.json() == PAST_ACCESS[path]


@pytest.mark.parametrize(
    "headers,query,source",
    [
        ({"Authorization": "Bearer sk-good"}, {}, "authorization"),
        ({"Authorization": "sk-good"}, {}, "authorization"),  # a non-Bearer value is taken whole
        ({"X-Goog-Api-Key": "sk-good"}, {}, "x-goog-api-key"),
        ({"X-Api-Key": "sk-good"}, {}, "x-api-key"),
        ({}, {"key": "sk-good"}, "query-key"),
        ({}, {"auth_token": "sk-good"}, "query-auth-token"),
        ({"X-Api-Key": "sk-spaced"}, {}, "x-api-key"),  # keys are trimmed in the config
    ],
)
@pytest.mark.parametrize("path", [OPENAI, CLAUDE, GEMINI])
async def test_each_key_source_is_accepted(start_proxy, headers, query, source, path):
    proxy = await start_proxy(KEYS)
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, headers=headers, params=query, json={}) as r,
    ):
        await _assert_past_access(r, path)


async def test_bearer_wins_over_other_sources(start_proxy):
    proxy = await start_proxy(KEYS)
    async with aiohttp.ClientSession() as s:
        # CPA order: Authorization first, so a wrong Bearer fails even with a good x-api-key
        async with s.post(
            proxy.url + OPENAI, headers={"Authorization": "Bearer nope", "X-Api-Key": "sk-good"}, json={}
        ) as r:
            assert r.status == 401
            assert _is_openai_error(await r.json(), "invalid_api_key")
        async with s.post(
            proxy.url + OPENAI, headers={"Authorization": "Bearer sk-good", "X-Api-Key": "nope"}, json={}
        ) as r:
            await _assert_past_access(r, OPENAI)


@pytest.mark.parametrize(
    "headers,message", [({}, "Missing API key"), ({"Authorization": "Bearer bad"}, "Invalid API key")]
)
async def test_openai_route_401_shape(start_proxy, headers, message):
    proxy = await start_proxy(KEYS)
    async with aiohttp.ClientSession() as s, s.post(proxy.url + OPENAI, headers=headers, json={}) as r:
        assert r.status == 401
        body = await r.json()
    assert _is_openai_error(body, "invalid_api_key")
    assert body["error"]["message"] == message
    assert body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "headers,message", [({}, "Missing API key"), ({"X-Api-Key": "bad"}, "Invalid API key")]
)
async def test_claude_route_401_shape(start_proxy, headers, message):
    proxy = await start_proxy(KEYS)
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + CLAUDE + "?beta=true", headers=headers, json={}) as r,
    ):
        assert r.status == 401
        body = await r.json()
    assert _is_claude_error(body, "authentication_error")
    assert body["error"]["message"] == message


@pytest.mark.parametrize("params,message", [({}, "Missing API key"), ({"key": "bad"}, "Invalid API key")])
async def test_gemini_route_401_shape(start_proxy, params, message):
    proxy = await start_proxy(KEYS)
    async with aiohttp.ClientSession() as s, s.post(proxy.url + GEMINI, params=params, json={}) as r:
        assert r.status == 401
        body = await r.json()
    assert body["error"] == {"code": 401, "message": message, "status": "UNAUTHENTICATED"}


async def test_sdks_see_authentication_errors(start_proxy):
    proxy = await start_proxy(KEYS)
    oc = openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as oe:
        await oc.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert "Invalid API key" in str(oe.value)
    await oc.close()

    ac = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as ae:
        await ac.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert ae.value.body["error"]["message"] == "Invalid API key"
    await ac.close()

    gc = genai.Client(
        api_key="wrong",
        http_options=genai_types.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=genai_types.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(genai_errors.ClientError) as ge:
        await gc.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert ge.value.code == 401
    assert ge.value.message == "Invalid API key"
    await gc.aio.aclose()


async def test_empty_key_list_lets_everything_through(start_proxy, caplog):
    proxy = await start_proxy("api-keys: []\n")
    async with aiohttp.ClientSession() as s:
        for path in (OPENAI, CLAUDE, GEMINI):
            async with s.post(proxy.url + path, json={}) as r:
                await _assert_past_access(r, path)
    assert proxy.service.access.open


async def test_safe_mode_blocks_proxy_routes_while_example_keys_remain(start_proxy):
    proxy = await start_proxy('api-keys: ["your-api-key-1", "sk-real"]\n')
    async with aiohttp.ClientSession() as s:
        for path in (OPENAI, CLAUDE, GEMINI, "/v1/models", "/backend-api/codex/responses"):
            async with s.post(proxy.url + path, headers={"Authorization": "Bearer sk-real"}, json={}) as r:
                assert r.status == 403, path
                assert r.headers["X-CPA-SAFE-MODE"] == "example-api-key"
                body = await r.json()
                assert body["error"] == "unsafe_example_api_key"
                assert "api-keys" in body["message"]
        async with s.get(proxy.url + "/healthz") as r:
            assert r.status == 200


def test_example_keys_are_only_the_template_values() -> None:
    """CPA: TestExampleAPIKeysDetectsOnlyTemplateValues, TestExampleAPIKeysIgnoresSimilarValues,
    TestShouldEnableExampleAPIKeySafeMode (its server cases: a padded template key next to a
    real one turns safe mode on, a real key alone does not; its TUI, one-shot command, Home
    and cloud-standby cases have no counterpart, cliproxy has no such modes)."""
    from cliproxy.access import AccessPolicy as Access

    keys = [" real-key ", " your-api-key-1 ", "your-api-key", "change-me", "your-api-key-2", "your-api-key-3"]
    access = Access(keys)
    assert access.example_keys == ["your-api-key-1", "your-api-key-2", "your-api-key-3"]
    assert access.safe_mode
    similar = Access(["your-api-key", "change-me", "changeme", "your-api-key-4", "my-your-api-key-1"])
    assert similar.example_keys == [] and not similar.safe_mode
    assert not Access(["real-key"]).safe_mode
