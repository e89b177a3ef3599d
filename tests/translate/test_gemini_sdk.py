"""The official google-genai SDK consumes what our encoder and response builder write."""

from __future__ import annotations

import contextlib

import orjson
from aiohttp import web
from google import genai
from google.genai import types

from cliproxy.translate import ir
from cliproxy.translate.gemini import ADAPTER

USAGE = ir.Usage(input_tokens=12, output_tokens=30, reasoning_tokens=8, cache_read_tokens=2)


def stream_events() -> list[ir.Event]:
    return [
        ir.StreamStart("resp-42", "upstream"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "Let me "),
        ir.ThinkingDelta(0, "think."),
        ir.SignatureDelta(0, "c2lnbmF0dXJl", "gemini"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Checking "),
        ir.TextDelta(1, "both."),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "call_1", "get_weather"),
        ir.ToolArgsDelta(2, '{"city": "Par'),
        ir.ToolArgsDelta(2, 'is"}'),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", "call_2", "get_time"),
        ir.ToolArgsDelta(3, '{"tz": "CET"}'),
        ir.BlockStop(3),
        ir.UsageEvent(USAGE),
        ir.StreamEnd("tool_use"),
    ]


def encoded_stream() -> bytes:
    enc = ADAPTER.stream_encoder(ir.Request(model="gemini-2.5-pro", source="gemini"), "gemini-2.5-pro")
    return b"".join(enc.encode(e) for e in stream_events()) + enc.flush()


def whole_response() -> dict:
    resp = ir.Response(
        id="resp-7",
        model="gemini-2.5-pro",
        source="openai",
        content=[
            ir.Thinking("deep", signature="ZGVlcC1zaWc=", family="gemini"),
            ir.Text("Answer."),
            ir.ToolCall("call_9", "lookup", '{"k": [1, 2]}'),
        ],
        stop_reason="tool_use",
        usage=USAGE,
    )
    return ADAPTER.build_response(resp)


@contextlib.asynccontextmanager
async def fake_gemini(stream_body: bytes, json_body: dict):
    async def stream(request: web.Request) -> web.StreamResponse:
        assert request.query.get("alt") == "sse"
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(stream_body), 17):  # small writes: the SDK must reassemble
            await resp.write(stream_body[i : i + 17])
        await resp.write_eof()
        return resp

    async def generate(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(json_body), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1beta/models/{model}:streamGenerateContent", stream)
    app.router.add_post("/v1beta/models/{model}:generateContent", generate)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def sdk_client(base_url: str):
    client = genai.Client(
        api_key="test-key", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta")
    )
    try:
        yield client.aio
    finally:
        await client.aio.aclose()
        client.close()


def collect(chunks: list[types.GenerateContentResponse]):
    text, thoughts, calls, sigs = [], [], [], []
    for ch in chunks:
        for part in ch.candidates[0].content.parts or []:
            if part.function_call:
                calls.append((part.function_call.name, part.function_call.args, part.function_call.id))
            elif part.thought:
                thoughts.append(part.text or "")
            elif part.text:
                text.append(part.text)
            if part.thought_signature:
                sigs.append(part.thought_signature)
    return "".join(text), "".join(thoughts), calls, sigs


async def test_sdk_stream():
    async with fake_gemini(encoded_stream(), whole_response()) as url, sdk_client(url) as aio:
        chunks = [
            c async for c in await aio.models.generate_content_stream(model="gemini-2.5-pro", contents="hi")
        ]
    text, thoughts, calls, sigs = collect(chunks)
    assert text == "Checking both."
    assert thoughts == "Let me think."
    assert calls == [("get_weather", {"city": "Paris"}, "call_1"), ("get_time", {"tz": "CET"}, "call_2")]
    assert sigs == [b"signature"]
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    um = last.usage_metadata
    assert (
        um.prompt_token_count,
        um.candidates_token_count,
        um.thoughts_token_count,
        um.cached_content_token_count,
        um.total_token_count,
    ) == (12, 22, 8, 2, 42)
    assert all(c.response_id == "resp-42" and c.model_version == "gemini-2.5-pro" for c in chunks)


async def test_sdk_generate_content():
    async with fake_gemini(encoded_stream(), whole_response()) as url, sdk_client(url) as aio:
        resp = await aio.models.generate_content(model="gemini-2.5-pro", contents="hi")
    text, thoughts, calls, sigs = collect([resp])
    assert (text, thoughts) == ("Answer.", "deep")
    assert calls == [("lookup", {"k": [1, 2]}, "call_9")]
    assert sigs == [b"deep-sig"]  # the SDK base64-decodes signatures
    assert resp.usage_metadata.total_token_count == 42
    assert resp.function_calls[0].args == {"k": [1, 2]}


def test_sdk_parses_array_framing_via_our_decoder():
    """The SDK only speaks alt=sse; the array framing is checked against our decoder."""
    req = ir.Request(model="gemini-2.5-pro", source="gemini", extras={"_stream_framing": "array"})
    enc = ADAPTER.stream_encoder(req)
    data = b"".join(enc.encode(e) for e in stream_events()) + enc.flush()
    chunks = [types.GenerateContentResponse.model_validate(c) for c in orjson.loads(data)]
    text, thoughts, calls, _ = collect(chunks)
    assert (text, thoughts) == ("Checking both.", "Let me think.")
    assert [c[0] for c in calls] == ["get_weather", "get_time"]
    dec = ADAPTER.stream_decoder(None)
    events = [e for i in range(len(data)) for e in dec.decode(data[i : i + 1])] + dec.flush()
    assert "".join(e.text for e in events if isinstance(e, ir.TextDelta)) == "Checking both."
    assert isinstance(events[-1], ir.StreamEnd) and events[-1].stop_reason == "tool_use"
