"""A plugin executor that speaks only formats of its own ("acme-in" / "acme-out"), served
to OpenAI and Anthropic clients through a running proxy: the plugin's request translator
brings the client's body to acme-in, its response translator brings acme-out back, whole
and streamed, with the normalizers around them in CPA's order (sdk/translator/registry.go)."""

from __future__ import annotations

import json

import openai

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.plugins.test_flow_python import HEADER, _proxy

ACME = (
    HEADER
    + """
OUT = {out!r}

def note(*parts):
    with open(OUT, "a") as f:
        f.write(json.dumps(parts) + "\\n")

def chat_chunk(delta, finish=None):
    return {{"id": "chatcmpl-acme", "object": "chat.completion.chunk", "created": 1, "model": "acme-model",
             "choices": [{{"index": 0, "delta": delta, "finish_reason": finish}}]}}

def event(kind, data):
    return "event: " + kind + "\\ndata: " + json.dumps(data) + "\\n\\n"

MESSAGE = {{"id": "msg_acme", "type": "message", "role": "assistant", "model": "acme-model", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {{"input_tokens": 3, "output_tokens": 0}}}}

class Acme(Plugin, ModelRouter, Executor, RequestTranslator, ResponseTranslator, RequestNormalizer,
           ResponseNormalizer):
    name = "acme"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/acme"
    identifier = "acme"; input_formats = ["acme-in"]; output_formats = ["acme-out"]; model_scope = "static"

    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "acme-model" else None

    async def normalize_request(self, req):  # on the client's body: it comes before translation
        body = json.loads(req.body)
        body["normalized"] = req.from_format
        return json.dumps(body).encode()

    async def translate_request(self, req):
        if req.to_format != "acme-in":
            return None
        body = json.loads(req.body)
        content = body["messages"][-1]["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        note("request", req.from_format, req.to_format, req.model, req.stream)
        return json.dumps({{"prompt": text, "from": body.get("normalized")}}).encode()

    async def execute(self, req):
        note("execute", req.source_format, req.format)
        p = json.loads(req.payload)
        return ExecutorResponse(payload=json.dumps({{"text": "ACME:" + p["prompt"] + "/" + p["from"]}}).encode())

    async def execute_stream(self, req):
        note("execute_stream", req.source_format, req.format)
        for piece in ({{"delta": "ACME"}}, {{"delta": "-STREAM"}}, {{"done": True}}):
            yield json.dumps(piece).encode()

    async def translate_response(self, req):
        if req.from_format != "acme-out":
            return None
        note("response", req.from_format, req.to_format, req.stream)
        d = json.loads(req.body)
        if req.to_format == "openai" and not req.stream:
            return json.dumps({{"id": "chatcmpl-acme", "object": "chat.completion", "created": 1, "model": "acme-model",
                               "choices": [{{"index": 0, "message": {{"role": "assistant", "content": d["text"]}},
                                            "finish_reason": "stop"}}],
                               "usage": {{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}}}).encode()
        if req.to_format == "openai":  # CPA's frame for a Chat Completions client: the bare data payload
            if "delta" in d:
                return json.dumps(chat_chunk({{"content": d["delta"]}})).encode()
            return json.dumps(chat_chunk({{}}, "stop")).encode()
        if req.to_format == "claude" and not req.stream:
            return json.dumps(dict(MESSAGE, content=[{{"type": "text", "text": d["text"]}}], stop_reason="end_turn",
                                   usage={{"input_tokens": 3, "output_tokens": 2}})).encode()
        if d.get("delta") == "ACME":  # whole events, as CPA's Claude translators write them
            return (event("message_start", {{"type": "message_start", "message": MESSAGE}})
                    + event("content_block_start", {{"type": "content_block_start", "index": 0,
                                                    "content_block": {{"type": "text", "text": ""}}}})
                    + event("content_block_delta", {{"type": "content_block_delta", "index": 0,
                                                    "delta": {{"type": "text_delta", "text": "ACME"}}}})).encode()
        if "delta" in d:  # a bare payload: the host names the event after its type
            return json.dumps({{"type": "content_block_delta", "index": 0,
                               "delta": {{"type": "text_delta", "text": d["delta"]}}}}).encode()
        return (event("content_block_stop", {{"type": "content_block_stop", "index": 0}})
                + event("message_delta", {{"type": "message_delta", "delta": {{"stop_reason": "end_turn"}},
                                          "usage": {{"output_tokens": 2}}}})
                + event("message_stop", {{"type": "message_stop"}})).encode()

    async def normalize_after(self, req):  # every client-format frame, after translation
        if b"ACME" in req.body:
            return req.body.replace(b"ACME", b"Acme")
        return None

plugin = Acme()
"""
)


async def _acme(start_proxy, fakes, tmp_path):
    out = tmp_path / "acme.jsonl"
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": ACME.format(out=str(out))}, {"acme": {}})
    return proxy, out


def _notes(out) -> list[list]:
    return [json.loads(line) for line in out.read_text().splitlines()]


async def test_an_openai_client_reaches_a_custom_format_executor(start_proxy, fakes, tmp_path):
    """TestExecutorAdapterSelectsCustomOutputWithHostResponseTranslator end to end, and
    registry_test.go TestTranslateRequest_PluginTranslatorOnlyWhenNativeMissing /
    TestTranslateNonStream_PluginTranslatorOnlyWhenNativeMissing /
    TestTranslateStream_PluginTranslatorUsedWhenNativeStreamMissing: the request normalizer
    runs on the client's body, the translator makes acme-in of it, the executor answers in
    acme-out, the response translator makes Chat Completions of it (each stream chunk on
    its own), the after normalizer runs on every frame. Before, such an executor was
    refused and the model was unknown."""
    proxy, out = await _acme(start_proxy, fakes, tmp_path)
    answer = await ask(Format.OPENAI, proxy.url, "acme-model", "hi", stream=False)
    assert answer.text == "Acme:hi/openai" and answer.input_tokens == 3
    notes = _notes(out)
    assert notes == [
        ["request", "openai", "acme-in", "acme-model", False],
        ["execute", "acme-in", "acme-out"],
        ["response", "acme-out", "openai", False],
    ]
    out.write_text("")
    answer = await ask(Format.OPENAI, proxy.url, "acme-model", "hi", stream=True)
    assert answer.text == "Acme-STREAM"
    notes = _notes(out)
    assert notes[:2] == [
        ["request", "openai", "acme-in", "acme-model", True],
        ["execute_stream", "acme-in", "acme-out"],
    ]
    assert notes[2:] == [["response", "acme-out", "openai", True]] * 3  # one call per executor chunk
    for fake in (fakes.openai, fakes.claude, fakes.gemini, fakes.responses):
        assert not fake.requests


async def test_an_anthropic_client_reaches_a_custom_format_executor(start_proxy, fakes, tmp_path):
    """The same executor for Claude Messages, whole and streamed: a stream frame the
    translator gives as whole events goes out as it is, a bare JSON frame is sent as the
    event its ``type`` names (what an Anthropic client needs)."""
    proxy, out = await _acme(start_proxy, fakes, tmp_path)
    answer = await ask(Format.CLAUDE, proxy.url, "acme-model", "hello", stream=False)
    assert answer.text == "Acme:hello/claude"
    answer = await ask(Format.CLAUDE, proxy.url, "acme-model", "hello", stream=True)
    assert answer.text == "Acme-STREAM" and answer.output_tokens == 2
    assert ["response", "acme-out", "claude", True] in _notes(out)


async def test_without_translators_a_custom_executor_is_not_a_route(start_proxy, fakes, tmp_path):
    """executorPluginReady: with no request or response translator active, an executor
    that speaks only its own formats cannot serve the request, so its router's ``self``
    decision is passed over and the client gets the usual unknown-model answer (400), not
    a 502 from a call that could never work."""
    src = ACME.format(out=str(tmp_path / "unused.jsonl"))
    src = src.replace(" RequestTranslator, ResponseTranslator,", "")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": src}, {"acme": {}})
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            await client.chat.completions.create(
                model="acme-model", messages=[{"role": "user", "content": "hi"}]
            )
            raise AssertionError("a custom-format executor without translators must not answer")
        except openai.BadRequestError as exc:
            assert "acme-model" in str(exc)
