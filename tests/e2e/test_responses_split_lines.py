"""A Responses pass-through (a Responses client, a Codex upstream) whose upstream writes
an error event's object on the second ``data:`` line of one event (``data: {delta}`` then
``data: {error}``, the blank line between them left out), through a running proxy with
the official ``openai`` SDK against :class:`~tests.fakes.raw_sse.RawSSE`.

CPA's Codex executor reads the upstream's stream line by line (``bufio.Scanner`` in
codex_executor_stream.go) and fails the stream at the first line whose payload is a
terminal failure (``codexTerminalFailureErr``): what came before it reaches the client, then
the handler's in-format error ends the stream and the account's result is a failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.raw_sse import RawSSE

TROUBLE = "mid-stream trouble"


def _event(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": kind, **fields})


def _delta(text: str) -> bytes:
    return _event("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta=text)


HEAD = (
    b"event: response.created\ndata: "
    + _event("response.created", response={"id": "resp_1", "object": "response", "status": "in_progress"})
    + b"\n\nevent: response.output_text.delta\ndata: "
    + _delta("Hello")
    + b"\n\n"
)
COMPLETED = b"event: response.completed\ndata: " + _event(
    "response.completed", response={"id": "resp_1", "object": "response", "status": "completed", "output": []}
)
ERRORS = {
    "error": _event("error", error={"type": "server_error", "code": "overloaded", "message": TROUBLE}),
    "response.failed": _event(
        "response.failed",
        response={"id": "resp_1", "status": "failed", "error": {"code": "server_error", "message": TROUBLE}},
    ),
}


@pytest.fixture
async def upstream() -> AsyncIterator[RawSSE]:
    async with RawSSE() as server:
        yield server


@pytest.fixture
async def proxy(start_proxy: Any, upstream: RawSSE) -> Any:
    return await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "k-codex"\n    base-url: "{upstream.url}"\n'
        '    models: [{name: "gpt-5.5", alias: "codex-model"}]\n'
    )


async def _stream(proxy: Any) -> tuple[str, list[str], Exception | None]:
    """The text a streamed Responses answer gave, its event types, and the error that ended it."""
    text, kinds = "", []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
        try:
            async for ev in await oai.responses.create(model="codex-model", input="hi", stream=True):
                kinds.append(ev.type)
                if ev.type == "response.output_text.delta":
                    text += ev.delta
                elif ev.type == "response.failed":
                    assert ev.response.error is not None and ev.response.error.message == TROUBLE
        except openai.APIError as exc:
            return text, kinds, exc
    return text, kinds, None


async def _cooled(proxy: Any) -> list[str]:
    pool = proxy.service.pool
    return [c.api_key for c in pool.credentials() if await pool.cooldowns(c)]


@pytest.mark.parametrize("kind", ["error", "response.failed"])
async def test_an_error_on_a_second_data_line_ends_the_stream(proxy, upstream, kind: str) -> None:
    """After the answer began, one event holds a delta and then the upstream's error on
    its next ``data:`` line: the client gets both deltas, then the error as its own event
    (``error``: the SDK raises with the upstream's message; ``response.failed``: the
    failed response with it), nothing after it; the key cools. Before, the lines joined
    were not JSON, the event went out as it came (the SDK could not parse it) and no key
    cooled."""
    upstream.chunks = [
        HEAD,
        b"event: response.output_text.delta\ndata: "
        + _delta(" world")
        + b"\ndata: "
        + ERRORS[kind]
        + b"\n\n",
        b"event: response.output_text.delta\ndata: " + _delta(" more") + b"\n\n" + COMPLETED + b"\n\n",
    ]
    text, kinds, err = await _stream(proxy)
    assert text == "Hello world", (text, kinds, err)
    if kind == "error":
        assert isinstance(err, openai.APIError) and TROUBLE in str(err), (kinds, err)
    else:
        assert err is None and kinds[-1] == "response.failed", kinds
    assert await _cooled(proxy) == ["k-codex"] and upstream.keys == ["k-codex"]


async def test_an_error_on_a_second_data_line_before_the_answer_fails_the_request(proxy, upstream) -> None:
    """The same before any content (``response.created`` and the error in one event): the
    request fails before its first byte with the upstream's message, as CPA's executor
    fails a stream whose bootstrap reads a terminal failure; the key cools."""
    created = HEAD.split(b"\n\n")[0]
    upstream.chunks = [created + b"\ndata: " + ERRORS["error"] + b"\n\n"]
    text, kinds, err = await _stream(proxy)
    assert text == "" and isinstance(err, openai.APIStatusError) and TROUBLE in str(err), (kinds, err)
    assert await _cooled(proxy) == ["k-codex"]


@pytest.mark.parametrize("second", ["delta", "error"])
async def test_the_websocket_relay_reads_each_data_line(proxy, upstream, second: str) -> None:
    """The same events for a client of the Responses WebSocket (the openai SDK's
    ``responses.connect``) on an HTTP upstream: each ``data:`` line of the event reaches the
    client as a message of its own, a delta (the answer goes on to its completion) or the
    error (the turn ends there, the key cools), as CPA's executor reads the lines one by
    one. Before, two deltas on one event's lines went out as one message, ``{a}\\n{b}``,
    which the SDK could not parse."""
    line = _delta("!") if second == "delta" else ERRORS["error"]
    upstream.chunks = [
        HEAD,
        b"event: response.output_text.delta\ndata: " + _delta(" world") + b"\ndata: " + line + b"\n\n",
        COMPLETED + b"\n\n",
    ]
    text, last = "", ""
    async with (
        openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai,
        oai.responses.connect() as conn,
    ):
        await conn.response.create(model="codex-model", input="hi")
        async for event in conn:
            if event.type == "response.output_text.delta":
                text += event.delta
            if event.type in ("response.completed", "response.failed", "error"):
                last = event.type
                break
    if second == "delta":
        assert (text, last) == ("Hello world!", "response.completed")
        assert await _cooled(proxy) == []
    else:
        assert (text, last) == ("Hello world", "error")
        assert await _cooled(proxy) == ["k-codex"]
