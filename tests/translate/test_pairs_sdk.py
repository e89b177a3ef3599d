"""The official SDKs accept what every pair writes: an upstream stream in format U,
translated for a client of format C, is consumed by C's SDK and accumulates to the
expected message (text, both tool calls with their arguments, usage)."""

from __future__ import annotations

import pytest

from cliproxy.formats import Format, family_of
from cliproxy.translate.registry import default_registry
from tests.translate.pairs_common import CLIENT_FORMATS, request_with_tools, rich_events, serve_sse

REG = default_registry()
CALLS = [("run_shell", {"command": "echo A"}), ("run_shell", {"command": "echo B"})]


def _client_request(client: Format):
    """The client's request as the pipeline would hold it: parsed from its own body."""
    body = REG.adapter(client).build_request(request_with_tools())
    if client is Format.OPENAI:
        body["stream_options"] = {"include_usage": True}
    if client is Format.GEMINI:
        body.pop("model", None)
    req = REG.adapter(client).parse_request(body)
    req.model = req.model or "model-x"
    return req


def _translated(upstream: Format, client: Format) -> bytes:
    enc = REG.adapter(upstream).stream_encoder(request_with_tools(), "model-x")
    raw = b"".join(enc.encode(e) for e in rich_events(family_of(upstream))) + enc.flush()
    tr = REG.stream_translator(upstream, client, _client_request(client), model="alias-x")
    out = bytearray()
    for i in range(0, len(raw), 23):
        out += tr.feed(raw[i : i + 23])
    out += tr.finish()
    return bytes(out)


async def _consume_openai(url: str) -> None:
    import openai

    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
        async with client.chat.completions.stream(
            model="alias-x",
            messages=[{"role": "user", "content": "hi"}],
            stream_options={"include_usage": True},
        ) as stream:
            final = await stream.get_final_completion()
    msg = final.choices[0].message
    assert msg.content == "Hello STREAM-MARKER"
    import json

    assert [(c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls] == CALLS
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage.prompt_tokens == 50 and final.usage.completion_tokens == 20
    assert final.model == "alias-x"


async def _consume_responses(url: str) -> None:
    import json

    import openai

    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
        async with client.responses.stream(model="alias-x", input="hi") as stream:
            final = await stream.get_final_response()
    assert final.output_text == "Hello STREAM-MARKER"
    calls = [(o.name, json.loads(o.arguments)) for o in final.output if o.type == "function_call"]
    assert calls == CALLS
    assert final.usage.input_tokens == 50 and final.usage.output_tokens == 20


async def _consume_claude(url: str) -> None:
    import anthropic

    async with anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as client:
        async with client.messages.stream(
            model="alias-x", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            final = await stream.get_final_message()
    text = "".join(b.text for b in final.content if b.type == "text")
    assert text == "Hello STREAM-MARKER"
    assert [(b.name, b.input) for b in final.content if b.type == "tool_use"] == CALLS
    assert final.stop_reason == "tool_use"
    u = final.usage
    assert u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0) == 50
    assert u.output_tokens == 20


async def _consume_gemini(url: str) -> None:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=url, api_version="v1beta"))
    try:
        text, calls, usage = "", [], None
        async for chunk in await client.aio.models.generate_content_stream(model="alias-x", contents="hi"):
            for part in chunk.candidates[0].content.parts or []:
                if part.text and not part.thought:
                    text += part.text
                if part.function_call:
                    calls.append((part.function_call.name, dict(part.function_call.args)))
            usage = chunk.usage_metadata or usage
    finally:
        await client.aio.aclose()
    assert text == "Hello STREAM-MARKER"
    assert calls == CALLS
    assert usage.prompt_token_count == 50
    assert usage.candidates_token_count + (usage.thoughts_token_count or 0) == 20


CONSUMERS = {
    Format.OPENAI: _consume_openai,
    Format.RESPONSES: _consume_responses,
    Format.CLAUDE: _consume_claude,
    Format.GEMINI: _consume_gemini,
}


@pytest.mark.parametrize("upstream", CLIENT_FORMATS, ids=[u.value for u in CLIENT_FORMATS])
@pytest.mark.parametrize("client", CLIENT_FORMATS, ids=[c.value for c in CLIENT_FORMATS])
async def test_sdk_consumes_translated_stream(upstream, client):
    server = await serve_sse(_translated(upstream, client))
    try:
        await CONSUMERS[client](str(server.make_url("")).rstrip("/"))
    finally:
        await server.close()
