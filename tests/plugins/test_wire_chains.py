"""CPA's chain tests for interceptors and normalizers (internal/pluginhost/adapters_test.go,
request_lifecycle_test.go), ported on the wire: each plugin answers with the JSON a native
plugin would send, and the host's chain rule (plugins/rules.py) is what is checked."""

from __future__ import annotations

import asyncio
from typing import Any

from cliproxy.plugins import abi, rules, translation
from cliproxy.plugins.abi import PluginError, b64decode, b64encode
from tests.plugins.wire_host import WirePlugin, wire_host

BEFORE = abi.REQUEST_INTERCEPT_BEFORE
AFTER = abi.REQUEST_INTERCEPT_AFTER
RESPONSE = abi.RESPONSE_INTERCEPT_AFTER
CHUNK = abi.RESPONSE_INTERCEPT_STREAM_CHUNK


def appends(tag: str, **extra: Any):
    """A handler that appends ``tag`` to the body it gets and adds ``extra`` to its answer."""

    def handler(params: dict[str, Any]) -> dict[str, Any]:
        return {"Body": b64encode(b64decode(params.get("Body")) + tag.encode()), **extra}

    return handler


def failing(_params: dict[str, Any]) -> Any:
    raise PluginError("plugin said no")


def crashing(_params: dict[str, Any]) -> Any:
    raise RuntimeError("panic")


def empty(_params: dict[str, Any]) -> Any:
    return {}


async def intercept(
    host, method: str = BEFORE, *, body: bytes = b"body", headers=None, skip=None, to_format=""
):
    return await rules.intercept(
        host,
        method,
        request_id="request-1",
        source_format="openai",
        to_format=to_format,
        model="normalized",
        requested_model="requested",
        stream=False,
        headers=headers or {},
        body=body,
        skip=skip,
        scope=None,
    )


async def response(host, *, headers: dict[str, str], skip=None) -> tuple[dict[str, str], bytes]:
    return await rules.response_intercept(
        host,
        request_id="request-1",
        source_format="openai",
        model="normalized",
        requested_model="requested",
        stream=False,
        request_headers={},
        response_headers=headers,
        original=b"original",
        body=b"body",
        skip=skip,
        scope=None,
    )


def chunk_state(headers: dict[str, str], skip=None) -> rules.ChunkState:
    return rules.ChunkState(
        "request-1", "openai", "normalized", "requested", {}, headers, b"original", skip, None
    )


async def test_request_interceptors_chain_by_priority_with_headers():
    """TestInterceptRequestChainsByPriorityAndHeaders: bodies chain high then low, the later
    plugin's header wins, ClearHeaders removes one, and the caller's headers are untouched."""
    high = WirePlugin(
        "high", 20, {"request_interceptor": True}, {BEFORE: appends("|high", Headers={"X-Plugin": ["high"]})}
    )
    low_answer = appends("|low", Headers={"X-Plugin": ["low"], "X-Low": ["1"]}, ClearHeaders=["X-Remove"])
    low = WirePlugin("low", 10, {"request_interceptor": True}, {BEFORE: low_answer})
    headers = {"X-Remove": "yes"}
    state = await intercept(wire_host(low, high), body=b"start", headers=headers)
    assert state.body == b"start|high|low" and state.changed
    assert state.headers.get("X-Plugin") == "low" and state.headers.get("X-Low") == "1"
    assert "X-Remove" not in state.headers and headers == {"X-Remove": "yes"}
    sent = high.called(BEFORE)[0]
    assert (sent["SourceFormat"], sent["Model"], sent["RequestedModel"]) == (
        "openai",
        "normalized",
        "requested",
    )
    assert low.called(BEFORE)[0]["Headers"].get("X-Plugin") == ["high"]


async def test_after_auth_interceptor_gets_the_target_format():
    """TestInterceptRequestAfterAuthPassesTargetFormat."""
    p = WirePlugin("after", 0, {"request_interceptor": True}, {AFTER: appends("|after")})
    state = await intercept(wire_host(p), AFTER, to_format="codex")
    assert state.body == b"body|after"
    assert (p.called(AFTER)[0]["SourceFormat"], p.called(AFTER)[0]["ToFormat"]) == ("openai", "codex")


async def test_every_interceptor_chain_skips_the_calling_plugin():
    """TestInterceptorsSkipExceptedPlugin: before/after-auth, response and stream chains."""

    def every(tag: str) -> dict[str, Any]:
        return {
            BEFORE: appends(f"|{tag}-request"),
            AFTER: appends(f"|{tag}-request"),
            RESPONSE: appends(f"|{tag}-response"),
            CHUNK: appends(f"|{tag}-stream"),
        }

    caps = {"request_interceptor": True, "response_interceptor": True, "response_stream_interceptor": True}
    origin = WirePlugin("origin", 20, caps, every("origin"))
    other = WirePlugin("other", 10, caps, every("other"))
    host = wire_host(origin, other)
    assert (await intercept(host, skip="origin")).body == b"body|other-request"
    assert (await intercept(host, AFTER, skip="origin")).body == b"body|other-request"
    assert (await response(host, headers={}, skip="origin"))[1] == b"body|other-response"
    assert await rules.stream_chunk(host, chunk_state({}, "origin"), b"body") == b"body|other-stream"
    assert origin.calls == [] and len(other.calls) == 4


async def test_response_interceptors_chain_headers_and_body():
    """TestResponseInterceptorsChainAndStreamHistory (whole answers): the second plugin sees
    the first one's body and header; the result keeps the last values and drops cleared ones."""
    high = WirePlugin(
        "high",
        20,
        {"response_interceptor": True},
        {RESPONSE: appends("|high", Headers={"X-Response": ["high"]})},
    )
    low_answer = appends("|low", Headers={"X-Response": ["low"], "X-Low": ["1"]}, ClearHeaders=["X-Remove"])
    low = WirePlugin("low", 10, {"response_interceptor": True}, {RESPONSE: low_answer})
    headers, body = await response(
        wire_host(high, low), headers={"Content-Type": "application/json", "X-Remove": "yes"}
    )
    assert body == b"body|high|low"
    assert headers.get("X-Response") == "low" and headers.get("X-Low") == "1" and "X-Remove" not in headers
    second = low.called(RESPONSE)[0]
    assert b64decode(second["Body"]) == b"body|high" and second["ResponseHeaders"]["X-Response"] == ["high"]


async def test_stream_interceptors_chain_within_a_chunk_and_keep_history():
    """TestResponseInterceptorsChainAndStreamHistory (streams): the second plugin sees the
    first one's body and header edits for the same chunk, and the earlier chunks as history."""
    high = WirePlugin(
        "high",
        20,
        {"response_stream_interceptor": True},
        {CHUNK: appends("|high", Headers={"X-Stream": ["high"]})},
    )
    low = WirePlugin("low", 10, {"response_stream_interceptor": True}, {CHUNK: appends("|low")})
    host = wire_host(high, low)
    st = chunk_state({"Content-Type": "text/event-stream"})
    assert await rules.stream_chunk(host, st, b"first") == b"first|high|low"
    assert await rules.stream_chunk(host, st, b"chunk") == b"chunk|high|low"
    second = low.called(CHUNK)[1]
    assert b64decode(second["Body"]) == b"chunk|high"
    assert second["ResponseHeaders"]["X-Stream"] == ["high"]
    assert [b64decode(c) for c in second["HistoryChunks"]] == [b"first|high|low"]
    assert second["ChunkIndex"] == 1


async def test_interceptor_errors_are_skipped_and_crashes_fuse():
    """TestInterceptorsSkipErrorsAndFusePanics."""
    caps = {"request_interceptor": True}
    host = wire_host(
        WirePlugin("error", 30, caps, {BEFORE: failing}),
        WirePlugin("panic", 20, caps, {BEFORE: crashing}),
        WirePlugin("success", 10, caps, {BEFORE: appends("|success")}),
    )
    assert (await intercept(host)).body == b"body|success"
    assert host.records["panic"].fused and not host.records["error"].fused


async def test_a_dropped_chunk_stops_the_chain():
    """TestStreamInterceptorsDropChunkStopsChain: the client never gets the chunk, so the
    dropping plugin's body does not matter; lower plugins are not asked."""
    high = WirePlugin(
        "high", 20, {"response_stream_interceptor": True}, {CHUNK: appends("|high", DropChunk=True)}
    )
    low = WirePlugin("low", 10, {"response_stream_interceptor": True}, {CHUNK: appends("|low")})
    st = chunk_state({})
    assert await rules.stream_chunk(wire_host(high, low), st, b"chunk") is None
    assert low.called(CHUNK) == [] and st.history == [] and st.index == 1  # the next chunk is 1


async def test_interceptor_presence_follows_flags_and_fusing():
    """TestHasStreamInterceptorsReflectsActiveStreamInterceptors and
    TestHasRequestInterceptorsReflectsActiveRequestInterceptors: each chain is entered only
    when an active, unfused plugin has its flag (the flow's stages test it first, so a host
    without such a plugin neither calls nor encodes anything: CPA's
    TestHandlerSkipsDisabledRequestInterceptorsWithoutCopyingPayload and
    TestHandlerStreamSkipsInterceptorsWhenHostReportsNoStreamInterceptors)."""
    request_only = wire_host(WirePlugin("request", 0, {"request_interceptor": True}))
    assert request_only.any("request_interceptor") and not request_only.any("response_stream_interceptor")
    response_only = wire_host(WirePlugin("response", 0, {"response_interceptor": True}))
    assert not response_only.any("response_stream_interceptor") and not response_only.any(
        "request_interceptor"
    )
    host = wire_host(WirePlugin("stream", 0, {"response_stream_interceptor": True}, {CHUNK: crashing}))
    assert host.any("response_stream_interceptor")
    await rules.stream_chunk(host, chunk_state({}), b"chunk")
    assert not host.any("response_stream_interceptor")


async def test_stream_chunk_request_bodies_follow_the_plugins_schema_version():
    """TestStreamChunkRequestBodyPolicyBySchemaVersion: schema 3 plugins get no request
    bodies with chunks, older ones do; everyone gets them with the header-init call (-1).
    (CPA's TestHandlerStreamInterceptorLegacySchemaClonesRequestBodiesOnPayloadChunks
    guards Go slices a plugin could mutate; each call here encodes the bodies anew.)"""
    caps = {"response_stream_interceptor": True}
    legacy = WirePlugin("legacy", 0, caps, {CHUNK: appends("")}, schema_version=2)
    modern = WirePlugin("modern", 0, caps, {CHUNK: appends("")}, schema_version=3)
    host = wire_host(legacy, modern)
    st = chunk_state({})
    await rules.stream_chunk(host, st, None)
    await rules.stream_chunk(host, st, b"chunk")
    (legacy_init, legacy_chunk), (modern_init, modern_chunk) = legacy.called(CHUNK), modern.called(CHUNK)
    for init in (legacy_init, modern_init):
        assert init["ChunkIndex"] == -1 and b64decode(init["OriginalRequest"]) == b"original"
    assert b64decode(legacy_chunk["OriginalRequest"]) == b"original"
    assert "OriginalRequest" not in modern_chunk and "RequestBody" not in modern_chunk


async def test_stream_history_keeps_the_last_64_chunks_within_1_mib():
    """CPA: TestAppendStreamInterceptorHistoryBoundsRetainedChunks: the history a chunk
    interceptor gets keeps at most 64 chunks and 1 MiB, dropping the oldest first."""
    host = wire_host(WirePlugin("stream", 0, {"response_stream_interceptor": True}, {CHUNK: empty}))
    st = chunk_state({})
    for i in range(rules.HISTORY_CHUNKS + 10):
        await rules.stream_chunk(host, st, bytes([i]))
    assert len(st.history) == rules.HISTORY_CHUNKS == 64 and st.history[0] == bytes([10])
    st = chunk_state({})
    for _ in range(3):
        await rules.stream_chunk(host, st, b"x" * (rules.HISTORY_BYTES // 2 + 1))
    assert sum(map(len, st.history)) <= rules.HISTORY_BYTES == 1 << 20 and st.history


async def test_termination_stops_the_chain():
    """TestRequestInterceptorTerminationStopsChain: status, headers and body reach the
    client; the lower interceptor is not asked."""
    answer = {
        "Terminate": True,
        "StatusCode": 403,
        "ResponseHeaders": {"Content-Type": ["application/json"]},
        "ResponseBody": b64encode(b'{"error":"blocked"}'),
    }
    high = WirePlugin("high", 20, {"request_interceptor": True}, {BEFORE: lambda _p: answer})
    low = WirePlugin("low", 10, {"request_interceptor": True}, {BEFORE: empty})
    state = await intercept(wire_host(high, low))
    t = state.terminated
    assert t is not None and (t.status, t.headers, t.body, t.plugin) == (
        403,
        {"Content-Type": "application/json"},
        b'{"error":"blocked"}',
        "high",
    )
    assert low.called(BEFORE) == []


# ------------------------------------------------------------------ normalizers


async def normalize(host, body: bytes = b"start") -> bytes:
    return await translation.normalize_request(
        host, from_format="openai", to_format="claude", model="model", stream=False, body=body
    )


async def test_request_normalizers_chain_by_priority():
    """TestNormalizeRequestChainsByPriority."""
    caps = {"request_normalizer": True}
    host = wire_host(
        WirePlugin("low", 10, caps, {abi.REQUEST_NORMALIZE: appends("|low")}),
        WirePlugin("high", 20, caps, {abi.REQUEST_NORMALIZE: appends("|high")}),
    )
    assert await normalize(host) == b"start|high|low"


async def test_request_normalizers_keep_the_body_on_error_or_empty_answer():
    """TestAdaptersKeepPayloadOrTryNextOnErrorAndEmptyBody (normalizer half)."""
    caps = {"request_normalizer": True}
    host = wire_host(
        WirePlugin("normalizer-error", 30, caps, {abi.REQUEST_NORMALIZE: failing}),
        WirePlugin("normalizer-empty", 20, caps, {abi.REQUEST_NORMALIZE: empty}),
        WirePlugin(
            "normalizer-success",
            10,
            caps,
            {abi.REQUEST_NORMALIZE: lambda _p: {"Body": b64encode(b"kept-then-success")}},
        ),
    )
    assert await normalize(host, b"original") == b"kept-then-success"


async def normalize_response(host, flag: str, method: str, body: bytes = b"body") -> bytes:
    return await translation.normalize_response(
        host,
        flag,
        method,
        from_format="openai",
        to_format="claude",
        model="model",
        stream=True,
        original=b"original-request",
        translated=b"translated-request",
        body=body,
    )


async def test_response_normalizers_chain_by_priority_before_and_after():
    """TestResponseNormalizersChainByPriority; each call carries both request bodies."""
    caps = {"response_before_translator": True, "response_after_translator": True}

    def tagged(tag: str) -> dict[str, Any]:
        return {
            abi.RESPONSE_NORMALIZE_BEFORE: appends(f"|before-{tag}"),
            abi.RESPONSE_NORMALIZE_AFTER: appends(f"|after-{tag}"),
        }

    high = WirePlugin("high", 20, caps, tagged("high"))
    host = wire_host(WirePlugin("low", 10, caps, tagged("low")), high)
    before = await normalize_response(host, "response_before_translator", abi.RESPONSE_NORMALIZE_BEFORE)
    after = await normalize_response(host, "response_after_translator", abi.RESPONSE_NORMALIZE_AFTER)
    assert (before, after) == (b"body|before-high|before-low", b"body|after-high|after-low")
    sent = high.called(abi.RESPONSE_NORMALIZE_BEFORE)[0]
    assert b64decode(sent["OriginalRequest"]) == b"original-request"
    assert b64decode(sent["TranslatedRequest"]) == b"translated-request"


async def test_response_normalizers_keep_the_body_on_error_or_empty_answer():
    """TestResponseHooksKeepPayloadOrTryNextOnErrorAndEmptyBody (normalizer half)."""
    caps = {"response_before_translator": True, "response_after_translator": True}
    methods = (abi.RESPONSE_NORMALIZE_BEFORE, abi.RESPONSE_NORMALIZE_AFTER)
    host = wire_host(
        WirePlugin("error", 30, caps, dict.fromkeys(methods, failing)),
        WirePlugin("empty", 20, caps, dict.fromkeys(methods, empty)),
        WirePlugin(
            "success",
            10,
            caps,
            {
                abi.RESPONSE_NORMALIZE_BEFORE: lambda _p: {"Body": b64encode(b"before-success")},
                abi.RESPONSE_NORMALIZE_AFTER: lambda _p: {"Body": b64encode(b"after-success")},
            },
        ),
    )
    before = await normalize_response(
        host, "response_before_translator", abi.RESPONSE_NORMALIZE_BEFORE, b"original"
    )
    after = await normalize_response(
        host, "response_after_translator", abi.RESPONSE_NORMALIZE_AFTER, b"original"
    )
    assert (before, after) == (b"before-success", b"after-success")


# ------------------------------------------------------------------ lifecycle (request_lifecycle_test.go)


async def test_completion_does_not_wait_for_a_blocking_plugin():
    """TestCompleteRequestDoesNotWaitForBlockingPlugin and
    TestCompleteRequestUsesUncancelledContextAndClonesMetadata: ``request.complete`` runs in
    the background, so the request is not held; the plugin still gets the whole record, a
    copy the caller may change afterwards."""
    release = asyncio.Event()

    async def slow(_params: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {}

    p = WirePlugin("lifecycle", 0, {"request_lifecycle_plugin": True}, {abi.REQUEST_COMPLETE: slow})
    record = {"RequestID": "request-1", "Outcome": "succeeded", "Metadata": {"nested": {"value": "original"}}}
    rules.complete(wire_host(p), record)
    record["Outcome"] = "changed"
    await asyncio.sleep(0)
    assert len(p.called(abi.REQUEST_COMPLETE)) == 1  # asked, not awaited
    release.set()
    await asyncio.sleep(0)
    sent = p.called(abi.REQUEST_COMPLETE)[0]
    assert sent["Outcome"] == "succeeded" and sent["Metadata"] == {"nested": {"value": "original"}}
