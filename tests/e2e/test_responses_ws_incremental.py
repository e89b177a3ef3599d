"""Incremental follow-ups on a kept upstream Codex socket: the turn is pinned to the
credential whose socket holds the conversation and sends ``previous_response_id`` plus
the new items only; any other credential, or a new socket, gets the whole conversation.

Ported from CPA ``sdk/api/handlers/openai/openai_responses_websocket_test.go``
(``TestResponsesWebsocketHomeSelectedAuthCallbackPinsAndReusesFirstSelection``,
``TestResponsesWebsocketNativePassthroughRequiresImmediatelyPreviousAuth``,
``TestNormalizeResponsesWebsocketRequestWithPreviousResponseIDMergedWhenIncrementalDisabled``).
Where CPA closes the client socket to make the client replay the turn (a pinned
credential that fails, a lost upstream socket), we send the whole conversation ourselves:
the session always has it, so the client never needs to replay.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_responses_ws import connect, turn, ws_config, ws_messages
from tests.fakes.server import Behavior

SECOND_KEY = """
  - api-key: "sk-codex-2"
    base-url: "{base}/backend-api/codex"
    websockets: true
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
"""


@pytest.fixture
async def ws_proxy(start_proxy, fakes):
    proxy = await start_proxy(ws_config(fakes))
    proxy.fakes = fakes
    return proxy


def two_keys(fakes: Any) -> str:
    extra = SECOND_KEY.format(base=fakes.responses.base_url)
    return ws_config(fakes).replace("openai-compatibility:", extra.lstrip("\n") + "openai-compatibility:", 1)


def follow(rid: str, text: str) -> dict[str, Any]:
    return {
        "type": "response.create",
        "previous_response_id": rid,
        "input": [{"type": "message", "role": "user", "content": text}],
    }


async def test_follow_ups_stay_on_the_pinned_credential(start_proxy, fakes):
    """Round-robin over two keys would alternate; the pin keeps every turn of the socket
    on the key whose upstream socket holds the conversation, each one incremental."""
    proxy = await start_proxy(two_keys(fakes))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        second = await turn(ws, follow(first[-1]["response"]["id"], "two"))
        third = await turn(ws, follow(second[-1]["response"]["id"], "three"))
    assert third[-1]["type"] == "response.completed"
    sent = ws_messages(fakes.responses)
    assert len({r.key for r in sent}) == 1 and fakes.responses.ws_opened == 1
    assert "previous_response_id" not in sent[0].json
    assert sent[1].json["previous_response_id"] == first[-1]["response"]["id"]
    assert sent[2].json["previous_response_id"] == second[-1]["response"]["id"]
    assert [len(r.json["input"]) for r in sent] == [1, 1, 1]


async def test_a_failing_pinned_credential_falls_back_to_the_whole_conversation(start_proxy, fakes):
    """CPA TestResponsesWebsocketReplaysImmediatelyAfterPinnedAuthFailure, a deliberate
    difference: the pinned key answers 429; CPA closes the client socket for the client to
    replay the turn, here the next key, which has no socket with the conversation, gets all
    of it (no ``previous_response_id``) at once and the client sees one answer."""
    proxy = await start_proxy(two_keys(fakes))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        pinned = ws_messages(fakes.responses)[0].key
        fakes.responses.script(Behavior(status=429, key=pinned, path="#ws", message="Rate limit reached"))
        second = await turn(ws, follow(first[-1]["response"]["id"], "two"))
    assert second[-1]["type"] == "response.completed"
    sent = ws_messages(fakes.responses)
    assert [r.key for r in sent][:2] == [pinned, pinned] and sent[2].key != pinned
    assert sent[1].json["previous_response_id"] == first[-1]["response"]["id"]
    last = sent[2].json
    assert "previous_response_id" not in last
    assert [(i.get("type"), i.get("role")) for i in last["input"]] == [
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
    ]


async def test_a_lost_upstream_socket_gets_the_whole_conversation_without_a_cooldown(ws_proxy):
    """The upstream closed the kept socket between turns: the follow-up is not sent on a new
    socket as a continuation (the upstream would not know the id); the same credential
    sends the whole conversation on a new socket and stays available. (CPA
    TestCodexAutoExecutorRequiredUpstreamWebsocketRejectsHTTPFallback, a deliberate
    difference: a continuation never goes anywhere but its socket, as there, but where
    CPA fails it for the client to replay, the proxy sends the whole conversation itself.)"""
    fake = ws_proxy.fakes.responses
    fake.ws_close_after_turn = True
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        await asyncio.sleep(0.05)
        second = await turn(ws, follow(first[-1]["response"]["id"], "two"))
        await asyncio.sleep(0.05)
        third = await turn(ws, follow(second[-1]["response"]["id"], "three"))
    assert second[-1]["type"] == "response.completed", second
    assert third[-1]["type"] == "response.completed", third
    sent = ws_messages(fake)
    assert all("previous_response_id" not in r.json for r in sent)
    assert [len(r.json["input"]) for r in sent] == [1, 3, 5] and fake.ws_opened == 3


async def test_a_follow_up_naming_another_response_sends_the_whole_conversation(ws_proxy):
    """Only a continuation of the socket's last response is incremental (CPA's
    ``previous_response_id`` must be the immediately previous one); ``response.append``
    on a kept socket is one too."""
    fake = ws_proxy.fakes.responses
    async with aiohttp.ClientSession() as s, await connect(s, ws_proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        second = await turn(ws, follow("resp_somewhere_else", "two"))
        appended = await turn(
            ws, {"type": "response.append", "input": [{"type": "message", "role": "user", "content": "3"}]}
        )
    assert second[-1]["type"] == "response.completed" and appended[-1]["type"] == "response.completed"
    sent = ws_messages(fake)
    assert "previous_response_id" not in sent[1].json and len(sent[1].json["input"]) == 3
    assert sent[2].json["previous_response_id"] == second[-1]["response"]["id"]
    assert len(sent[2].json["input"]) == 1
    assert first[-1]["response"]["id"] != second[-1]["response"]["id"]


async def test_an_sse_upstream_always_gets_the_whole_conversation(start_proxy, fakes):
    """CPA TestResponsesWebsocketMergesTranscriptForNonPassthroughUpstream: without
    ``websockets`` the upstream keeps nothing: every follow-up is expanded."""
    proxy = await start_proxy(ws_config(fakes, websockets=False))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        await turn(ws, follow(first[-1]["response"]["id"], "two"))
    posts = [r for r in fakes.responses.requests if r.method == "POST"]
    assert len(posts) == 2 and "previous_response_id" not in posts[1].json
    assert len(posts[1].json["input"]) == 3


@pytest.mark.parametrize("websockets", [False, True])
async def test_a_compacted_transcript_goes_as_it_is_to_codex_only(start_proxy, fakes, websockets):
    """CPA TestNormalizeSubsequentRequestCompactSkipsMerge,
    TestWebsocketUpstreamSupportsCompactionReplayForModel (over HTTP/SSE),
    TestResponsesWebsocketCodexWebsocketPassthroughPassesCompactedRequestWithoutTranscriptMerge
    (over Codex's socket, with a ``compaction_summary``) and
    TestNormalizeSubsequentRequestCompactMergesWhenCompactionReplayUnsupported, through the
    proxy (was broken: Codex CLI's remote compaction resent on the socket went out merged
    behind the whole old conversation, its compaction item dropped, so compacting shrank
    nothing). A model only Codex serves gets the compacted input as it is, the model carried
    over; a translated upstream, which cannot read the item, gets the history merged in
    front of the new items, the item left out."""
    proxy = await start_proxy(ws_config(fakes, websockets=websockets))
    kind = "compaction_summary" if websockets else "compaction"
    compacted = [
        {"type": "message", "role": "user", "id": "msg-1c", "content": "compacted user msg"},
        {"type": kind, "encrypted_content": "conversation summary"},
    ]
    for model in ("codex-model", "compat-model")[: 1 if websockets else 2]:
        async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
            await turn(ws, {"type": "response.create", "model": model, "input": "original long prompt"})
            await turn(ws, {"type": "response.create", "input": compacted})
    sent = (
        ws_messages(fakes.responses)
        if websockets
        else [r for r in fakes.responses.requests if r.method == "POST"]
    )
    assert len(sent) == 2 and sent[1].json["input"] == compacted and sent[1].json["model"] == "gpt-5.4"
    if not websockets:
        chat = fakes.openai.requests[-1].json["messages"]
        assert [m["role"] for m in chat] == ["user", "assistant", "user"]
        assert chat[-1]["content"] in ("compacted user msg", [{"type": "text", "text": "compacted user msg"}])


async def test_a_turn_for_another_model_leaves_the_pin(start_proxy, fakes):
    """CPA TestResponsesWebsocketSwitchesPinnedAuthAcrossProviders and
    TestResponsesWebsocketPinnedAuthMatchesModel: a client that switches models on one
    socket (Codex CLI's ``/model``) is served by an account of each turn's model, even when
    it names the previous response: the account pinned by the Codex turn serves no
    compat model, so that turn goes whole to the compat upstream, and the turn back to
    Codex, whose socket did not answer the compat turn, goes whole too."""
    proxy = await start_proxy(ws_config(fakes))
    message = [{"type": "message", "role": "user", "content": "two"}]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        rid = first[-1]["response"]["id"]
        second = await turn(
            ws,
            {
                "type": "response.create",
                "model": "compat-model",
                "previous_response_id": rid,
                "input": message,
            },
        )
        assert second[-1]["type"] == "response.completed"
        rid = second[-1]["response"]["id"]
        third = await turn(ws, {**follow(rid, "three"), "model": "codex-model"})
        assert third[-1]["type"] == "response.completed"
    assert [len(r.json["messages"]) for r in fakes.openai.requests] == [3]
    sent = [m.json for m in ws_messages(fakes.responses)]
    assert [("previous_response_id" in m, len(m["input"])) for m in sent] == [(False, 1), (False, 5)]


async def test_a_compacted_transcript_is_merged_when_not_only_codex_serves_the_model(start_proxy, fakes):
    """CPA TestWebsocketUpstreamSupportsCompactionReplayForModelFalseWhenMixedBackends: a
    model Codex and a compat upstream both serve may reach one that cannot read the
    compaction item: the follow-up is merged with the history, the item left out (here it
    is Codex that takes both turns)."""
    config = ws_config(fakes, websockets=False, extra="routing:\n  strategy: fill-first\n")
    proxy = await start_proxy(config.replace('alias: "compat-model"', 'alias: "codex-model"'))
    compacted = [
        {"type": "message", "role": "user", "id": "msg-1c", "content": "compacted user msg"},
        {"type": "compaction", "encrypted_content": "conversation summary"},
    ]
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        await turn(ws, {"type": "response.create", "model": "codex-model", "input": "original long prompt"})
        await turn(ws, {"type": "response.create", "input": compacted})
    codex = [r.json["input"] for r in fakes.responses.requests if r.method == "POST"]
    chat = [r.json["messages"] for r in fakes.openai.requests]
    # fill-first: both turns on Codex's account; the second merged: the first turn's
    # message, its answer, then the compacted user message
    assert not chat and [len(items) for items in codex] == [1, 3]
    assert all(i.get("type") != "compaction" for items in codex for i in items)


async def test_a_mixed_pool_pins_the_websocket_account(start_proxy, fakes):
    """CPA TestResponsesWebsocketPinsOnlyWebsocketCapableAuth and
    TestResponsesWebsocketUsesNativeIncrementalAfterPinningWebsocketAuthFromMixedPool: of an
    HTTP-only key and a WebSocket key, the client's socket is served by the WebSocket one
    and its follow-up goes there as ``previous_response_id`` plus the new items."""
    extra = SECOND_KEY.format(base=fakes.responses.base_url)
    config = ws_config(fakes, websockets=False).replace(
        "openai-compatibility:", extra.lstrip("\n") + "openai-compatibility:", 1
    )
    proxy = await start_proxy(config)
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        await turn(ws, follow(first[-1]["response"]["id"], "two"))
    assert not [r for r in fakes.responses.requests if r.method == "POST"]
    sent = ws_messages(fakes.responses)
    assert [r.key for r in sent] == ["sk-codex-2", "sk-codex-2"]
    assert (
        sent[1].json["previous_response_id"] == first[-1]["response"]["id"]
        and len(sent[1].json["input"]) == 1
    )


async def test_a_reload_that_turns_websockets_off_sends_the_next_turn_whole(start_proxy, fakes):
    """CPA TestResponsesWebsocketClosesForHTTPReplayWhenWebsocketEligibilityChanges, a
    deliberate difference (was broken: the follow-up went to Codex over HTTP as the new
    message alone, its ``previous_response_id`` dropped there, so the model lost the
    conversation): the account pinned to the socket's conversation had ``websockets``
    turned off by a config reload; CPA closes the client socket for the client to replay,
    here the turn goes over HTTP with the whole conversation."""
    proxy = await start_proxy(ws_config(fakes), watch=True)

    def websockets() -> object:
        return next(c for c in proxy.service.pool.credentials() if c.provider == "codex").attributes.get(
            "websockets"
        )

    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        first = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "one"})
        proxy.config_path.write_text(ws_config(fakes, websockets=False))
        for _ in range(400):
            if websockets() is None:
                break
            await asyncio.sleep(0.025)
        assert websockets() is None, "the reload was not seen"
        second = await turn(ws, follow(first[-1]["response"]["id"], "two"))
    assert second[-1]["type"] == "response.completed"
    [post] = [r.json for r in fakes.responses.requests if r.method == "POST"]
    assert "previous_response_id" not in post and len(post["input"]) == 3
