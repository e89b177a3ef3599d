"""Antigravity reasoning replay end to end: a Chat Completions client (the ``openai`` SDK)
in a tool loop on a Gemini 3 model behind the fake Cloud Code server.

The client keeps no ``thoughtSignature`` (it sends its history back as plain Chat
messages), so without the replay every model turn would go back with the validator-skip
sentinel. The fake signs each answer's first call with a new signature; these tests look
at what turn 2 and later turns carry upstream (CPA
``antigravity_reasoning_replay.go``; ported cases in
``tests/providers/test_antigravity_replay.py``).
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"
OTHER_KEY = "sk-proxy-second-caller"
PROMPT = "FAKE_TOOL=bash run it"
TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]
BYPASS = "skip_thought_signature_validator"


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    p = await start_proxy(f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n')
    p.fakes = fakes
    return p


async def chat(client: openai.AsyncOpenAI, messages: list[Any], stream: bool) -> tuple[str, list[Any]]:
    """(text, tool calls as Chat messages carry them back) of one turn."""
    if not stream:
        answer = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
        msg = answer.choices[0].message
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in msg.tool_calls or ()
        ]
        return msg.content or "", calls
    text: list[str] = []
    calls_by_index: dict[int, dict[str, Any]] = {}
    stream_ = await client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, stream=True)
    async for chunk in stream_:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
        for tc in delta.tool_calls or ():
            slot = calls_by_index.setdefault(
                tc.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
            slot["id"] = tc.id or slot["id"]
            if tc.function is not None:
                slot["function"]["name"] += tc.function.name or ""
                slot["function"]["arguments"] += tc.function.arguments or ""
    return "".join(text), [calls_by_index[i] for i in sorted(calls_by_index)]


def sent_call_signatures(fakes: Any) -> list[str | None]:
    """The signature on each model turn's first call, in the last request upstream."""
    out: list[str | None] = []
    for content in fakes.gemini.last.json["request"]["contents"]:
        calls = [p for p in content.get("parts") or () if "functionCall" in p]
        if content.get("role") == "model" and calls:
            out.append(calls[0].get("thoughtSignature"))
    return out


async def tool_turn(client: openai.AsyncOpenAI, messages: list[Any], stream: bool) -> None:
    """One turn that ends in a call: its call and a tool result join ``messages``."""
    _, calls = await chat(client, messages, stream)
    assert calls and calls[0]["function"]["name"] == "bash"
    assert json.loads(calls[0]["function"]["arguments"]) == {"command": "echo FAKE_TOOL_OK"}
    messages.append({"role": "assistant", "content": None, "tool_calls": calls})
    messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": "FAKE_TOOL_OK"})


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_tool_loop_gets_turn_one_signature_back(proxy: Any, stream: bool) -> None:
    fakes = proxy.fakes
    fakes.gemini.check_signatures = True
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await tool_turn(client, messages, stream)
        first = fakes.gemini.issued[-1]
        text, _ = await chat(client, messages, stream)
    assert text == "Tool result received: FAKE_TOOL_OK"
    assert sent_call_signatures(fakes) == [first]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_grown_history_keeps_every_turns_signature(proxy: Any, stream: bool) -> None:
    """Two tool loops: the last request carries both calls' signatures, each on its own
    call (the chain grows with the conversation, CPA's replace-by-descendant)."""
    fakes = proxy.fakes
    fakes.gemini.check_signatures = True
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await tool_turn(client, messages, stream)
        text, _ = await chat(client, messages, stream)
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": PROMPT + " again"})
        await tool_turn(client, messages, stream)
        assert sent_call_signatures(fakes) == [fakes.gemini.issued[0]]
        await chat(client, messages, stream)
    assert sent_call_signatures(fakes) == fakes.gemini.issued[:2]


async def test_two_callers_never_share_signatures(proxy: Any) -> None:
    """The same conversation under another proxy API key finds nothing of the first's: its
    turn 2 goes with the sentinel (CPA would share one session across client keys)."""
    fakes = proxy.fakes
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await tool_turn(client, messages, False)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER_KEY, max_retries=0) as other:
        await chat(other, messages, False)
    assert sent_call_signatures(fakes) == [BYPASS]


async def test_a_refused_signature_forgets_the_session(proxy: Any) -> None:
    """Cloud Code refusing the put-back signature (here: it no longer knows it) answers the
    client with the 400, and the session is forgotten: the retry goes with the sentinel
    and is served (CPA clearAntigravityReasoningReplayOnInvalidSignature)."""
    fakes = proxy.fakes
    fakes.gemini.check_signatures = True
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await tool_turn(client, messages, False)
        fakes.gemini.issued.clear()  # the signatures it gave are void now
        with pytest.raises(openai.BadRequestError) as err:
            await chat(client, messages, False)
        assert "signature" in str(err.value).lower()
        text, _ = await chat(client, messages, False)
    assert text == "Tool result received: FAKE_TOOL_OK"
    assert sent_call_signatures(fakes) == [BYPASS]
