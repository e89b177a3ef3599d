"""A Responses client always finds ``input_tokens_details.cached_tokens`` and
``output_tokens_details.reasoning_tokens`` in its usage, as CPA's
``EnsureResponsesUsageDetails`` fills them in (``responses_usage_helpers_test.go``).

A translated answer gets them from the Responses encoder; a Codex (or xAI) stream passed
through gets them on its ``response.completed`` (``providers.codex_stream``), where an
upstream that left them out used to reach the client without them: the openai SDK then
hands back ``usage.input_tokens_details`` as ``None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web

from cliproxy.providers.codex_stream import CompletedOutput
from tests.fakes.local import LocalServer

KEY = "sk-details-client"
BARE = {"input_tokens": 84, "output_tokens": 16, "total_tokens": 100}
MESSAGE = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "data:image/png;base64,iVBORw0KGgo", "annotations": []}],
}


def _response(usage: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-5.4",
        "output": [MESSAGE],
        "usage": usage,
    }


class BareUsageCodex(LocalServer):
    """A Codex backend whose usage names no details (the SSE stream CPA's test feeds)."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/backend-api/codex/responses", self._responses)
        router.add_post("/v1/chat/completions", self._chat)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        events = [
            {
                "type": "response.created",
                "response": {**_response(None), "status": "in_progress", "output": []},
            },
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": "hi",
            },
            {"type": "response.completed", "response": _response(BARE)},
        ]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events:
            await resp.write(
                b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
            )
        await resp.write_eof()
        return resp

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        usage = {"prompt_tokens": 84, "completion_tokens": 16, "total_tokens": 100}
        base = {"id": "chatcmpl-1", "created": 1, "model": "deepseek-v4-flash"}
        if not body.get("stream"):
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": "hello"},
                "finish_reason": "stop",
            }
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        chunk = {**base, "object": "chat.completion.chunk"}
        first = {"index": 0, "delta": {"role": "assistant", "content": "hello"}, "finish_reason": None}
        frames = [
            {**chunk, "choices": [first]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for frame in frames:
            await resp.write(b"data: " + orjson.dumps(frame) + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


@pytest.fixture
async def proxy(start_proxy: Any) -> AsyncIterator[Any]:
    async with BareUsageCodex() as up:
        base = f"http://127.0.0.1:{up.port}"
        yield await start_proxy(
            f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex"
    base-url: "{base}/backend-api/codex"
    models: [{{name: gpt-5.4, alias: cx}}]
openai-compatibility:
  - name: compat
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: sk-compat}}]
    models: [{{name: deepseek-v4-flash, alias: ds}}]
"""
        )


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["cx", "ds"])
async def test_a_responses_client_gets_usage_details(proxy: Any, model: str, stream: bool) -> None:
    """TestEnsureResponsesUsageDetails_NonStreamJSON, _NonStreamJSONWithDataSubstring (the
    answer's text starts with ``data:``), _SSEEventDataMultiLine (an ``event:`` line
    before the ``data:`` one) and
    TestTranslateStreamWithClaudeInputTokens_OpenAICompatTranslation_PatchesResponsesUsage
    (``ds``: a Chat upstream translated for a Responses client)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            events = await client.responses.create(model=model, input="hi", stream=True)
            done = [e async for e in events if e.type == "response.completed"]
            usage = done[0].response.usage
        else:
            usage = (await client.responses.create(model=model, input="hi")).usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        84,
        16,
        100,
    )
    assert usage.input_tokens_details is not None and usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens == 0


def _completed(usage: Any) -> bytes:
    event = {"type": "response.completed", "response": {"id": "resp_1", "output": [MESSAGE], "usage": usage}}
    return b"event: response.completed\ndata: " + orjson.dumps(event)


def _usage_of(lines: bytes) -> Any:
    data = next(line for line in lines.split(b"\n") if line.startswith(b"data:"))
    return orjson.loads(data[5:])["response"]["usage"]


def test_existing_details_are_kept() -> None:
    """TestEnsureResponsesUsageDetails_PreservesExistingDetails."""
    usage = {
        **BARE,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens_details": {"reasoning_tokens": 2},
    }
    lines = _completed(usage)
    assert CompletedOutput()(lines) == lines


def test_null_or_empty_details_get_zeros() -> None:
    """TestEnsureResponsesUsageDetails_HandlesNullOrEmptyDetails and _SSEData."""
    usage = {**BARE, "input_tokens_details": None, "output_tokens_details": {}}
    got = _usage_of(CompletedOutput()(_completed(usage)))
    assert got["input_tokens_details"] == {"cached_tokens": 0}
    assert got["output_tokens_details"] == {"reasoning_tokens": 0}
    got = _usage_of(CompletedOutput()(_completed(BARE)))
    assert got["input_tokens_details"] == {"cached_tokens": 0}
    assert got["output_tokens_details"] == {"reasoning_tokens": 0}


@pytest.mark.parametrize(
    "lines",
    [b"data: [DONE]", b"[DONE]", b": keepalive", b"", b'data: {"type":"response.output_item.added"}'],
)
def test_other_lines_pass_unchanged(lines: bytes) -> None:
    """TestEnsureResponsesUsageDetails_NonJSONAndDone."""
    assert CompletedOutput()(lines) == lines
