"""CPA's Responses stream-error cases (sdk/api/handlers/openai/
openai_responses_handlers_stream_error_test.go, openai_responses_handlers_stream_test.go)
through a running proxy: a Codex upstream that writes scripted raw SSE bytes, chunk by
chunk, then ends cleanly or drops the connection (:class:`RawResponses`); clients on aiohttp
(to read the exact frames) and the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer

CODEX_UA = "Codex Desktop/26.803.41515"
DELTA = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"partial"}\n\n'
)
COMPLETED = (
    b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp-1",'
    b'"object":"response","status":"completed","output":[],'
    b'"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}\n\n'
)


class RawResponses(LocalServer):
    """A Codex upstream answering ``POST /responses`` with ``chunks`` written one by one
    (each flushed on its own), then a clean end, or a dropped connection when ``cut``."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.cut = False
        self.status = 200
        self.calls = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.calls += 1
        if self.status != 200:
            return web.Response(
                status=self.status, body=b"".join(self.chunks), content_type="application/json"
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in self.chunks:
            await resp.write(chunk)
            await asyncio.sleep(0.01)
        if self.cut:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        await resp.write_eof()
        return resp

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/responses", self.handle)


@pytest.fixture
async def upstream() -> AsyncIterator[RawResponses]:
    async with RawResponses() as server:
        yield server


@pytest.fixture
async def proxy(start_proxy: Any, upstream: RawResponses) -> Any:
    # (a late error event cools its account, as in CPA: the cases ask the one account twice)
    return await start_proxy(
        f'api-keys: ["{KEY}"]\ndisable-cooling: true\ncodex-api-key:\n  - api-key: "sk-codex-1"\n'
        f'    base-url: "{upstream.url}"\n    models: [{{name: "gpt-5.5", alias: "codex-model"}}]\n'
    )


async def post(proxy: Any, agent: str = "", **extra: Any) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {KEY}"}
    if agent:
        headers["User-Agent"] = agent
    body = {"model": "codex-model", "input": "hi", "stream": True, **extra}
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.post(proxy.url + "/v1/responses", json=body, headers=headers) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


def events(body: bytes) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for frame in body.split(b"\n\n"):
        name, data = "", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        if data and data != b"[DONE]":
            out.append((name, orjson.loads(data)))
    return out


# ---- after the first frame: 200, then one in-format terminal failure


@pytest.mark.parametrize("agent", [CODEX_UA, ""], ids=["codex", "other"])
async def test_partial_output_then_a_cut_ends_in_a_failure_event(proxy, upstream, agent: str) -> None:
    """CPA TestResponsesHandlerEmitsFailureWhenExecutorStopsAfterPartialOutput and
    TestForwardResponsesStreamExposesTransportErrorAfterOutputForCodex: a delta, then the
    upstream connection drops. The client keeps its 200 and the delta, then gets one
    terminal ``response.failed`` that names the break, and no second ``response.created``
    (the failure ends the response the client has; before, a pass-through stream's failure
    opened a new response first).

    Our difference: every client gets ``response.failed`` once its stream has begun, where
    CPA gives clients other than Codex the bare ``error`` event
    (TestForwardResponsesStreamUsesResponseFailedForCodex): the same ending as a translated
    stream's, which the SDKs type as well; a failure before the first byte (keep-alives
    committed the 200) follows CPA's split (tests/e2e/test_keepalive.py)."""
    upstream.chunks, upstream.cut = [DELTA], True
    status, _, body = await post(proxy, agent)
    assert status == 200
    got = events(body)
    assert got[0][1]["delta"] == "partial"
    assert [name for name, _ in got[1:]] == ["response.failed"]
    assert got[1][1]["response"]["error"]["message"]
    assert b"response.completed" not in body and b"response.created" not in body


async def test_data_only_frame_then_clean_close_is_a_failure_not_a_completion(proxy, upstream) -> None:
    """CPA TestResponsesHandlerEmitsFailureWhenDataOnlyStreamClosesCleanly and
    TestForwardResponsesStreamFailsWhenUpstreamClosesWithoutTerminalEvent: a ``data:``-only
    delta with no blank line after it, then a clean end of stream without any terminal
    event: the delta reaches the client, then ``response.failed``; no completion is made up."""
    upstream.chunks = [b'data: {"type":"response.output_text.delta","delta":"partial"}']
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    got = events(body)
    assert got[0][1].get("delta") == "partial"
    assert [name for name, _ in got[1:]] == ["response.failed"]
    assert b"response.completed" not in body


async def test_data_only_frame_then_a_cut_is_no_200(proxy, upstream) -> None:
    """CPA TestResponsesHandlerFlushesDataOnlyFrameBeforeStreamingError, as a difference: a
    ``data:``-only delta with no blank line after it, then the connection drops. CPA's
    executor hands the line on as a frame, so its client gets a 200, the delta and
    ``response.failed``. cliproxy counts an event only once a blank line ends it (or the
    upstream ends cleanly), so nothing was committed: the failure stays before the first
    event, where another credential could still answer; with this one alone it is a 502."""
    upstream.chunks, upstream.cut = [b'data: {"type":"response.output_text.delta","delta":"partial"}'], True
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 502 and b"partial" not in body


async def test_clean_close_without_terminal_event_is_a_failure(proxy, upstream) -> None:
    """CPA TestForwardResponsesStreamFailsWhenUpstreamClosesWithoutTerminalEvent and
    TestForwardResponsesStreamPreservesValidFullSSEEventChunks: a whole delta frame (passed
    on as it came), then the upstream ends cleanly with no ``response.completed``."""
    upstream.chunks = [DELTA]
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    assert [name for name, _ in events(body)] == ["response.output_text.delta", "response.failed"]


async def test_valid_frame_then_malformed_frame_in_one_chunk(proxy, upstream) -> None:
    """CPA TestResponsesHandlerCommitsValidFrameBeforeMalformedFrameInSameChunk: one chunk
    holds a whole delta and a frame whose JSON is cut short; the delta goes out with the
    200, the broken frame ends the stream in ``response.failed``."""
    upstream.chunks = [
        DELTA + b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta"\n\n'
    ]
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    got = events_lenient(body)
    assert got[0] == "response.output_text.delta" and got[-1] == "response.failed"
    assert b"response.completed" not in body


def events_lenient(body: bytes) -> list[str]:
    names = []
    for frame in body.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                names.append(line[6:].strip().decode())
    return names


async def test_completed_split_across_chunks_as_multiline_data(proxy, upstream) -> None:
    """CPA TestResponsesHandlerAcceptsMultilineDataAcrossExecutorChunks and
    TestForwardResponsesStreamReassemblesSplitSSEEventChunks: the terminal event arrives in
    two chunks, its JSON spread over two ``data:`` lines; the client gets
    ``response.completed`` and no failure is added. (A stream whose only event is a
    completion with no output at all is an empty answer, which we fail over as a 502.)"""
    upstream.chunks = [
        DELTA + b'event: response.completed\ndata: {"type":"response.completed",',
        b'data: "response":{"id":"resp-1","object":"response","status":"completed","output":[]}}\n\n',
    ]
    status, _, body = await post(proxy)
    assert status == 200
    assert "response.completed" in events_lenient(body)
    assert b"response.failed" not in body


async def test_completed_then_cut_appends_no_failure(proxy, upstream) -> None:
    """CPA TestForwardResponsesStreamDoesNotAppendFailureAfterTerminalEvent: the upstream
    drops the connection after ``response.completed``; nothing follows the completion."""
    upstream.chunks, upstream.cut = [DELTA, COMPLETED], True
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    names = events_lenient(body)
    assert names[-1] == "response.completed"
    assert "response.failed" not in names and "error" not in names


# ---- before the first frame: an HTTP error, never a 200


async def test_stream_closed_before_first_payload_is_not_a_200(proxy, upstream) -> None:
    """CPA TestResponsesHandlerRejectsStreamClosedBeforeFirstPayload and
    TestExecuteStreamWithAuthManager_EmptyClosedStream (which answers 500): the upstream answers
    200 and ends without a byte. The client gets an error status with a JSON error body
    saying the stream closed early, never an empty 200: 408 ``stream_incomplete``, the
    status CPA's Codex executor gives a stream cut before its end
    (codex_executor_stream_output_test.go)."""
    upstream.chunks = []
    status, ctype, body = await post(proxy)
    assert status == 408
    assert ctype.startswith("application/json")
    error = orjson.loads(body)["error"]
    assert error["code"] == "stream_incomplete" and "closed before" in error["message"]


async def test_incomplete_first_frame_then_cut_is_not_a_200(proxy, upstream) -> None:
    """CPA TestResponsesHandlerDoesNotCommitHeadersForIncompleteFirstFrame: only
    ``event: response.created`` (no data, no blank line) arrives before the upstream drops
    the connection: no 200 is committed, the client gets an error status."""
    upstream.chunks, upstream.cut = [b"event: response.created"], True
    status, ctype, body = await post(proxy)
    assert status >= 500
    assert ctype.startswith("application/json") and orjson.loads(body)["error"]["message"]


async def test_failure_before_first_payload_reaches_the_sdk(proxy, upstream) -> None:
    """CPA TestResponsesHandlerDoesNotLoseErrorBeforeFirstPayload: the upstream connection
    drops before the first byte of the stream body; the official SDK raises an API error
    with a status, never a stream that ends quietly."""
    upstream.chunks, upstream.cut = [], True
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as info:
            async with client.responses.stream(model="codex-model", input="hi") as s:
                await s.get_final_response()
    assert info.value.status_code >= 500


SECRET_MESSAGE = "initial-message-secret"
SECRET_DEBUG = "initial-debug-secret"
SENSITIVE = {
    "error": {
        "type": "server_error",
        "code": "upstream_failed",
        "message": 'initial upstream failure: {"api_key":"' + SECRET_MESSAGE + '"}',
    },
    "debug": {"token": SECRET_DEBUG, "trace": "x" * 8192},
}


async def test_an_initial_error_keeps_only_its_safe_fields(start_proxy, upstream) -> None:
    """CPA TestResponsesHandlerSanitizesErrorBeforeFirstFrame: the upstream refuses a stream
    request before its first frame with an error body whose message holds an ``api_key``
    and which carries a ``debug`` member (a token, an 8 KiB trace). The client gets an
    error status, never a 200, with the upstream's code and message, the key redacted, no
    ``debug``, in less than 4 KiB; the official SDK reads the same.

    Unchanged for a whole (not streamed) request: its upstream error body passes through as
    it is (``server/errors.py``), as CPA's other handlers forward it."""
    proxy = await start_proxy(  # three requests on one credential: no cooldown in between
        f'api-keys: ["{KEY}"]\ndisable-cooling: true\ncodex-api-key:\n  - api-key: "sk-codex-1"\n'
        f'    base-url: "{upstream.url}"\n    models: [{{name: "gpt-5.5", alias: "codex-model"}}]\n'
    )
    upstream.status, upstream.chunks = 500, [orjson.dumps(SENSITIVE)]
    status, ctype, body = await post(proxy)
    assert status >= 500 and ctype.startswith("application/json")
    assert len(body) <= 4096
    for secret in (SECRET_MESSAGE, SECRET_DEBUG, "xxxxxxxx"):
        assert secret.encode() not in body
    assert orjson.loads(body) == {
        "error": {
            "type": "server_error",
            "code": "upstream_failed",
            "message": 'initial upstream failure: {"api_key":"[REDACTED]"}',
        }
    }
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as info:
            async with client.responses.stream(model="codex-model", input="hi") as s:
                await s.get_final_response()
        assert info.value.code == "upstream_failed" and SECRET_MESSAGE not in str(info.value)
        with pytest.raises(openai.APIStatusError) as whole:
            await client.responses.create(model="codex-model", input="hi")
    assert isinstance(whole.value.body, dict) and "debug" in str(whole.value.response.json())


# ---- in-band error frames after the first frame


@pytest.mark.parametrize(
    "frame",
    [
        b'event: error\ndata: {"type":"provider.error","error":{"code":"failed","message":"token=payload-secret"}}\n\n',
        b'data: {"type":"provider.error","error":{"code":"failed","message":"token=payload-secret"}}\n\n',
        b'data: {"code":"failed","message":"token=payload-secret"}\n\n',
        b'event: response.failed\ndata: {"type":"response.failed","response":{"id":"resp-1","status":"failed",'
        b'"error":{"code":"failed","message":"token=payload-secret"}}}\n\n',
    ],
    ids=["event-error", "typed-nested-error", "top-level-fields", "response-failed"],
)
async def test_an_error_frame_after_output_is_made_safe_and_ends_the_stream(
    proxy, upstream, frame: bytes
) -> None:
    """CPA TestForwardResponsesStreamSanitizesPayloadErrorsAndStopsAtFailure: after a delta,
    one chunk holds an error frame (an ``error`` event with another payload type, a
    data-only payload with a nested ``error``, a data-only payload with top-level ``code``
    and ``message``, a ``response.failed``) and then a ``response.completed``. The client
    gets that one error with ``token=[REDACTED]`` for the secret, nothing after it (the
    completion is dropped), and no failure of ours added.

    Our difference: the error keeps its kind (an ``error`` stays an ``error``, a
    ``response.failed`` keeps its response's id), where CPA rewrites every one into
    ``response.failed`` for Codex (and into ``error`` for other clients)."""
    upstream.chunks = [DELTA, frame + COMPLETED]
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    assert b"payload-secret" not in body and b"token=[REDACTED]" in body
    assert b"response.completed" not in body
    got = events(body)
    assert got[0][1]["delta"] == "partial" and len(got) == 2
    name, payload = got[1]
    assert name == (frame.split(b"\n")[0][7:].decode() if frame.startswith(b"event:") else "")
    if name == "response.failed":
        assert payload["response"]["id"] == "resp-1"
        assert payload["response"]["error"] == {"code": "failed", "message": "token=[REDACTED]"}
    elif "error" in payload:
        assert payload == {
            "type": "provider.error",
            "error": {"code": "failed", "message": "token=[REDACTED]"},
        }
    else:
        assert payload == {"code": "failed", "message": "token=[REDACTED]"}
    assert body.endswith(b"\n\n")


DEBUG_SECRET = "super-secret-provider-debug-value"
MESSAGE_SECRET = "super-secret-provider-message-value"


async def test_an_error_event_loses_its_debug_dump_and_secrets(proxy, upstream) -> None:
    """CPA TestForwardResponsesStreamSanitizesDiagnosticErrorDetails: after a delta, the
    upstream's error carries a secret inside its message (``{"api_key": ...}``) and a
    ``debug`` member with another key and an 8 KiB trace. The client keeps the safe
    structured fields (the code, the message with the key redacted) and never sees the
    secrets or the dump: the openai SDK raises the message."""
    raw = {
        "type": "error",
        "error": {
            "type": "server_error",
            "code": "upstream_failed",
            "message": 'upstream failed: {"api_key":"' + MESSAGE_SECRET + '"}',
        },
        "debug": {"api_key": DEBUG_SECRET, "trace": "x" * 8192},
    }
    upstream.chunks = [DELTA, b"event: error\ndata: " + orjson.dumps(raw) + b"\n\n"]
    status, _, body = await post(proxy)
    assert status == 200 and len(body) < 1024
    assert DEBUG_SECRET.encode() not in body and MESSAGE_SECRET.encode() not in body
    assert b"upstream failed" in body and b"upstream_failed" in body and b"debug" not in body
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIError, match="upstream failed") as info:
            async for _ in await client.responses.create(model="codex-model", input="hi", stream=True):
                pass
    assert MESSAGE_SECRET not in str(info.value) and "[REDACTED]" in str(info.value)


async def test_a_nested_response_error_keeps_its_four_fields(proxy, upstream) -> None:
    """CPA TestForwardResponsesStreamPreservesNestedResponseError: a ``response.failed``
    whose ``response.error`` has ``type``, ``code``, ``message`` and ``param`` reaches the
    client with all four; the openai SDK reads the failure's code and message.
    CPA: TestBuildOpenAIResponsesStreamFailedChunkPreservesNestedError."""
    error = {
        "type": "server_error",
        "code": "upstream_failed",
        "message": "nested response failure",
        "param": "input",
    }
    failed = {"type": "response.failed", "response": {"id": "resp-1", "status": "failed", "error": error}}
    upstream.chunks = [DELTA, b"event: response.failed\ndata: " + orjson.dumps(failed) + b"\n\n"]
    _, _, body = await post(proxy, CODEX_UA)
    assert events(body)[-1][1]["response"]["error"] == error
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        kinds = []
        async for event in await client.responses.create(model="codex-model", input="hi", stream=True):
            kinds.append(event.type)
            if event.type == "response.failed":
                assert event.response.error is not None
                assert event.response.error.code == "upstream_failed"
                assert event.response.error.message == "nested response failure"
    assert kinds[-1] == "response.failed"


async def test_error_fields_are_cut_at_their_limits(proxy, upstream) -> None:
    """CPA's limits (responsesStreamErrorMessageLimit 2048, responsesStreamErrorFieldLimit
    256, ``truncateResponsesStreamErrorText``): a message longer than 2048 characters is
    cut to 2048 and ends in ``…``, a code longer than 256 to 256 and ``…``; characters, not
    bytes (a multi-byte message is cut at the same count); one that fits is left whole.

    Our differences: a numeric member of the error (Codex's ``resets_in_seconds``) is kept,
    where CPA keeps only the four text fields: a number hides no secret and Codex reads it
    off a usage limit; a string member beyond the four (``plan_type``) is dropped as CPA
    drops it. A bearer token is redacted before the ``key: value`` pattern runs, so
    ``Authorization: Bearer <token>`` loses the token (CPA runs the key pattern first and
    redacts only the word ``Bearer``)."""
    error = {
        "type": "usage_limit_reached",
        "code": "c" * 300,
        "message": "é" * 3000,
        "param": "Authorization: Bearer sk-live-abcdefgh12345678",
        "resets_in_seconds": 42,
        "plan_type": "plus",
    }
    upstream.chunks = [DELTA, b"data: " + orjson.dumps({"type": "error", "error": error}) + b"\n\n"]
    _, _, body = await post(proxy)
    got = events(body)[-1][1]["error"]
    assert got["message"] == "é" * 2048 + "…" and got["code"] == "c" * 256 + "…"
    assert got["type"] == "usage_limit_reached" and got["resets_in_seconds"] == 42
    assert "plan_type" not in got and b"sk-live" not in body
    assert got["param"] == "Authorization: [REDACTED] [REDACTED]"


async def test_a_data_only_error_flushed_at_eof_is_dispatched(proxy, upstream) -> None:
    """CPA TestForwardResponsesStreamReportsDataOnlyErrorFlushedAtEOF: after a delta, the
    stream's last bytes are a ``data:``-only error event with no blank line after it. An
    SSE client drops an event that no blank line ends, so the proxy ends it: the openai
    SDK raises the upstream's message (before, the error was lost and the stream ended
    quietly). No failure of ours is added after the upstream's own."""
    upstream.chunks = [DELTA, b'data: {"type":"error","error":{"message":"failed at EOF"}}']
    status, _, body = await post(proxy, CODEX_UA)
    assert status == 200
    assert body.endswith(b'"failed at EOF"}}\n\n')
    assert b"response.failed" not in body
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        upstream.chunks = [DELTA, b'data: {"type":"error","error":{"message":"failed at EOF"}}']
        with pytest.raises(openai.APIError, match="failed at EOF"):
            async for _ in await client.responses.create(model="codex-model", input="hi", stream=True):
                pass
