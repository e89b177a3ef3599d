"""A Responses WebSocket turn's ``response.completed`` output reconciled with the output items
it streamed (CPA ``restoreResponsesWebsocketCompletionOutput``), and the next turn built on
the result, through a running proxy: the fake Codex upstream plays scripted turns over HTTP
(``raw_streams``) or over its own socket (``ws_frames``).

Over HTTP the Codex provider fills an empty output first (CPA's Codex executor over HTTP does
the same), with every done item; over Codex's own socket it leaves the output as it came (CPA's
socket executor passes it to a WebSocket client untouched) and the session fills it, leaving
out an incomplete tool call (also tested in tests/formats/test_responses_ws_output.py).
``response.incomplete`` is no completion: the socket closes after it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.test_responses_ws import TERMINAL, connect, ws_config, ws_messages

USAGE = {
    "input_tokens": 1,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 1,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 2,
}
USER = {"type": "message", "id": "user-1", "role": "user", "content": "run pwd"}
REPLY = {
    "type": "message",
    "id": "msg-1",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "ok"}],
}
CUSTOM = {
    "type": "custom_tool_call",
    "id": "ctc-1",
    "call_id": "call-1",
    "name": "exec",
    "input": "pwd",
    "status": "completed",
}


def _created(rid: str) -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": rid, "status": "in_progress", "output": []}}


def _done(item: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.output_item.done", "item": item}
    if index is not None:
        event["output_index"] = index
    return event


def _completed(rid: str, output: list[Any], kind: str = "response.completed") -> dict[str, Any]:
    response = {"id": rid, "status": "completed", "output": output, "usage": USAGE}
    return {"type": kind, "response": response}


def _frames(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e) for e in events]


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in events)


async def _turn(ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> list[str]:
    """Send one message; the texts of the events up to a terminal one, as they came."""
    await ws.send_str(json.dumps(message))
    texts: list[str] = []
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
        texts.append(msg.data)
        if json.loads(msg.data)["type"] in (*TERMINAL, "response.done"):
            return texts


def _posted(fake: Any) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.method == "POST"]


async def test_an_empty_output_is_filled_and_its_call_left_pending(start_proxy, fakes) -> None:
    """CPA TestForwardResponsesWebsocketRestoresAndForwardsCompletedOutput and
    TestResponsesWebsocketOutputCollectorRestoresCompletedOutput, over the upstream socket:
    the done items fill the empty output, by ``output_index`` and then the one without;
    the call is left pending, so a ``response.create`` that answers it without
    ``previous_response_id`` continues the turn on the kept socket."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    call = {"type": "function_call", "id": "call-1", "call_id": "call-1", "name": "exec", "arguments": "{}"}
    fake.ws_frames = _frames(
        _created("resp-1"),
        _done({"type": "message", "id": "reply-1", "role": "assistant", "content": []}, 1),
        _done({"type": "reasoning", "id": "summary-1", "summary": []}, 0),
        _done(call),
        _completed("resp-1", []),
    )
    answer = {"type": "function_call_output", "call_id": "call-1", "output": "ok"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = [
            json.loads(t)
            for t in await _turn(ws, {"type": "response.create", "model": "codex-model", "input": "go"})
        ]
        fake.ws_frames = _frames(_created("resp-2"), _completed("resp-2", [REPLY]))
        second = await _turn(ws, {"type": "response.create", "input": [answer]})
    assert [e["type"] for e in first[1:4]] == ["response.output_item.done"] * 3
    assert first[-1]["type"] == "response.completed"
    assert [i["id"] for i in first[-1]["response"]["output"]] == ["summary-1", "reply-1", "call-1"]
    assert json.loads(second[-1])["type"] == "response.completed"
    sent = ws_messages(fake)[-1].json
    assert sent["previous_response_id"] == "resp-1" and sent["input"] == [answer]


async def test_a_tool_call_the_stream_sent_whole_replaces_the_completed_one(start_proxy, fakes) -> None:
    """CPA TestRestoreResponsesWebsocketCompletionOutputReconcilesConflictingToolCall: the
    completed output holds a ``function_call`` without arguments where the stream's done
    item was the whole ``custom_tool_call`` of that call id; the client gets the latter, the
    message beside it untouched, and the follow-up naming the response replays it before
    its output (to an HTTP upstream, without ``previous_response_id``). Before, the client
    and the replayed transcript got the broken call."""
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    fake = fakes.responses
    broken = {"type": "function_call", "call_id": "call-1", "name": "exec"}
    fake.raw_streams = [_sse(_created("resp-1"), _done(CUSTOM, 0), _completed("resp-1", [REPLY, broken]))]
    answer = {"type": "custom_tool_call_output", "call_id": "call-1", "output": "ok"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
        second = await _turn(
            ws, {"type": "response.create", "previous_response_id": "resp-1", "input": [answer]}
        )
    output = json.loads(first[-1])["response"]["output"]
    assert output == [REPLY, CUSTOM]
    assert json.loads(second[-1])["type"] == "response.completed", second[-1]
    sent = _posted(fake)[-1]
    assert "previous_response_id" not in sent
    kinds = [(i.get("type"), i.get("call_id")) for i in sent["input"]]
    assert kinds == [
        ("message", None),
        ("message", None),
        ("custom_tool_call", "call-1"),
        ("custom_tool_call_output", "call-1"),
    ]
    assert sent["input"][2]["input"] == "pwd"


async def test_a_consistent_completion_reaches_the_client_byte_for_byte(start_proxy, fakes) -> None:
    """CPA TestRestoreResponsesWebsocketCompletionOutputPreservesNonEmptyOutput,
    TestResponseCompletedOutputFromPayload and
    TestRestoreResponsesWebsocketCompletionOutputIgnoresIncompleteCollectedToolCall: a
    non-empty output is kept whatever the done items
    say when no complete call of theirs differs from it (an incomplete one never counts),
    and the event is the upstream's own text, not serialised again."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    loose_call = {"type": "function_call", "id": "call-1", "call_id": "call-1"}
    first_done = _frames(_completed("resp-1", [{**REPLY, "id": "out-1"}]))[0]
    fake.ws_frames = [*_frames(_created("resp-1"), _done(loose_call, 0)), first_done]
    incomplete = {"type": "custom_tool_call", "call_id": "call-1", "name": "exec"}
    second_done = _frames(
        _completed("resp-2", [{"type": "function_call", "call_id": "call-1", "name": "exec"}])
    )[0]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": "go"})
        fake.ws_frames = [*_frames(_created("resp-2"), _done(incomplete, 0)), second_done]
        second = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
    assert first[-1] == first_done
    assert second[-1] == second_done


async def test_response_done_ends_the_turn_and_is_built_on(start_proxy, fakes) -> None:
    """CPA TestForwardResponsesWebsocketTreatsResponseDoneAsTerminalWithoutRewriting, over
    the upstream socket: ``response.done`` ends the turn, its output untouched, and is what
    the next turn builds on (here the upstream dropped its socket, so the follow-up naming
    the response goes whole, the output replayed), with no call left pending.

    Deliberate difference: the client reads it as ``response.completed``. The Codex socket
    provider renames it, as CPA's Codex executor does for its other clients; CPA's executor
    passes it to a WebSocket client as it came (providers/codex_ws_wire.py)."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    fake.ws_close_after_turn = True
    out = {
        "type": "message",
        "id": "out-1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "x"}],
    }
    fake.ws_frames = _frames(_created("resp-1"), _completed("resp-1", [out], kind="response.done"))
    user = {"type": "message", "role": "user", "content": "next"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": "go"})
        fake.ws_frames = _frames(_created("resp-2"), _completed("resp-2", [REPLY]))
        second = await _turn(
            ws, {"type": "response.create", "previous_response_id": "resp-1", "input": [user]}
        )
    done = json.loads(first[-1])
    assert done["type"] == "response.completed" and done["response"]["output"] == [out]
    assert json.loads(second[-1])["type"] == "response.completed", second[-1]
    sent = ws_messages(fake)[-1].json
    assert "previous_response_id" not in sent
    assert [i.get("role") for i in sent["input"]] == ["user", "assistant", "user"]
    assert sent["input"][1]["content"] == out["content"]


async def test_a_call_only_the_stream_showed_is_repaired_and_pending(start_proxy, fakes) -> None:
    """CPA TestRecordResponsesWebsocketCustomToolCallsFromOutputItemDoneWithCache and
    recordPendingToolCallIDsFromPayload: a complete call streamed in a done event but left
    out of a non-empty completed output still joins the socket's tool ledger (and is left
    pending: tests/formats/test_responses_ws_output.py). Over an HTTP upstream, a client that answers it in a resent transcript gets the
    call put back before its output (before, the output was dropped as an orphan)."""
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    fake = fakes.responses
    fake.pairs_tools = True
    fake.raw_streams = [
        _sse(_created("resp-1"), _done(REPLY, 0), _done(CUSTOM, 1), _completed("resp-1", [REPLY]))
    ]
    answer = {"type": "custom_tool_call_output", "call_id": "call-1", "output": "done"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
        second = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER, answer]})
    assert json.loads(first[-1])["response"]["output"] == [REPLY]
    assert json.loads(second[-1])["type"] == "response.completed", second[-1]
    sent = _posted(fake)[-1]["input"]
    assert [(i.get("type"), i.get("call_id")) for i in sent][-2:] == [
        ("custom_tool_call", "call-1"),
        ("custom_tool_call_output", "call-1"),
    ]


async def test_an_incomplete_call_is_left_out_of_an_empty_output_on_the_socket(start_proxy, fakes) -> None:
    """CPA TestResponseCompletedOutputFromPayloadDropsIncompleteCollectedToolCalls and
    TestRecordResponsesWebsocketToolCallsIgnoresIncompleteCall, over Codex's own socket (CPA's
    socket executor passes the empty output on untouched, its handler fills it): the done
    items fill it without the ``function_call`` that has no ``arguments``, and the follow-up
    that replays the turn (the upstream dropped its socket) carries the complete items only.
    The usage details the completion left out are still filled (CPA
    EnsureResponsesUsageDetails). Before, the provider filled the output with every item, so
    the client and the replayed transcript got the incomplete call."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    fake.ws_close_after_turn = True
    incomplete = {"type": "function_call", "id": "fc-0", "call_id": "call-0", "name": "exec"}
    call = {"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "exec", "arguments": "{}"}
    completed = _completed("resp-1", [])
    completed["response"]["usage"] = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    fake.ws_frames = _frames(
        _created("resp-1"), _done(REPLY, 0), _done(incomplete, 1), _done(call, 2), completed
    )
    answer = {"type": "function_call_output", "call_id": "call-1", "output": "ok"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
        fake.ws_frames = _frames(_created("resp-2"), _completed("resp-2", [REPLY]))
        second = await _turn(
            ws, {"type": "response.create", "previous_response_id": "resp-1", "input": [answer]}
        )
    response = json.loads(first[-1])["response"]
    assert response["output"] == [REPLY, call]
    assert response["usage"]["output_tokens_details"] == {"reasoning_tokens": 0}
    assert json.loads(second[-1])["type"] == "response.completed", second[-1]
    sent = ws_messages(fake)[-1].json
    assert "previous_response_id" not in sent
    assert [(i["type"], i.get("call_id")) for i in sent["input"]] == [
        ("message", None),
        ("message", None),
        ("function_call", "call-1"),
        ("function_call_output", "call-1"),
    ]


@pytest.mark.parametrize("websockets", [True, False], ids=["upstream-socket", "http"])
async def test_response_incomplete_is_passed_on_then_the_socket_closes(
    start_proxy, fakes, websockets: bool
) -> None:
    """CPA forwardResponsesWebsocket (isResponsesWebsocketCompletionEvent: only
    ``response.completed`` / ``done``) and TestResponsesWebsocketReleasesPinnedAuthAfterStreamClosed408:
    ``response.incomplete`` reaches the client, but the turn never completed, so the socket
    ends instead of waiting for a next turn that would build on it. Before, it stayed open
    as after a completion.

    Deliberate difference: CPA drops the connection without a close frame; here it closes
    with 1011 and a reason, as any turn that ends without ``response.completed`` does."""
    proxy = await start_proxy(ws_config(fakes, websockets=websockets))
    fake = fakes.responses
    incomplete = {
        "type": "response.incomplete",
        "response": {
            "id": "resp-1",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [],
            "usage": USAGE,
        },
    }
    events = (_created("resp-1"), _done(REPLY, 0), incomplete)
    if websockets:
        fake.ws_frames = _frames(*events)
    else:
        fake.raw_streams = [_sse(*events)]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        texts = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": [USER]})
        msg = await ws.receive(timeout=5)
    assert json.loads(texts[-1])["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert msg.type is aiohttp.WSMsgType.CLOSE, (msg.type, msg.data)
    assert ws.close_code == 1011 and "response.incomplete" in str(msg.extra)
