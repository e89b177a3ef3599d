# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.fixtures)
"""The fake OpenAI server, driven by the official openai SDK."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import openai
import pytest

from tests.fakes.fixtures import fake_openai, fake_responses  # noqa: F401
from tests.fakes.openai import OpenAIFake

BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "run a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
    },
}
RESP_TOOL = {"type": "function", "name": "exec_command", **{k: BASH["function"][k] for k in ("parameters",)}}


@pytest.fixture
def client(fake_openai: OpenAIFake):
    with openai.OpenAI(base_url=fake_openai.url("/v1"), api_key="sk-test", max_retries=0) as c:
        yield c


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# ---- chat completions -------------------------------------------------------------


def test_models_list(client, fake_openai):
    assert [m.id for m in client.models.list()] == fake_openai.models
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"


def test_chat_text_and_recording(client, fake_openai):
    done = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    assert done.choices[0].message.content == "Hello from fake-openai (model gpt-4o-mini)"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    rec = fake_openai.last
    assert (rec.method, rec.path, rec.key) == ("POST", "/v1/chat/completions", "sk-test")
    assert rec.headers["authorization"] == "Bearer sk-test"
    assert rec.json["messages"] == user("hi") and json.loads(rec.body) == rec.json
    assert rec.model == "gpt-4o-mini"
    fake_openai.clear()
    assert fake_openai.requests == []


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="m", messages=user("hi"), stream=True, stream_options={"include_usage": True}
    )
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from fake-openai (model m)"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len(chunks) > 3


def test_chat_stream_without_usage(client):
    with client.chat.completions.create(model="m", messages=user("hi"), stream=True) as stream:
        chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_tool_round_trip(client):
    first = client.chat.completions.create(model="m", messages=user("FAKE_TOOL please"), tools=[BASH])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("bash", {"cmd": "echo FAKE_TOOL_OK"})
    history = [
        *user("FAKE_TOOL please"),
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "FAKE_TOOL_OK\n"},
    ]
    final = client.chat.completions.create(model="m", messages=history, tools=[BASH])
    assert "FAKE_TOOL_OK" in final.choices[0].message.content


def test_chat_stream_helper_two_parallel_calls(client):
    with client.chat.completions.stream(model="m", messages=user("FAKE_TOOLS2"), tools=[BASH]) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments)["cmd"] for c in calls] == [
        "echo FAKE_TOOL_OK_1",
        "echo FAKE_TOOL_OK_2",
    ]
    assert len({c.id for c in calls}) == 2
    assert "tool_calls.function.arguments.delta" in kinds


def test_chat_reasoning_content(client):
    done = client.chat.completions.create(model="m", messages=user("hi"), reasoning_effort="low")
    assert done.choices[0].message.model_extra["reasoning_content"]
    with client.chat.completions.create(
        model="m", messages=user("hi"), reasoning_effort="low", stream=True
    ) as s:
        reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in s)
    assert reasoning == done.choices[0].message.model_extra["reasoning_content"]


async def test_async_client_against_fixture(fake_openai):
    async with openai.AsyncOpenAI(base_url=fake_openai.url("/v1"), api_key="k", max_retries=0) as c:
        done = await c.chat.completions.create(model="m", messages=user("hi"))
    assert done.choices[0].message.content.startswith("Hello from fake-openai")


def test_chat_without_v1_prefix(fake_openai):
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0) as c:
        c.chat.completions.create(model="m", messages=user("hi"))
    assert fake_openai.last.path == "/chat/completions"


# ---- responses ------------------------------------------------------------------


def test_responses_text(client):
    assert (
        client.responses.create(model="gpt-5", input="hi").output_text
        == "Hello from fake-responses (model gpt-5)"
    )


def test_responses_stream_event_order(client):
    with client.responses.stream(model="gpt-5", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.usage.total_tokens > 0 and final.output_text.startswith("Hello")


def test_responses_function_call_with_reasoning(client, fake_openai):
    kwargs = {
        "model": "gpt-5",
        "tools": [RESP_TOOL],
        "reasoning": {"effort": "high", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
    }
    with client.responses.stream(input="FAKE_TOOL go", **kwargs) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    reasoning, call = final.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content and reasoning.summary[0].text
    assert call.type == "function_call" and json.loads(call.arguments) == {"cmd": "echo FAKE_TOOL_OK"}
    assert "response.function_call_arguments.delta" in kinds
    assert "response.reasoning_summary_text.delta" in kinds
    follow = [
        {"role": "user", "content": "FAKE_TOOL go"},
        reasoning.model_dump(exclude_none=True),
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "FAKE_TOOL_OK"},
    ]
    second = client.responses.create(input=follow, **kwargs)
    assert "FAKE_TOOL_OK" in second.output_text
    assert fake_openai.last.json["input"][-1]["type"] == "function_call_output"


def test_codex_backend_requires_stream(fake_responses):
    base = fake_responses.url("/backend-api/codex")
    with (
        openai.OpenAI(base_url=base, api_key="k", max_retries=0) as c,
        pytest.raises(openai.BadRequestError) as err,
    ):
        c.responses.create(model="gpt-5", input="hi")
        assert err.value.body == {"detail": "Stream must be set to true"}
        with c.responses.stream(model="gpt-5", input="hi") as stream:
            assert stream.get_final_response().output_text.startswith("Hello")
    assert fake_responses.last.path == "/backend-api/codex/responses"


def test_responses_compact(client):
    out = client.post("/responses/compact", body={"model": "gpt-5", "input": "hello"}, cast_to=object)
    assert out["object"] == "response.compaction" and out["output"][-1]["type"] == "compaction"


def test_responses_in_band_failure(client, fake_openai):
    fake_openai.stream_error_next("overloaded", after=2)
    with client.responses.create(model="gpt-5", input="hi", stream=True) as stream:
        events = list(stream)
    assert [e.type for e in events] == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1].response.error.code == "server_is_overloaded"


# ---- errors and faults --------------------------------------------------------------


def test_rate_limit_retry_after_seconds(client, fake_openai):
    fake_openai.fail_next(429, retry_after=3)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="m", messages=user("hi"))
    assert err.value.response.headers["retry-after"] == "3"
    assert err.value.body["code"] == "rate_limit_exceeded"
    assert client.chat.completions.create(model="m", messages=user("hi")).choices


def test_rate_limit_retry_after_http_date(client, fake_openai):
    fake_openai.fail_next(429, retry_after=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="m", input="hi")
    assert err.value.response.headers["retry-after"] == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_codex_usage_limit_body(client, fake_openai):
    fake_openai.fail_next(429, resets_in_seconds=120)
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="m", input="hi")
    body = err.value.body
    assert body["type"] == "usage_limit_reached" and body["resets_in_seconds"] == 120
    assert abs(body["resets_at"] - (time.time() + 120)) < 5


def test_valid_keys_and_401_shape(fake_openai):
    fake_openai.valid_keys = {"good"}
    with (
        openai.OpenAI(base_url=fake_openai.url("/v1"), api_key="bad-key-1234", max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as err,
    ):
        c.chat.completions.create(model="m", messages=user("hi"))
    assert err.value.body["code"] == "invalid_api_key" and "1234" in err.value.body["message"]
    assert fake_openai.last.key == "bad-key-1234"
    with openai.OpenAI(base_url=fake_openai.url("/v1"), api_key="good", max_retries=0) as c:
        assert c.chat.completions.create(model="m", messages=user("hi")).choices


def test_fail_key_rule_only_hits_that_key(fake_openai):
    fake_openai.fail_key("k-a", 401)
    a = openai.OpenAI(base_url=fake_openai.url("/v1"), api_key="k-a", max_retries=0)
    b = openai.OpenAI(base_url=fake_openai.url("/v1"), api_key="k-b", max_retries=0)
    with a, b:
        for _ in range(2):
            with pytest.raises(openai.AuthenticationError):
                a.chat.completions.create(model="m", messages=user("hi"))
            assert b.chat.completions.create(model="m", messages=user("hi")).choices
        fake_openai.clear_faults()
        assert a.chat.completions.create(model="m", messages=user("hi")).choices


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (413, openai.APIStatusError),
        (500, openai.InternalServerError),
        (502, openai.InternalServerError),
        (503, openai.InternalServerError),
        (529, openai.InternalServerError),
    ],
)
def test_status_errors(client, fake_openai, status, exc):
    fake_openai.fail_next(status)
    with pytest.raises(exc) as err:
        client.chat.completions.create(model="m", messages=user("hi"))
    assert err.value.status_code == status
    assert set(err.value.body) == {"message", "type", "param", "code"}


def test_chat_in_band_error(client, fake_openai):
    fake_openai.stream_error_next("overloaded", after=1)
    with (
        pytest.raises(openai.APIError, match="in-band"),
        client.chat.completions.create(model="m", messages=user("hi"), stream=True) as stream,
    ):
        list(stream)


def test_stream_cut_midway(client, fake_openai):
    fake_openai.cut_next(after=2)
    seen = []
    with (
        pytest.raises(openai.APIConnectionError),
        client.chat.completions.create(model="m", messages=user("hi"), stream=True) as stream,
    ):
        seen.extend(stream)
    assert len(seen) == 2


def test_slow_stream_and_delay_before_headers(client, fake_openai):
    fake_openai.stream_delay = 0.03
    start = time.monotonic()
    with client.chat.completions.create(model="m", messages=user("hi"), stream=True) as stream:
        count = len(list(stream))
    assert time.monotonic() - start >= 0.03 * (count - 1)
    fake_openai.delay_next(0.5)
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.1).chat.completions.create(model="m", messages=user("hi"))
