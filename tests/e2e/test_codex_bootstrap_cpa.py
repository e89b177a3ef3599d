"""CPA internal/runtime/executor/codex_stream_bootstrap_buffering_test.go, the cases the
HTTP ones in test_bootstrap.py leave: the buffer's event limit, and the Codex WebSocket
executor's cases, with a client on the Responses WebSocket and Codex keys that allow
upstream sockets (``ws_frames`` scripts the first turn on the fake Codex socket upstream,
tests/fakes/openai_responses.py).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_bootstrap import INVALID, _codex, _keys, _raw_stream
from tests.e2e.test_codex_ws_cpa import config, events_until_end
from tests.e2e.test_responses_ws import connect, ws_messages
from tests.fakes.openai_responses import OVERLOADED

CREATED = {
    "type": "response.created",
    "response": {"id": "resp_1", "model": "gpt-5.4", "status": "in_progress"},
}
IN_PROGRESS = {"type": "response.in_progress", "response": {"id": "resp_1", "status": "in_progress"}}
ADDED = {
    "type": "response.output_item.added",
    "output_index": 0,
    "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
}
DONE = {
    "type": "response.completed",
    "response": {
        "id": "resp_1",
        "status": "completed",
        "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    },
}
PRIVATE = [
    {"type": "codex.rate_limits", "rate_limits": {"primary": {"used_percent": 1}}},
    {"type": "codex.response.metadata", "metadata": {"conversation_id": "conv_1"}},
]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def test_a_long_handshake_still_fails_over(start_proxy: Any, fakes: Any) -> None:
    """CPA: TestCodexExecutor_BootstrapBuffering_BufferLimitReleasesStream. Deliberate
    difference: CPA holds at most 16 events before the first output and then lets the
    stream go, so an overload after them reaches the client in the stream; here the hold
    lasts until the first output however many handshake events come (each read is bounded
    by the upstream idle timeout, the events are small), so the overload still fails over
    and the client gets the other key's answer."""
    proxy = await start_proxy(_codex(fakes, buffering=True))
    handshake = [{"type": "response.in_progress", "response": {"id": f"resp_{i}"}} for i in range(17)]
    fakes.responses.raw_streams = [b"".join(_sse(e) for e in [*handshake, OVERLOADED])]
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert b"server_is_overloaded" not in raw and b"response.completed" in raw
    keys = _keys(fakes)
    assert len(keys) == 2 and len(set(keys)) == 2


async def _ws_turn(proxy: Any) -> tuple[list[dict[str, Any]], int | None]:
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": "hi"}))
        return await events_until_end(ws)


@pytest.mark.parametrize("private", [False, True], ids=["handshake", "private-frames-first"])
async def test_socket_overload_fails_over_without_leaking_the_handshake(
    start_proxy: Any, fakes: Any, private: bool
) -> None:
    """CPA: TestCodexWebsocketsExecutor_BootstrapBuffering_OverloadFailsAttempt,
    TestCodexWebsocketsExecutor_BootstrapBuffering_PrivateHandshakeFramesDoNotExhaustWindow,
    TestCodexWebsocketsExecutor_BootstrapOverload_DoesNotNotifyDownstreamDisconnect: an
    overload after the upstream socket's handshake (and Codex's private frames) fails that
    key's attempt before anything reaches the client; the client's socket stays open and
    gets the other key's answer, with one ``response.created``."""
    proxy = await start_proxy(config(fakes, keys=2, extra="codex:\n  stream-bootstrap-buffering: true\n"))
    frames = [*(PRIVATE if private else []), CREATED, IN_PROGRESS, OVERLOADED]
    fakes.responses.ws_frames = [json.dumps(f) for f in frames]
    events, closed = await _ws_turn(proxy)
    kinds = [e["type"] for e in events]
    assert closed is None and kinds[-1] == "response.completed", events
    assert kinds.count("response.created") == 1 and "error" not in kinds
    assert len({r.key for r in ws_messages(fakes.responses)}) == 2


async def test_socket_handshake_goes_before_the_first_output(start_proxy: Any, fakes: Any) -> None:
    """CPA: TestCodexWebsocketsExecutor_BootstrapBuffering_FlushesInOrderOnFirstOutput."""
    proxy = await start_proxy(config(fakes, extra="codex:\n  stream-bootstrap-buffering: true\n"))
    fakes.responses.ws_frames = [json.dumps(f) for f in (CREATED, IN_PROGRESS, ADDED, DONE)]
    events, _ = await _ws_turn(proxy)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.completed",
    ]


async def test_socket_request_fault_is_not_tried_elsewhere(start_proxy: Any, fakes: Any) -> None:
    """CPA: TestCodexWebsocketsExecutor_BootstrapBuffering_NonOverloadStaysInStream,
    TestCodexWebsocketsExecutor_BootstrapNonOverload_StillNotifiesDownstreamDisconnect: an
    invalid-request failure is the client's answer, from the one key (no other is tried).
    Deliberate difference in the framing, as over HTTP (test_bootstrap.py): nothing reached
    the client yet, so it gets the error event alone, without the held handshake."""
    proxy = await start_proxy(config(fakes, keys=2, extra="codex:\n  stream-bootstrap-buffering: true\n"))
    fakes.responses.ws_frames = [json.dumps(f) for f in (CREATED, IN_PROGRESS, INVALID)]
    events, _ = await _ws_turn(proxy)
    assert [e["type"] for e in events] == ["error"]
    assert "Invalid input." in json.dumps(events[-1])
    assert len(ws_messages(fakes.responses)) == 1


async def test_unbuffered_socket_overload_stays_in_the_stream(start_proxy: Any, fakes: Any) -> None:
    """CPA: TestCodexWebsocketsExecutor_BootstrapBuffering_DefaultDisabledPassthrough (CPA's
    default; ours only when set to false): the handshake goes to the client at once and
    the overload follows it in the stream; no other key is tried."""
    proxy = await start_proxy(config(fakes, keys=2, extra="codex:\n  stream-bootstrap-buffering: false\n"))
    fakes.responses.ws_frames = [json.dumps(f) for f in (CREATED, OVERLOADED)]
    events, _ = await _ws_turn(proxy)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "error", events
    assert len(ws_messages(fakes.responses)) == 1
