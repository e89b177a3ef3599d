"""A plugin executor's answer to a Responses client carries the usage details the SDKs type
as always there (``input_tokens_details.cached_tokens``,
``output_tokens_details.reasoning_tokens``), whole and streamed, whether the executor
answered in the Responses format itself or in one the host or a plugin translated: CPA's
executor adapter runs ``EnsureResponsesUsageDetails`` on every answer for an
openai-response client (internal/pluginhost/adapters_executors.go
``translateExecutorResponse`` / ``translateExecutorStreamPayload``). The cases of
responses_usage_helpers_test.go are ported through real in-process Python plugins."""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from cliproxy.formats.openai_responses import with_usage_details
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

# a Responses executor: usage per model, streamed as whole SSE events (an ``event:`` line
# before each ``data:``), a keepalive comment among them
RESPONSES = (
    HEADER
    + """
USAGE = {
    "rs-bare": {"input_tokens": 84, "output_tokens": 16, "total_tokens": 100},
    "rs-null": {"input_tokens": 84, "input_tokens_details": None, "output_tokens": 16,
                "output_tokens_details": {}, "total_tokens": 100},
    "rs-kept": {"input_tokens": 84, "input_tokens_details": {"cached_tokens": 3}, "output_tokens": 16,
                "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 100},
}
TEXT = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg"

def answer(model):
    message = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": model,
            "output": [message], "usage": USAGE[model]}

def event(data):
    return ("event: " + data["type"] + "\\ndata: " + json.dumps(data) + "\\n\\n").encode()

class Rsp(Plugin, ModelRouter, Executor):
    name = "rsp"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/rsp"
    identifier = "rsp"; input_formats = ["openai-response"]; output_formats = ["openai-response"]
    model_scope = "static"

    async def route(self, req):
        return RouteDecision.self_() if req.requested_model.startswith("rs-") else None

    async def execute(self, req):
        return ExecutorResponse(payload=json.dumps(answer(req.model)).encode())

    async def execute_stream(self, req):
        done = answer(req.model)
        start = dict(done, status="in_progress", output=[], usage=None)
        yield event({"type": "response.created", "sequence_number": 0, "response": start})
        yield b": keepalive\\n\\n"
        yield event({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1",
                     "output_index": 0, "content_index": 0, "delta": TEXT})
        yield event({"type": "response.completed", "sequence_number": 2, "response": done})

plugin = Rsp()
"""
)

# an executor answering in a format of its own, which its response translator makes a
# Responses answer of, with a usage that names no details
ACME = (
    HEADER
    + """
def completed(model):
    return {"id": "resp_2", "object": "response", "created_at": 1, "status": "completed", "model": model,
            "output": [{"id": "msg_2", "type": "message", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": "acme", "annotations": []}]}],
            "usage": {"input_tokens": 7, "output_tokens": 1, "total_tokens": 8}}

class Acme(Plugin, ModelRouter, Executor, ResponseTranslator):
    name = "acme"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/acme"
    identifier = "acme"; input_formats = ["openai-response"]; output_formats = ["acme-out"]
    model_scope = "static"

    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "acme-model" else None

    async def execute(self, req):
        return ExecutorResponse(payload=b'{"text": "acme"}')

    async def execute_stream(self, req):
        yield b'{"done": true}'

    async def translate_response(self, req):
        if req.from_format != "acme-out" or req.to_format != "openai-response":
            return None
        done = completed(req.model)
        if not req.stream:
            return json.dumps(done).encode()
        return json.dumps({"type": "response.completed", "sequence_number": 0, "response": done}).encode()

plugin = Acme()
"""
)

# an executor answering in Chat Completions (the host translates): CPA's stream of a tool
# call whose usage comes in a chunk of its own
CHAT = (
    HEADER
    + """
BASE = {"id": "chatcmpl-ba492ed2", "object": "chat.completion.chunk", "created": 1780767281, "model": "auto"}
CHUNKS = [
    {"choices": [{"delta": {"content": "", "tool_calls": [{"function": {"arguments": "", "name": "get_weather"},
      "id": "call_69755759d70640e3b7a42805", "index": 0, "type": "function"}]}, "index": 0}]},
    {"choices": [{"delta": {"content": "", "tool_calls": [{"function": {"arguments": ""}, "id": "", "index": 0,
      "type": "function"}]}, "index": 0}]},
    {"choices": [{"delta": {}, "finish_reason": "tool_calls", "index": 0}]},
    {"choices": [], "usage": {"completion_tokens": 179, "completion_tokens_details": {"reasoning_tokens": 121},
      "prompt_tokens": 331, "prompt_tokens_details": {"cached_tokens": 0}, "total_tokens": 510}},
]

class Chatty(Plugin, ModelRouter, Executor):
    name = "chatty"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/chatty"
    identifier = "chatty"; input_formats = ["openai-response"]; output_formats = ["openai"]
    model_scope = "static"

    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "qmodel_latest" else None

    async def execute(self, req):
        raise RuntimeError("streamed only")

    async def execute_stream(self, req):
        for chunk in CHUNKS:
            yield ("data: " + json.dumps(dict(BASE, **chunk)) + "\\n\\n").encode()
        yield b"data: [DONE]\\n\\n"

plugin = Chatty()
"""
)


async def _plugins(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    sources = {"rsp": RESPONSES, "acme": ACME, "chatty": CHAT}
    return await _proxy(start_proxy, fakes, tmp_path, sources, {pid: {} for pid in sources})


async def _usage(client: openai.AsyncOpenAI, model: str, stream: bool) -> Any:
    """The usage of the answer ``model`` gives (that of its ``response.completed`` event)."""
    if not stream:
        whole = await client.responses.create(model=model, input="hi")
        assert whole.output_text in ("acme", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg")
        return whole.usage
    events = [e async for e in await client.responses.create(model=model, input="hi", stream=True)]
    done = [e for e in events if e.type == "response.completed"]
    assert len(done) == 1, [e.type for e in events]
    assert done[0].response.output_text in ("acme", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg")
    return done[0].response.usage


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_client_gets_usage_details_from_plugin_executors(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    """TestEnsureResponsesUsageDetails_NonStreamJSON and _NonStreamJSONWithDataSubstring
    (``rs-bare``: the answer's text starts with ``data:``), _SSEEventDataMultiLine (its
    stream's ``event:`` lines) and _SSEData, _HandlesNullOrEmptyDetails (``rs-null``),
    _PreservesExistingDetails (``rs-kept``), _NonJSONAndDone (the keepalive comment the
    stream holds passes) on a plugin executor that answers in the Responses format; then an
    executor whose own format a plugin response translator makes a Responses answer of
    (``acme-model``). Before, each reached the client with the usage the plugin wrote: the
    openai SDK handed back ``input_tokens_details`` / ``output_tokens_details`` as None.
    CPA: TestEnsureResponsesUsageDetails_NonStreamJSONWithDataSubstring,
    TestEnsureResponsesUsageDetails_SSEData, TestEnsureResponsesUsageDetails_SSEEventDataMultiLine."""
    proxy = await _plugins(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        for model, cached, reasoning in (("rs-bare", 0, 0), ("rs-null", 0, 0), ("rs-kept", 3, 2)):
            usage = await _usage(client, model, stream)
            assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (84, 16, 100)
            assert usage.input_tokens_details is not None, model
            assert usage.output_tokens_details is not None, model
            assert usage.input_tokens_details.cached_tokens == cached
            assert usage.output_tokens_details.reasoning_tokens == reasoning
        usage = await _usage(client, "acme-model", stream)
        assert (usage.input_tokens, usage.output_tokens) == (7, 1)
        assert usage.input_tokens_details is not None and usage.input_tokens_details.cached_tokens == 0
        assert usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens == 0


async def test_a_chat_executor_stream_keeps_its_usage_for_a_responses_client(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """TestExecutorAdapterConsumesTranslatedStreamChunksWithoutOutput: a Chat Completions
    executor streams a tool call, a chunk of empty arguments, the finish and a chunk that
    holds only the usage; a Responses client gets the call and a ``response.completed``
    with that usage (331 in, 179 out of which 121 reasoning, 510 in all) and its details."""
    proxy = await _plugins(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        events = [
            e async for e in await client.responses.create(model="qmodel_latest", input="hi", stream=True)
        ]
    done = [e for e in events if e.type == "response.completed"]
    assert len(done) == 1
    response = done[0].response
    calls = [o for o in response.output if o.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"]
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (331, 179, 510)
    assert usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens == 121
    assert usage.input_tokens_details is not None and usage.input_tokens_details.cached_tokens == 0


def test_the_fill_leaves_a_compaction_and_the_framing_alone() -> None:
    """A compaction's usage stays as it came (CPA codex_executor_compact_test.go expects its
    payload byte for byte); an object keeps the space around it (a stream chunk's blank
    line: a deliberate difference, CPA's helper returns the object trimmed); a ``data:``
    line without a space is read too; SSE comments and ``[DONE]`` pass."""
    compaction = b'{"id":"resp_1","object":"response.compaction","usage":{"input_tokens":1,"output_tokens":2,"total_tokens":3}}'
    assert with_usage_details(compaction) is compaction
    bare = b'{"type":"response.completed","response":{"usage":{"input_tokens":1}}}'
    filled = with_usage_details(b"\n" + bare + b"\n\n")
    assert filled.startswith(b'\n{"type"') and filled.endswith(b"}\n\n")
    details = orjson.loads(filled)["response"]["usage"]
    assert details["input_tokens_details"] == {"cached_tokens": 0}
    line = with_usage_details(b"event: response.completed\ndata:" + bare + b"\n\n")
    assert line.startswith(b"event: response.completed\ndata: {") and line.endswith(b"}\n\n")
    assert orjson.loads(line.split(b"data: ")[1])["response"]["usage"]["output_tokens_details"] == {
        "reasoning_tokens": 0
    }
    for other in (b"data: [DONE]\n\n", b": keepalive\n\n", b'data: {"usage": null}\n\n'):
        assert with_usage_details(other) is other
