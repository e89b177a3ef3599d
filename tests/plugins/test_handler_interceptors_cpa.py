"""CPA's handler-level interceptor and lifecycle tests (sdk/api/handlers/
handlers_interceptors_test.go), through a running proxy: one recording plugin whose
behaviour the client's prompt selects, the fake OpenAI-compatible upstream behind it, and
the official SDKs as clients."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior
from tests.plugins.plugin_dir import LOG_TO_FILE, log_entries, with_log
from tests.plugins.test_flow_python import HEADER, _proxy

# Every hook appends what it saw to LOG; the prompt picks what it does.
RECORDER = (
    HEADER
    + LOG_TO_FILE
    + """
class Rec(Plugin, RequestInterceptor, ResponseInterceptor, StreamChunkInterceptor, RequestLifecycle):
    name = "rec"; version = "1"; author = "t"; github_repository = "https://example.com/rec"
    async def intercept_before(self, req):
        log(hook="before", id=req.request_id, model=req.model, requested=req.requested_model,
            source=req.source_format, headers=req.headers)
        if b"BLOCK-BEFORE" in req.body:
            return InterceptResult.terminate_with(403, b'{"error":"blocked"}',
                                                  {"Content-Type": ["application/problem+json"], "X-Policy": ["blocked"],
                                                   "X-Cpa-Trace-Id": ["plugin-trace"],
                                                   "Access-Control-Allow-Origin": ["https://untrusted.example"]})
        if b"REWRITE" in req.body:
            body = json.loads(req.body)
            body["messages"][0]["content"] = "before"
            return InterceptResult(body=json.dumps(body).encode(),
                                   headers={"X-Stage": ["before"], "X-Original": ["plugin"]},
                                   clear_headers=["X-Remove"])
        if b"EMPTY-BODY" in req.body:
            return InterceptResult(body=b"", headers={"X-Plugin": ["empty-body"]})
        return None
    async def intercept_after(self, req):
        log(hook="after", id=req.request_id, to=req.to_format, body=req.body, headers=req.headers)
        if b"BLOCK-AFTER" in req.body:
            return InterceptResult.terminate_with(429, b'{"error":"busy"}', {"Retry-After": ["3"]})
        if b'"before"' in req.body:
            body = json.loads(req.body)
            body["messages"][0]["content"] = "after"
            return InterceptResult(body=json.dumps(body).encode(), headers={"X-Stage": ["after"]})
        return None
    async def intercept_response(self, req):
        log(hook="response", id=req.request_id, status=req.status_code, stream=req.stream,
            headers=req.response_headers, request_headers=req.request_headers, body=req.body)
        return ResponseInterceptResult(body=req.body.replace(b"Hello", b"Howdy"),
                                       headers={"X-Upstream": ["2"], "X-Plugin": ["response"]},
                                       clear_headers=["X-Clear"])
    async def intercept_chunk(self, req):
        log(hook="chunk", index=req.chunk_index, body=req.body, history=req.history_chunks,
            headers=req.response_headers, request_headers=req.request_headers)
        if req.chunk_index == -1:
            return ChunkInterceptResult(headers={"X-Init": ["plugin"]})
        if req.chunk_index == 0:  # the head has gone out: this header edit cannot reach the client
            return ChunkInterceptResult(headers={"X-Late": ["chunk"]}, body=req.body.replace(b"fake", b"PLUGIN"))
        if b'"content":"(model' in req.body:
            return ChunkInterceptResult.drop()
        return ChunkInterceptResult(body=req.body.replace(b"fake", b"PLUGIN"))
    async def complete(self, done):
        log(hook="complete", id=done.request_id, trace=done.trace_id, outcome=done.outcome,
            status=done.status_code, error=done.error, stream=done.stream,
            started=done.started_at, completed=done.completed_at)
plugin = Rec()
"""
)


async def _recording_proxy(start_proxy, fakes, tmp_path, extra: str = ""):
    log = tmp_path / "seen.jsonl"
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"rec": with_log(RECORDER, log)}, {"rec": {}}, extra=extra
    )
    return proxy, log


async def _seen(log: Path, hook: str, count: int = 1) -> list[dict[str, Any]]:
    """The entries of ``hook`` once there are ``count`` of them (completion is fired and
    forgotten, so it may land just after the answer)."""
    for _ in range(100):
        entries = log_entries(log) if log.exists() else []
        found = [e for e in entries if e["hook"] == hook]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{hook}: {count} entries expected in {log.read_text() if log.exists() else ''}")


def _h(headers: dict[str, list[str]], name: str) -> list[str] | None:
    """A header's values, whatever case the client or plugin spelt it in."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _hooks(log: Path) -> list[str]:
    return [entry["hook"] for entry in log_entries(log)]


async def _post(url: str, body: dict[str, Any], path: str = "/v1/chat/completions", **headers: str):
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + path, json=body, headers={"Authorization": f"Bearer {KEY}", **headers}) as r,
    ):
        return r.status, dict(r.headers), await r.read()


def _chat(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "compat-model", "messages": [{"role": "user", "content": prompt}], **extra}


async def test_before_auth_termination_answers_and_completes_as_rejected(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerRequestInterceptorTerminatesBeforeAuth and
    TestWriteErrorResponseDirectResponse. The plugin's status, body and headers (its
    Content-Type too) reach the client, but not the proxy's own ones it tries to set (trace
    id, CORS origin); the upstream is never asked; the lifecycle completion carries the
    request id the interceptor saw and the outcome ``rejected`` with the status."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    status, headers, body = await _post(proxy.url, _chat("BLOCK-BEFORE"), Origin="https://trusted.example")
    assert (status, body, headers.get("X-Policy")) == (403, b'{"error":"blocked"}', "blocked")
    assert headers.get("Content-Type", "").startswith("application/problem+json")
    assert headers.get("X-Cpa-Trace-Id") != "plugin-trace"
    assert headers.get("Access-Control-Allow-Origin") != "https://untrusted.example"
    assert fakes.openai.requests == []
    (before,) = await _seen(log, "before")
    (done,) = await _seen(log, "complete")
    assert before["id"] and done["id"] == before["id"]
    assert (done["outcome"], done["status"]) == ("rejected", 403)
    assert "after" not in _hooks(log) and "response" not in _hooks(log)


async def test_after_auth_termination_in_whole_stream_and_count(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerRequestInterceptorTerminatesAfterAuth and
    TestHandlerAfterAuthTerminationSkipsCountAndStreamExecutors. The after-auth chain runs
    once per request with the before-auth request id, its answer (429 with Retry-After, or
    403) reaches the client of a whole answer, a stream and a token count, and no upstream
    is asked. CPA: TestResponsesHandlerPreservesDirectResponseBeforeFirstFrame (a Responses
    stream gets the plugin's status, Retry-After and body as they are)."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    status, headers, body = await _post(proxy.url, _chat("BLOCK-AFTER"))
    assert (status, body, headers.get("Retry-After")) == (429, b'{"error":"busy"}', "3")
    (before,) = await _seen(log, "before")
    (after,) = await _seen(log, "after")
    (done,) = await _seen(log, "complete")
    assert before["id"] and after["id"] == before["id"] == done["id"]
    assert done["outcome"] == "rejected"

    status, _, body = await _post(proxy.url, _chat("BLOCK-AFTER", stream=True))
    assert (status, body) == (429, b'{"error":"busy"}')
    assert len(await _seen(log, "after", 2)) == 2

    count = {"model": "claude-model", "messages": [{"role": "user", "content": "BLOCK-AFTER"}]}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        try:
            await client.messages.count_tokens(**count)
            raise AssertionError("the after-auth interceptor terminates the count")
        except anthropic.APIStatusError as exc:
            assert exc.status_code == 429
    assert len(await _seen(log, "after", 3)) == 3
    responses = {"model": "compat-model", "input": "BLOCK-AFTER", "stream": True}
    status, headers, body = await _post(proxy.url, responses, "/v1/responses")
    assert (status, body, headers.get("Retry-After")) == (429, b'{"error":"busy"}', "3")
    assert fakes.openai.requests == [] and fakes.claude.requests == []


async def test_lifecycle_completes_once_per_whole_answer_failure_and_stream(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerLifecycleCompletesSuccessfulRequestOnce,
    TestHandlerLifecycleCompletesFailedRequest, TestHandlerLifecycleCompletesSuccessfulStreamOnce
    and TestRequestLifecycleTrackerUsesUniqueExecutionIDs. One completion per request with
    the request id the interceptors saw and ordered timestamps; a failed upstream completes
    as ``failed`` with an error; each request gets its own id. (CPA's TraceID is the log
    request id of the HTTP request; cliproxy gives a request's completion its own id as
    TraceID, since it has no separate trace id.)"""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(**_chat("hi"))
        (first,) = await _seen(log, "complete")
        before = (await _seen(log, "before"))[0]
        assert (first["outcome"], first["status"], first["id"]) == ("succeeded", 200, before["id"])
        assert first["started"] <= first["completed"]

        stream = await client.chat.completions.create(**_chat("hi"), stream=True)
        async for _ in stream:
            pass
        second = (await _seen(log, "complete", 2))[1]
        assert (second["outcome"], second["stream"]) == ("succeeded", True)

        fakes.openai.script(Behavior(status=500, message="upstream failed", times=None))
        try:
            await client.chat.completions.create(**_chat("hi"))
            raise AssertionError("the upstream fails")
        except openai.APIStatusError:
            pass
        failed = (await _seen(log, "complete", 3))[2]
        assert failed["outcome"] == "failed" and failed["error"]
    await asyncio.sleep(0.05)
    completions = await _seen(log, "complete", 3)
    assert len(completions) == 3
    assert len({c["id"] for c in completions}) == 3


async def test_lifecycle_completes_a_stream_the_client_left_as_canceled(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerLifecycleCompletesCanceledStream: outcome ``canceled``, status 0."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    fakes.openai.script(Behavior(stream_delay=0.05, text="word " * 200))  # 40 frames or so
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            json=_chat("hi", stream=True),
            headers={"Authorization": f"Bearer {KEY}"},
        ) as r,
    ):
        assert r.status == 200
        await r.content.readany()
        r.close()  # the client leaves mid-stream
    (done,) = await _seen(log, "complete")
    assert (done["outcome"], done["status"]) == ("canceled", 0)


PASSTHROUGH = "passthrough-headers: true\n"


async def test_interceptors_rewrite_the_upstream_request_and_the_answer(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerRequestInterceptorRewritesExecutorRequest,
    TestHandlerRequestInterceptorAfterAuthRewritesExecutorRequest and
    TestHandlerResponseInterceptorRewritesSuccessfulNonStreamResponse. Before-auth sees the
    client's headers and the requested model; after-auth sees the before-auth body and
    headers (a cleared header gone) and the upstream gets the after-auth body; the response
    interceptor runs once, sees the upstream's headers, the after-auth request headers and
    the answer, and its body and header edits (set, clear) reach the client."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path, extra=PASSTHROUGH)
    fakes.openai.answer_headers[None] = {"X-Upstream": "1", "X-Clear": "yes"}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            **_chat("REWRITE"), extra_headers={"X-Original": "client", "X-Remove": "yes"}
        )
    (before,) = await _seen(log, "before")
    assert (before["source"], before["model"], before["requested"]) == (
        "openai",
        "compat-model",
        "compat-model",
    )
    assert _h(before["headers"], "X-Original") == ["client"] and _h(before["headers"], "X-Remove") == ["yes"]
    (after,) = await _seen(log, "after")
    assert _h(after["headers"], "X-Stage") == ["before"] and _h(after["headers"], "X-Original") == ["plugin"]
    assert (
        _h(after["headers"], "X-Remove") is None
        and json.loads(after["body"])["messages"][0]["content"] == "before"
    )
    assert fakes.openai.last.json["messages"][0]["content"] == "after"
    (response,) = await _seen(log, "response")
    assert (response["status"], response["stream"]) == (200, False)
    assert _h(response["headers"], "X-Upstream") == ["1"] and "Hello" in response["body"]
    assert _h(response["request_headers"], "X-Stage") == ["after"]
    assert raw.parse().choices[0].message.content.startswith("Howdy")
    assert raw.headers.get("X-Upstream") == "2" and raw.headers.get("X-Plugin") == "response"
    assert raw.headers.get("X-Clear") is None


async def test_an_empty_interceptor_body_keeps_the_request(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerRequestInterceptorEmptyBodyKeepsOriginalPayload: the header edit
    applies, the body stays the client's."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    await _post(proxy.url, _chat("EMPTY-BODY"))
    assert fakes.openai.last.json["messages"][0]["content"] == "EMPTY-BODY"
    (after,) = await _seen(log, "after")
    assert _h(after["headers"], "X-Plugin") == ["empty-body"]


async def test_response_interceptor_sees_raw_headers_without_passthrough(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerResponseInterceptorSeesRawHeadersWhenPassthroughDisabled: the plugin
    sees the upstream's headers; the client gets the plugin's additions but, with
    ``passthrough-headers`` off, none of the upstream's own."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    fakes.openai.answer_headers[None] = {"X-Raw": "raw"}
    status, headers, _ = await _post(proxy.url, _chat("hi"))
    assert status == 200
    (response,) = await _seen(log, "response")
    assert _h(response["headers"], "X-Raw") == ["raw"]
    assert headers.get("X-Plugin") == "response" and "X-Raw" not in headers


async def test_upstream_failures_skip_response_and_chunk_interceptors(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerExecutorErrorSkipsResponseInterceptor,
    TestHandlerStreamExecutorErrorSkipsResponseInterceptors and
    TestHandlerStreamChunkErrorBeforePayloadSkipsResponseInterceptors: a refused whole
    answer, a refused stream and a stream whose first frame is an error reach the client as
    errors, and no response or stream-chunk interceptor is asked."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path)
    fakes.openai.script(Behavior(status=400, message="bad request", times=2))
    for stream in (False, True):
        status, _, _ = await _post(proxy.url, _chat("hi", stream=stream))
        assert status == 400
    fakes.openai.stream_error_next("server_error", after=0)
    status, _, _ = await _post(proxy.url, _chat("hi", stream=True))
    assert status >= 400
    assert len(await _seen(log, "complete", 3)) == 3
    assert "response" not in _hooks(log) and "chunk" not in _hooks(log)


async def test_stream_chunk_interceptors_rewrite_drop_and_set_headers(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerStreamInterceptorRewritesAndDropsChunks,
    TestHandlerStreamInterceptorInitializesHeadersWithoutPayload,
    TestHandlerStreamInterceptorInitializesHeadersBeforeReturn and
    TestHandlerStreamInterceptorKeepsReturnedHeadersStableAfterFirstPayload. The header-init
    call (-1) comes once, before any payload, with the after-auth request headers; its
    header is on the client's response head and payload calls see it; a dropped chunk never
    reaches the client and is not history; a rewritten one is history as rewritten. A
    header edit of a later chunk cannot change a head already sent. (CPA also keeps the
    first payload chunk's header edits, since its handler returns the head only after the
    first chunk; cliproxy sends the head after the init call, so only its edits count.)
    Also CPA: TestStreamWithPluginExecutorReturnedHeadersImmutableAfterReturn (the fact, not
    Go's data race)."""
    proxy, log = await _recording_proxy(start_proxy, fakes, tmp_path, extra=PASSTHROUGH)
    fakes.openai.answer_headers[None] = {"X-Upstream": "stream"}
    fakes.openai.script(Behavior(stream_delay=0.01))  # one frame a read, as CPA's executors give
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(**_chat("REWRITE"), stream=True)
        assert raw.headers.get("X-Init") == "plugin" and raw.headers.get("X-Late") is None
        text = "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
    assert text.startswith("Hello from PLUGIN") and "(model" not in text
    chunks = await _seen(log, "chunk", 3)
    init, payloads = chunks[0], chunks[1:]
    assert init["index"] == -1 and [c["index"] for c in chunks].count(-1) == 1
    assert _h(init["headers"], "X-Upstream") == ["stream"]
    assert _h(init["request_headers"], "X-Stage") == ["after"]
    assert [c["index"] for c in payloads] == list(range(len(payloads)))
    assert all(_h(c["headers"], "X-Init") == ["plugin"] for c in payloads)
    assert all('"content":"(model' not in h for c in payloads for h in c["history"])
    assert any("PLUGIN" in h for h in payloads[-1]["history"])
