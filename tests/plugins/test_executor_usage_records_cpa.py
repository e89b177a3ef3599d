"""CPA's usage records for plugin executors (sdk/api/handlers/
handlers_plugin_executor_usage_test.go) through a running proxy: a router plugin sends
models to its own executor, which answers in the client's format with a known usage; a
usage plugin collects the records. A record names the executor's plugin as provider and
the usage the answer carried, marks failures, and none is written twice for a plugin that
calls the host back."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.plugins.test_flow_python import HEADER, USAGE, _proxy

EXECUTOR = (
    HEADER
    + """
import asyncio
CHAT = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}}
CLAUDE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
          "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
          "usage": {"input_tokens": 50, "output_tokens": 30}}
GEMINI = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 60, "totalTokenCount": 100}}

def sse(obj, event=None):
    head = ("event: " + event + "\\n") if event else ""
    return (head + "data: " + json.dumps(obj) + "\\n\\n").encode()

def chunk(delta, finish=None, usage=None):
    c = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else []}
    if usage is not None:
        c["usage"] = usage
    return sse(c)

def claude_stream():
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": [],
           "usage": {"input_tokens": 100, "cache_read_input_tokens": 50, "cache_creation_input_tokens": 20,
                     "output_tokens": 1}}
    yield sse({"type": "message_start", "message": msg}, "message_start")
    yield sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              "content_block_start")
    yield sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
              "content_block_delta")
    yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield sse({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 25}},
              "message_delta")
    yield sse({"type": "message_stop"}, "message_stop")

class Metered(Plugin, ModelRouter, Executor):
    name = "metered"; version = "1"; author = "t"; github_repository = "https://example.com/m"
    identifier = "metered"; input_formats = ["openai", "openai-response", "claude", "gemini"]
    output_formats = ["openai", "openai-response", "claude", "gemini"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model.startswith("meter") else None
    async def execute(self, req):
        if req.model == "meter-fail":
            raise PluginError("upstream plugin failure", http_status=502)
        if req.model.startswith("meter-wrap"):  # answers with what the host gives for another model
            target = "inner-model" if req.model == "meter-wrap-inner" else "compat-model"
            inner = await self.host.model.execute("openai", "openai", target, json.loads(req.payload))
            if inner.status_code >= 400:
                raise PluginError("inner call failed", http_status=inner.status_code)
            return ExecutorResponse(payload=inner.body)
        body = {"claude": CLAUDE, "gemini": GEMINI}.get(req.format, CHAT)
        return ExecutorResponse(payload=json.dumps(body).encode())
    async def execute_stream(self, req):
        if req.format == "openai-response":
            done = {"id": "resp_1", "object": "response", "status": "completed", "output": [],
                    "usage": {"input_tokens": 18, "output_tokens": 22, "total_tokens": 40}}
            yield sse({"type": "response.completed", "response": done}, "response.completed")
            return
        if req.format == "claude":
            for frame in claude_stream():
                yield frame
            return
        yield chunk({"role": "assistant", "content": "Hi"})
        if req.model == "meter-break":
            raise PluginError("upstream stream broke", http_status=502)
        if req.model == "meter-slow":  # a slow stream: a word every 0.1 s for 10 s
            for _ in range(100):
                await asyncio.sleep(0.1)
                yield chunk({"content": " word"})
        yield chunk({}, "stop")
        yield chunk({}, usage={"prompt_tokens": 15, "completion_tokens": 25, "total_tokens": 40})
        yield b"data: [DONE]\\n\\n"
plugin = Metered()
"""
)

INNER = (
    HEADER
    + """
class Inner(Plugin, ModelRouter, Executor):
    name = "inner"; version = "1"; author = "t"; github_repository = "https://example.com/i"
    identifier = "inner"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "inner-model" else None
    async def execute(self, req):
        return ExecutorResponse(payload=json.dumps({
            "id": "c2", "object": "chat.completion", "created": 1, "model": "inner-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "inner"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}).encode())
plugin = Inner()
"""
)


def _records() -> list[Any]:
    mod = next(m for n, m in sys.modules.items() if n.endswith("meter") and hasattr(m, "Meter"))
    return mod.Meter.records  # type: ignore[no-any-return]


async def _settled(n: int) -> list[Any]:
    for _ in range(100):
        if len(_records()) >= n:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)  # and nothing more
    return list(_records())


@pytest.fixture
async def proxy(start_proxy, fakes, tmp_path):
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"metered": EXECUTOR, "inner": INNER, "meter": USAGE},
        {"metered": {}, "inner": {}, "meter": {}},
    )
    _records().clear()
    return proxy


def _tokens(rec: Any) -> tuple[int, int, int]:
    return rec.detail.input_tokens, rec.detail.output_tokens, rec.detail.total_tokens


@pytest.mark.parametrize(
    ("fmt", "stream", "want"),
    [
        (Format.OPENAI, False, (12, 34, 46)),
        (Format.OPENAI, True, (15, 25, 40)),
        (Format.CLAUDE, False, (50, 30, 80)),
        (Format.GEMINI, False, (40, 60, 100)),
    ],
    ids=["openai", "openai-stream", "claude", "gemini"],
)
async def test_a_plugin_executor_answer_is_recorded_with_its_usage(proxy, fmt, stream, want) -> None:
    """CPA: TestHandlerPluginExecutorPublishesUsageNonStreamOpenAI,
    TestHandlerPluginExecutorPublishesUsageStreamOpenAI,
    TestHandlerPluginExecutorPublishesUsageNonStreamClaude, TestHandlerPluginExecutorPublishesUsageGemini:
    one record, the plugin as provider, the tokens of the answer."""
    await ask(fmt, proxy.url, "meter-model", "hi", stream=stream)
    (rec,) = await _settled(1)
    assert rec.provider == "metered" and not rec.failed
    assert _tokens(rec) == want


async def test_a_claude_stream_records_its_split_usage(proxy) -> None:
    """CPA: TestHandlerPluginExecutorPublishesUsageStreamClaude: the input and cache counts
    of ``message_start`` and the output of ``message_delta`` make one record. Deliberate
    difference: ``input_tokens`` is all input (100 uncached + 50 read + 20 written from the
    cache = 170), the cache counts inside it, for every provider alike (the usage queue's
    rule too); CPA's record keeps Claude's own uncached 100 there."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="meter-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as s:
            await s.get_final_message()
    (rec,) = await _settled(1)
    assert rec.provider == "metered"
    assert (rec.detail.input_tokens, rec.detail.output_tokens, rec.detail.total_tokens) == (170, 25, 195)
    assert (rec.detail.cache_read_tokens, rec.detail.cache_creation_tokens) == (50, 20)


async def test_failures_are_recorded_as_failed(proxy) -> None:
    """CPA: TestHandlerPluginExecutorPublishesFailure, TestHandlerPluginExecutorPublishesStreamFailure:
    an executor that fails, before or during its stream, leaves one failed record; the
    whole answer's record carries the executor's message."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(
                model="meter-fail", messages=[{"role": "user", "content": "x"}]
            )
        stream = await client.chat.completions.create(
            model="meter-break", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
    whole, streamed = await _settled(2)
    assert whole.failed and "upstream plugin failure" in whole.failure.body
    assert streamed.failed and streamed.provider == "metered"


async def test_a_client_that_leaves_a_plugin_stream_is_recorded_as_failed(proxy) -> None:
    """CPA: TestHandlerPluginExecutorPublishesStreamCancellation: the client reads the first
    chunk of a slow stream and leaves; the stream's record says failed."""
    body = {"model": "meter-slow", "messages": [{"role": "user", "content": "x"}], "stream": True}
    async with aiohttp.ClientSession() as s:
        async with s.post(
            proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r:
            await r.content.readuntil(b"\n\n")
    (rec,) = await _settled(1)
    assert rec.provider == "metered" and rec.failed


async def test_a_plugin_that_calls_the_host_is_not_recorded_twice(proxy, fakes) -> None:
    """CPA: TestHandlerPluginExecutorSkipsOuterUsageWhenPluginCallsHostModelExecute,
    TestHandlerPluginExecutorSkipsOuterFailureWhenPluginCallsHostModelExecute: the plugin's
    nested call is recorded (the upstream it reached); the plugin's own answer, which only
    wraps it, is not recorded again, whether it succeeds or fails."""
    await ask(Format.OPENAI, proxy.url, "meter-wrap", "hi", stream=False)
    recs = await _settled(1)
    assert [r.provider for r in recs] == ["openai-compatible-fakeopenai"]
    _records().clear()
    fakes.openai.fail_next(400, message="inner failure")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(
                model="meter-wrap", messages=[{"role": "user", "content": "x"}]
            )
    recs = await _settled(1)  # named after the credential that failed, as CPA's executor names its auth
    assert [(r.provider, r.failed) for r in recs] == [("openai-compatible-fakeopenai", True)]


async def test_a_responses_stream_of_a_plugin_executor_records_its_usage(proxy) -> None:
    """CPA: TestHandlerPluginExecutorPublishesUsageStreamCodex: the usage of the executor's
    ``response.completed`` event, for a Responses client."""
    body = {"model": "meter-model", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        assert r.status == 200 and b"response.completed" in await r.read()
    (rec,) = await _settled(1)
    assert rec.provider == "metered" and _tokens(rec) == (18, 22, 40)


async def test_a_plugin_executor_reached_by_a_nested_call_is_not_recorded(proxy) -> None:
    """CPA: TestHandlerPluginExecutorSkipsUsageForNestedExecution: a plugin's
    ``host.model.execute`` reaches another plugin's executor; neither that nested answer
    nor the outer one that wraps it is recorded."""
    answer = await ask(Format.OPENAI, proxy.url, "meter-wrap-inner", "hi", stream=False)
    assert answer.text == "inner"
    await asyncio.sleep(0.3)  # (a record goes out as the answer does)
    assert _records() == []


async def test_an_interactions_client_of_a_plugin_executor_records_its_usage(proxy) -> None:
    """CPA: TestHandlerPluginExecutorPublishesUsageStreamInteractions, on cliproxy's terms:
    an executor cannot declare the Interactions format, so an Interactions client's stream
    reaches it translated (here as Chat); the record has the usage the executor's stream
    carried (15 in, 25 out, 40 in all)."""
    body = {"model": "meter-model", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1beta/interactions", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as r,
    ):
        assert r.status == 200 and b"interaction.completed" in await r.read()
    (rec,) = await _settled(1)
    assert rec.provider == "metered" and _tokens(rec) == (15, 25, 40)


async def test_a_failed_request_is_recorded_under_the_credential_that_failed(proxy, fakes) -> None:
    """CPA's executors report their own auth's failure (``NewUsageReporter`` with the auth,
    ``TrackFailure``): the record of a request its only credential failed names that
    credential's provider and id (before, a failed request's record named none)."""
    fakes.openai.fail_next(401, message="bad key")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "x"}]
            )
    (rec,) = await _settled(1)
    assert (rec.provider, rec.failed, rec.failure.status_code) == ("openai-compatible-fakeopenai", True, 401)
    assert rec.auth_id and rec.auth_index
