# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.fixtures)
"""The fake Anthropic server, driven by the official anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from tests.fakes.claude import ClaudeFake
from tests.fakes.fixtures import fake_claude  # noqa: F401

BASH = {
    "name": "Bash",
    "description": "run a command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
AGENT = {
    "name": "Agent",
    "input_schema": {"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]},
}


@pytest.fixture
def client(fake_claude: ClaudeFake):
    with anthropic.Anthropic(base_url=fake_claude.base_url, api_key="sk-ant-test", max_retries=0) as c:
        yield c


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_models_list(client, fake_claude):
    page = client.models.list()
    assert [m.id for m in page.data] == fake_claude.models and page.has_more is False
    assert fake_claude.last.key == "sk-ant-test"  # this SDK sends its api_key as a Bearer token


def test_message_text_and_recording(client, fake_claude):
    msg = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=user("hi"))
    assert msg.content[0].text == "Hello from fake-claude (model claude-sonnet-4-6)"
    assert msg.stop_reason == "end_turn" and msg.usage.input_tokens > 0
    rec = fake_claude.last
    assert rec.path == "/v1/messages" and "anthropic-version" in rec.headers
    assert rec.json["max_tokens"] == 100


def test_beta_query_and_bearer_auth(fake_claude):
    fake_claude.valid_keys = {"oauth-token"}
    with anthropic.Anthropic(base_url=fake_claude.base_url, auth_token="oauth-token", max_retries=0) as c:
        msg = c.messages.create(model="m", max_tokens=10, messages=user("hi"), extra_query={"beta": "true"})
    assert msg.content[0].text.startswith("Hello from fake-claude")
    assert fake_claude.last.query == {"beta": "true"} and fake_claude.last.key == "oauth-token"


def test_stream_with_cache_control(client):
    system = [{"type": "text", "text": "be brief " * 20, "cache_control": {"type": "ephemeral"}}]
    with client.messages.stream(model="m", max_tokens=100, system=system, messages=user("hi")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text == "Hello from fake-claude (model m)"
    assert final.usage.cache_read_input_tokens > 0 and final.usage.cache_creation_input_tokens > 0


def test_thinking_stream(client):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    with client.messages.stream(model="m", max_tokens=2048, thinking=thinking, messages=user("hi")) as stream:
        kinds = [(e.type, getattr(getattr(e, "delta", None), "type", None)) for e in stream]
        final = stream.get_final_message()
    block = final.content[0]
    assert block.type == "thinking" and block.thinking and block.signature
    assert ("content_block_delta", "signature_delta") in kinds
    assert ("content_block_delta", "thinking_delta") in kinds
    assert kinds[0][0] == "message_start" and kinds[-1][0] == "message_stop"


def test_tool_use_round_trip(client):
    first = client.messages.create(
        model="m", max_tokens=100, tools=[AGENT, BASH], messages=user("FAKE_TOOL x")
    )
    call = first.content[-1]
    assert first.stop_reason == "tool_use"
    assert (call.name, call.input) == ("Bash", {"command": "echo FAKE_TOOL_OK"})
    history = [
        *user("FAKE_TOOL x"),
        {"role": "assistant", "content": [c.model_dump() for c in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "FAKE_TOOL_OK"}],
        },
    ]
    second = client.messages.create(model="m", max_tokens=100, tools=[BASH], messages=history)
    assert "FAKE_TOOL_OK" in second.content[0].text


def test_streamed_tool_use_by_name(client):
    messages = user("FAKE_TOOL=Agent now")
    with client.messages.stream(model="m", max_tokens=100, tools=[BASH, AGENT], messages=messages) as stream:
        deltas = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert set(deltas) == {"input_json_delta"} and len(deltas) > 1
    assert (final.content[0].name, final.content[0].input) == ("Agent", {"prompt": "echo FAKE_TOOL_OK"})


def test_count_tokens_matches_usage(client):
    counted = client.messages.count_tokens(model="m", messages=user("count me"), tools=[BASH])
    msg = client.messages.create(model="m", max_tokens=10, messages=user("count me"), tools=[BASH])
    assert counted.input_tokens == msg.usage.input_tokens > 0


def test_429_with_unified_headers(client, fake_claude):
    unified = {
        "status": "rejected",
        "5h-status": "rejected",
        "5h-reset": 1900000000,
        "representative-claim": "five_hour",
    }
    fake_claude.fail_next(429, retry_after=7, unified=unified)
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="m", max_tokens=10, messages=user("hi"))
    headers = err.value.response.headers
    assert headers["retry-after"] == "7" and headers["anthropic-ratelimit-unified-5h-reset"] == "1900000000"
    assert headers["anthropic-ratelimit-unified-status"] == "rejected" and headers["request-id"]
    assert err.value.body["error"]["type"] == "rate_limit_error"


def test_invalid_key(fake_claude):
    fake_claude.valid_keys = {"good"}
    c = anthropic.Anthropic(base_url=fake_claude.base_url, api_key="bad", max_retries=0)
    with c, pytest.raises(anthropic.AuthenticationError) as err:
        c.messages.create(model="m", max_tokens=10, messages=user("hi"))
    assert err.value.body["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_status_errors(client, fake_claude, status, kind):
    fake_claude.fail_next(status, model="m")
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="m", max_tokens=10, messages=user("hi"))
    assert err.value.status_code == status and err.value.body["error"]["type"] == kind


def test_model_scoped_fault(client, fake_claude):
    fake_claude.fail_next(529, model="claude-opus-4-8")
    assert client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=user("hi")).content
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(model="claude-opus-4-8", max_tokens=10, messages=user("hi"))


def test_in_band_error_event(client, fake_claude):
    fake_claude.stream_error_next("overloaded", after=3)
    with (
        pytest.raises(anthropic.APIStatusError) as err,
        client.messages.stream(model="m", max_tokens=10, messages=user("hi")) as stream,
    ):
        list(stream)
    assert err.value.body["error"]["type"] == "overloaded_error"


def test_stream_cut(client, fake_claude):
    fake_claude.cut_next(after=4)
    events = []
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)),
        client.messages.stream(model="m", max_tokens=10, messages=user("hi")) as stream,
    ):
        events.extend(stream)
    assert events and events[-1].type != "message_stop"
