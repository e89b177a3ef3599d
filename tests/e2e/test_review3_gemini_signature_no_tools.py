"""A Chat client's follow-up that sends its tool results without ``tools`` (a loop's last
step asking for the final answer: many agents drop the tool list there) on a Gemini API
model: the call in that request's current turn still gets its kept thought signature
back. eff3902 made the signature replay's carrier skip every request without ``tools``
("no call to restore"), so such a request reached Gemini with the validator-skip sentinel
and Gemini 3 answered without the turn's reasoning, as before cf7d596."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.fid_upstream import SIGS, ScriptedUpstream, config
from tests.e2e.test_fidelity_chat_gemini_signature import (
    _client,
    _history,
    _scene,
    _sent_signature,
    _turn_one,
)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_tool_result_without_tools_gets_its_call_signed(start_proxy: Any, stream: bool) -> None:
    async with ScriptedUpstream() as up:
        up.scene = _scene()
        proxy = await start_proxy(config(up.url, KEY))
        async with _client(proxy.url) as c:
            ident, args, _ = await _turn_one(c, stream=stream)
            await c.chat.completions.create(model="up-gemini", messages=_history(ident, args))  # no tools
        assert "tools" not in up.requests[-1]
        assert _sent_signature(up) == SIGS["gemini"]
