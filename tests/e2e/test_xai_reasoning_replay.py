"""xAI reasoning replay through a running proxy: clients that do not carry Grok's
encrypted reasoning get it back on their next turn (CPA
``applyXAIReasoningReplayCacheRequired``).

Clients are the official SDKs (and aiohttp for the Responses WebSocket); the upstream is
the fake OpenAI server in its xAI role, which issues xAI-shaped ``encrypted_content`` to
``grok-*`` models (``fake.grok_reasoning``, a new one each answer):

* a Chat Completions client's tool loop: turn 2 reaches xAI with turn 1's reasoning in
  front of the function call, whole and streamed;
* a caller with another proxy API key never gets it, even naming the same session;
* with two workers on one Redis, turn 2 on the other worker gets it too;
* a Responses WebSocket message that names a ``previous_response_id`` gets none.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_responses_ws import connect, turn
from tests.e2e.test_shared_state import shared
from tests.e2e.tool_loop import PROMPT, chat_second_turn, chat_turns, kinds

OTHER_KEY = "sk-proxy-other-caller"
MODEL = "grok-4.3"


@pytest.fixture
async def proxy(start_proxy: Any, fake_openai: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n'
        f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    )
    p.fake = fake_openai
    return p


def sent_input(fake: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = fake.last.json["input"]
    return items


def reasoning(items: list[dict[str, Any]]) -> list[str]:
    return [
        i["encrypted_content"] for i in items if i.get("type") == "reasoning" and i.get("encrypted_content")
    ]


chat_turn = chat_turns(MODEL)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_tool_loop_gets_grok_reasoning_back(proxy: Any, stream: bool) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await chat_turn(client, [{"role": "user", "content": PROMPT}], stream)
        assert kinds(sent_input(proxy.fake)) == ["message"]  # nothing cached yet
        issued = proxy.fake.grok_reasoning
        second = await chat_turn(client, chat_second_turn(first), stream)
    assert second.choices[0].message.content == "Tool result received: FAKE_TOOL_OK"
    sent = sent_input(proxy.fake)
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == {"type": "reasoning", "summary": [], "encrypted_content": issued}
    call_id = first.choices[0].message.tool_calls[0].id
    assert sent[2]["call_id"] == sent[3]["call_id"] == call_id


async def test_two_api_keys_never_share_reasoning(proxy: Any) -> None:
    """Both callers name one session (``prompt_cache_key``): the second caller's turn goes
    without the first caller's reasoning; the first caller's own next turn gets it."""
    history = [{"role": "user", "content": "hello"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as mine:
        first = await chat_turn(mine, history, False, prompt_cache_key="shared-session")
        issued = proxy.fake.grok_reasoning
        history += [
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "more"},
        ]
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER_KEY, max_retries=0) as other:
            await chat_turn(other, history, False, prompt_cache_key="shared-session")
            assert reasoning(sent_input(proxy.fake)) == []
        await chat_turn(mine, history, False, prompt_cache_key="shared-session")
    assert reasoning(sent_input(proxy.fake)) == [issued]


async def test_turn_two_on_another_worker_gets_the_reasoning(
    start_proxy: Any, fake_openai: Any, redis_server: Any
) -> None:
    """Two services on one Redis: turn 1 through A, turn 2 through B; B fetches the turn A
    copied there (off A's request path: waited for here) before it builds the request."""
    text = f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    text += shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], False)
        issued = fake_openai.grok_reasoning
        client = b.service.state.client
        for _ in range(100):
            if [k async for k in client.scan_iter(match="e2e:rp|*")]:
                break
            await asyncio.sleep(0.02)
        assert len(b.service.providers.get("xai").replay) == 0  # B holds nothing of its own
        await chat_turn(on_b, chat_second_turn(first), False)
    assert reasoning(sent_input(fake_openai)) == [issued]


# ---------------------------------------------------------------------- Responses WebSocket


async def test_websocket_follow_up_with_previous_response_id_gets_no_replay(proxy: Any) -> None:
    """CPA TestXAIReasoningReplayScopeSkipsIncrementalWebsocketPreviousResponse: a socket
    message naming the previous response gets nothing from the cache: the conversation
    the socket holds (here the proxy's record of it: xAI is reached over HTTP) carries
    that turn, reasoning included, once. (The rule itself, on a history that lacks the
    reasoning: tests/providers/test_xai_reasoning_replay.py.)"""
    first_message = {
        "type": "response.create",
        "model": MODEL,
        "input": "hello",
        "reasoning": {"effort": "high"},
    }
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, first_message)
        issued = proxy.fake.grok_reasoning
        rid = events[-1]["response"]["id"]
        again = [{"role": "user", "content": "again"}]
        follow = {"type": "response.create", "model": MODEL, "previous_response_id": rid, "input": again}
        done = await turn(ws, follow)
    assert done[-1]["type"] == "response.completed"
    sent = sent_input(proxy.fake)
    assert reasoning(sent) == [issued]  # the socket's own copy, never a second one
    assert kinds(sent) == ["message", "reasoning", "message", "message"]
