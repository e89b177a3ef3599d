"""Tool-call repair across turns on the Responses WebSocket (CPA
``repairResponsesWebsocketToolCalls``), through a running proxy: a client that resends its
transcript with one half of a tool call missing gets the other half put back from the
socket's earlier turns, or the lone half dropped, instead of the upstream's 400. The fake
Codex upstream refuses unpaired calls and outputs as the real API does
(``pairs_tools``).

Deliberate difference: CPA keeps the tool calls per client session header (shared by the
sockets open under it, and only when the client sends one); here each socket keeps its
own, always, so a client without session headers is repaired too and no state is shared
between worker processes."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_responses_ws import connect, text_of, turn, ws_config, ws_messages

TOOLS = [{"type": "function", "name": "shell", "parameters": TOOL_SCHEMA}]


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def _sent(fake: Any) -> list[dict[str, Any]]:
    """The bodies the fake got over HTTP (SSE) and over its socket, in order."""
    return [r.json for r in fake.requests if r.method in ("POST", "WS")]


async def test_a_resent_transcript_gets_its_missing_call_and_output_back(start_proxy, fakes) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsInsertsCachedCallForOrphanOutput and
    ...InsertsCachedOutput, end to end over an HTTP upstream: turn 1 makes a call; turn 2
    resends the transcript with the call's output but not the call, which goes back in
    before it; turn 3 resends it with the call but not the output, which goes back in
    after it. Before, each was refused by the upstream with a 400."""
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    fake = fakes.responses
    fake.pairs_tools = True
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "tools": TOOLS,
                "input": [_user("FAKE_TOOL go")],
            },
        )
        call = next(i for i in first[-1]["response"]["output"] if i["type"] == "function_call")
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": "FAKE_TOOL_OK"}
        second = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "tools": TOOLS,
                "input": [_user("FAKE_TOOL go"), _assistant("running it"), output],
            },
        )
        assert second[-1]["type"] == "response.completed", second[-1]
        assert text_of(second) == "Tool result received: FAKE_TOOL_OK"
        upstream = _sent(fake)[-1]["input"]
        assert [i["type"] for i in upstream[-2:]] == ["function_call", "function_call_output"]
        assert upstream[-2]["call_id"] == call["call_id"] and upstream[-2]["arguments"] == call["arguments"]

        third = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "tools": TOOLS,
                "input": [_user("FAKE_TOOL go"), _assistant("running it"), call, _user("thanks")],
            },
        )
    assert third[-1]["type"] == "response.completed", third[-1]
    upstream = _sent(fake)[-1]["input"]
    kinds = [i["type"] for i in upstream]
    at = kinds.index("function_call")
    assert kinds[at + 1] == "function_call_output" and upstream[at + 1]["output"] == "FAKE_TOOL_OK"
    assert upstream[-1]["role"] == "user"


async def test_an_orphan_output_is_dropped_on_the_upstream_socket(start_proxy, fakes) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsDropsOrphanOutputWhenCallMissing and
    ...DropsOrphanFunctionCall, end to end over the upstream's socket: a first message
    carrying a tool output and a call nobody answered, on a socket that knows neither,
    goes up without them and completes. Before, the upstream refused it (400) and the
    socket closed."""
    proxy = await start_proxy(ws_config(fakes))
    fake = fakes.responses
    fake.pairs_tools = True
    orphan = {"type": "function_call_output", "call_id": "call_gone", "output": "stale"}
    lone = {"type": "function_call", "call_id": "call_open", "name": "shell", "arguments": "{}"}
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(
            ws,
            {
                "type": "response.create",
                "model": "codex-model",
                "input": [_user("hello"), _assistant("hi"), lone, orphan, _user("again")],
            },
        )
    assert events[-1]["type"] == "response.completed", events[-1]
    upstream = ws_messages(fake)[-1].json["input"]
    assert [i.get("role") for i in upstream] == ["user", "assistant", "user"]


async def test_a_transcript_resent_after_a_compaction_is_sent_as_it_is(start_proxy, fakes) -> None:
    """CPA TestResponsesWebsocketCompactionResetsTurnStateOnCustomToolTranscriptReplacement
    and TestResponsesWebsocketCompactionResetsTurnStateOnTranscriptReplacement: after the
    client compacts over HTTP (``/v1/responses/compact``), its next message resends the
    transcript, a tool call and its output first: that goes upstream as the whole input,
    nothing of the socket's earlier turns merged in front."""
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    call_kinds = (("custom_tool_call", "custom_tool_call_output"), ("function_call", "function_call_output"))
    for call, output in call_kinds:
        async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
            await turn(ws, {"type": "response.create", "model": "codex-model", "input": [_user("one")]})
            lone = {"type": output, "call_id": "call-1", "id": "tool-out-1", "output": "ok"}
            await turn(ws, {"type": "response.create", "input": [lone]})
            async with s.post(
                proxy.url + "/v1/responses/compact",
                json={"model": "codex-model", "input": [_user("summary")]},
                headers={"Authorization": f"Bearer {KEY}"},
            ) as resp:
                assert resp.status == 200, await resp.text()
            named = (
                {"name": "apply_patch", "input": "x"}
                if call == "custom_tool_call"
                else {"name": "shell", "arguments": "{}"}
            )
            resent = [
                {"type": call, "id": "c-compact", "call_id": "call-1", **named},
                {"type": output, "id": "tool-out-compact", "call_id": "call-1", "output": "ok"},
                {**_user("two"), "id": "msg-2"},
            ]
            events = await turn(ws, {"type": "response.create", "input": resent})
            assert events[-1]["type"] == "response.completed"
        sent = _sent(fakes.responses)[-1]["input"]  # (item ids as Codex takes them)
        assert [(i["type"], i.get("call_id")) for i in sent] == [
            (call, "call-1"),
            (output, "call-1"),
            ("message", None),
        ]
