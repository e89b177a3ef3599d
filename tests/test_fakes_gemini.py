# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.fixtures)
"""The fake Gemini server, driven by the official google-genai SDK (and raw HTTP for the JSON-array stream)."""

from __future__ import annotations

import json

import aiohttp
import pytest
from google import genai
from google.genai import errors, types

from tests.fakes.fixtures import fake_gemini  # noqa: F401
from tests.fakes.gemini import GeminiFake

SHELL = types.FunctionDeclaration(
    name="run_shell_command",
    description="run a command",
    parameters_json_schema={
        "type": "object",
        "properties": {"command": {"type": "string"}, "description": {"type": "string"}},
        "required": ["command"],
    },
)
TOOLS = [types.Tool(function_declarations=[SHELL])]
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


def make_client(fake: GeminiFake, key: str = "g-key", version: str | None = None) -> genai.Client:
    options = types.HttpOptions(base_url=fake.base_url, api_version=version)
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture(scope="module")
def server():
    """One fake for the module: a google-genai client costs ~0.2 s to build, so share both."""
    with GeminiFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def shared_client(server: GeminiFake):
    with make_client(server) as c:
        yield c


@pytest.fixture
def gem(server: GeminiFake):
    yield server
    server.reset()
    server.valid_keys = None
    server.bad_key_status = 400


@pytest.fixture
def client(gem: GeminiFake, shared_client: genai.Client):
    return shared_client


def test_models_list_default_v1(client, gem):
    names = [m.name for m in client.models.list()]
    assert names == [f"models/{m}" for m in gem.models]
    assert gem.last.path == "/v1/models" and gem.last.headers["x-goog-api-key"] == "g-key"


def test_generate_content_and_recording(client, gem):
    out = client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert out.text == "Hello from fake-gemini (model gemini-2.5-flash)"
    assert (
        out.usage_metadata.total_token_count
        == out.usage_metadata.prompt_token_count + out.usage_metadata.candidates_token_count
    )
    rec = gem.last
    assert rec.path == "/v1/models/gemini-2.5-flash:generateContent" and rec.model == "gemini-2.5-flash"
    assert rec.json["contents"][0]["parts"][0]["text"] == "hi" and rec.key == "g-key"


def test_stream_sse(client, gem):
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert "".join(c.text for c in chunks) == "Hello from fake-gemini (model gemini-2.5-flash)"
    assert len(chunks) > 1 and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert gem.last.query == {"alt": "sse"}


def test_function_call_with_thoughts_then_response(gem):
    config = types.GenerateContentConfig(
        tools=TOOLS,
        automatic_function_calling=NO_AFC,
        thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024),
    )
    with make_client(gem, version="v1beta") as c:
        chunks = list(
            c.models.generate_content_stream(model="gemini-2.5-pro", contents="FAKE_TOOL go", config=config)
        )
        parts = [p for ch in chunks for p in ch.candidates[0].content.parts]
        assert parts[0].thought is True and parts[0].text
        call_part = parts[-1]
        assert call_part.function_call.name == "run_shell_command"
        assert call_part.function_call.args == {"command": "echo FAKE_TOOL_OK"}
        assert call_part.thought_signature
        assert chunks[-1].usage_metadata.thoughts_token_count > 0
        history = [
            types.Content(role="user", parts=[types.Part(text="FAKE_TOOL go")]),
            types.Content(role="model", parts=[call_part]),
            types.Content(
                role="user",
                parts=[
                    types.Part.from_function_response(
                        name="run_shell_command", response={"output": "FAKE_TOOL_OK"}
                    )
                ],
            ),
        ]
        final = c.models.generate_content(model="gemini-2.5-pro", contents=history, config=config)
    assert "FAKE_TOOL_OK" in final.text
    assert gem.last.path.startswith("/v1beta/models/gemini-2.5-pro")


def test_two_parallel_calls(client):
    config = types.GenerateContentConfig(tools=TOOLS, automatic_function_calling=NO_AFC)
    out = client.models.generate_content(model="m", contents="FAKE_TOOLS2", config=config)
    assert [c.args["command"] for c in out.function_calls] == ["echo FAKE_TOOL_OK_1", "echo FAKE_TOOL_OK_2"]


def test_count_tokens_matches_usage(client):
    counted = client.models.count_tokens(model="m", contents="count these tokens")
    out = client.models.generate_content(model="m", contents="count these tokens")
    assert counted.total_tokens == out.usage_metadata.prompt_token_count > 0


def test_429_retry_info_and_quota_reset_delay(client, gem):
    gem.fail_next(429, retry_delay=3.5, quota_reset_delay="1h2m3s")
    with pytest.raises(errors.ClientError) as err:
        client.models.generate_content(model="m", contents="hi")
    assert (err.value.code, err.value.status) == (429, "RESOURCE_EXHAUSTED")
    by_type = {d["@type"].rsplit(".", 1)[1]: d for d in err.value.details["error"]["details"]}
    assert by_type["RetryInfo"]["retryDelay"] == "3.5s"
    assert by_type["ErrorInfo"]["metadata"]["quotaResetDelay"] == "1h2m3s"


def test_bad_and_missing_key(gem):
    gem.valid_keys = {"good"}
    with make_client(gem, key="bad") as c, pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model="m", contents="hi")
    assert err.value.code == 400 and err.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    gem.bad_key_status = 401
    with make_client(gem, key="bad") as c, pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model="m", contents="hi")
    assert (err.value.code, err.value.status) == (401, "UNAUTHENTICATED")
    with make_client(gem, key="good") as c:
        assert c.models.generate_content(model="m", contents="hi").text


@pytest.mark.parametrize(
    ("status", "exc", "name"),
    [
        (400, errors.ClientError, "INVALID_ARGUMENT"),
        (403, errors.ClientError, "PERMISSION_DENIED"),
        (404, errors.ClientError, "NOT_FOUND"),
        (500, errors.ServerError, "INTERNAL"),
        (503, errors.ServerError, "UNAVAILABLE"),
    ],
)
def test_status_errors(client, gem, status, exc, name):
    gem.fail_next(status)
    with pytest.raises(exc) as err:
        client.models.generate_content(model="m", contents="hi")
    assert (err.value.code, err.value.status) == (status, name)


def test_in_band_error_in_sse(client, gem):
    gem.stream_error_next("overloaded", after=1)
    with pytest.raises(errors.APIError) as err:
        list(client.models.generate_content_stream(model="m", contents="hi"))
    assert err.value.code == 503


async def test_json_array_stream_without_alt(fake_gemini):
    url = fake_gemini.url("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body, params={"key": "k"}) as resp:
            assert resp.content_type == "application/json"
            chunks = json.loads(await resp.read())
        fake_gemini.cut_next(after=1)
        async with session.post(url, json=body, params={"key": "k"}) as resp:
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks).startswith("Hello")
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] > 0
    assert fake_gemini.requests[0].key == "k"
