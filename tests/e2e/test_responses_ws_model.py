"""The model a Responses WebSocket client reads when its Codex upstream names none, through
a running proxy with a real WebSocket client: the fake Codex upstream plays scripted turns
over its own socket (``ws_frames``) or over HTTP (``raw_streams``)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.test_responses_ws import connect, ws_config
from tests.e2e.test_responses_ws_output import REPLY, _completed, _created, _frames, _sse, _turn

MORE = {"type": "message", "role": "user", "content": "more"}


def _in_progress(rid: str) -> dict[str, Any]:
    return {"type": "response.in_progress", "response": {"id": rid, "status": "in_progress", "output": []}}


def _script(fake: Any, upstream_ws: bool, rid: str) -> str:
    """Give the fake one turn whose snapshots name no model; the completed event's bytes."""
    events = (_created(rid), _in_progress(rid), _completed(rid, [REPLY]))
    if upstream_ws:
        fake.ws_frames = _frames(*events)
        return fake.ws_frames[-1]
    fake.raw_streams = [_sse(*events)]
    return orjson.dumps(events[-1]).decode()


@pytest.mark.parametrize("upstream_ws", [True, False], ids=["codex-socket", "codex-http"])
async def test_snapshots_without_a_model_name_the_asked_one(start_proxy, fakes, upstream_ws: bool) -> None:
    """CPA TestConvertCodexResponseToOpenAIResponses_CreatedIncludesOriginalRequestModel on
    CPA's WebSocket path: its Codex executors (over HTTP and over Codex's own socket alike)
    run each upstream line through the Codex to Responses translator, which fills the asked
    model into ``response.created`` / ``response.in_progress``; a WebSocket client's turns
    go through the same stream pass-through here (``replies_stream``). So both opening
    snapshots name the model the client asked for (the alias, not the upstream name), on
    the first turn and on a follow-up that names no model (continued on the kept socket),
    while ``response.completed`` is the upstream's own bytes (tests/e2e/
    test_responses_ws_output.py). No behaviour change: this guards the WebSocket path."""
    proxy = await start_proxy(ws_config(fakes, websockets=upstream_ws))
    fake = fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        completed = _script(fake, upstream_ws, "resp-1")
        first = await _turn(ws, {"type": "response.create", "model": "codex-model", "input": "go"})
        completed_2 = _script(fake, upstream_ws, "resp-2")
        second = await _turn(
            ws, {"type": "response.create", "previous_response_id": "resp-1", "input": [MORE]}
        )
    for texts, last in ((first, completed), (second, completed_2)):
        events = [json.loads(t) for t in texts]
        assert [(e["type"], e["response"].get("model")) for e in events[:2]] == [
            ("response.created", "codex-model"),
            ("response.in_progress", "codex-model"),
        ]
        assert texts[-1] == last and "model" not in events[-1]["response"]
