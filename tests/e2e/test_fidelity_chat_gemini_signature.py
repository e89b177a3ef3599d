"""A Chat Completions client that does not carry Gemini's thought signature, on a Gemini
API model: the signature of the call it made should come back on the next turn.

Gemini 3 signs the first ``functionCall`` of a turn (``thoughtSignature``) and wants it
back in the history; without it Gemini refuses the request, and with the validator-skip
sentinel (what the proxy writes when nothing better is known) it goes on without the
turn's reasoning. A Chat client gets the signature in ``tool_calls[].extra_content.google.
thought_signature`` (Google's OpenAI-compatible spelling), which many Chat clients
(opencode's ai-sdk, any client that rebuilds its tool calls) do not send back. Claude and
Codex upstreams have a replay for such a client (kept per caller API key); Antigravity's
Gemini models have one too (``providers.antigravity_replay``). A Gemini API key (or Gemini
CLI OAuth) upstream has none, so the next turn reaches Gemini with the sentinel.

Strict xfail: a replay for Gemini API upstreams is a feature of its own (a cache, its Redis
mirror, refusal handling, as Antigravity's); this pins what a client sees until then.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import SIGS, Call, Scene, ScriptedUpstream, config

TOOLS: Any = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]


@pytest.mark.xfail(strict=True, reason="no thought-signature replay for Gemini API upstreams yet")
async def test_chat_client_that_drops_the_signature_gets_it_back(start_proxy: Any) -> None:
    async with ScriptedUpstream() as up:
        up.scene = Scene(
            thinking="let me think",
            signed=True,
            calls=[Call("call_A1", "bash", ['{"command":"A"}'])],
            stop="tool",
        )
        proxy = await start_proxy(config(up.url, KEY))
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as c:
            msgs: list[Any] = [{"role": "user", "content": "run A"}]
            first = await c.chat.completions.create(model="up-gemini", messages=msgs, tools=TOOLS)
            [call] = first.choices[0].message.tool_calls or []
            msgs += [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [  # rebuilt, as most clients do: no extra_content
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": "bash", "arguments": call.function.arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": call.id, "content": "done"},
            ]
            await c.chat.completions.create(model="up-gemini", messages=msgs, tools=TOOLS)
        model_turn = up.requests[-1]["contents"][1]
    [part] = [p for p in model_turn["parts"] if "functionCall" in p]
    assert part["thoughtSignature"] == SIGS["gemini"]
