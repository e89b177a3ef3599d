"""The model a Responses client reads when its Codex or xAI upstream names none: CPA's Codex
to Responses translator (internal/translator/codex/openai/responses), which also reads xAI's
Codex-format stream, fills the asked model into ``response.created`` /
``response.in_progress``. Through a running proxy against a scripted upstream
(:class:`RawCodex`, which serves an ``xai-api-key`` entry's ``/responses`` as well), the
openai SDK (HTTP) or a Responses WebSocket as the client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_stream_cpa import USAGE, RawCodex
from tests.e2e.test_responses_ws import TERMINAL, connect

DONE_ITEM = {
    "type": "message",
    "id": "msg_1",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "hi", "annotations": []}],
}
PART = {"type": "output_text", "text": "", "annotations": []}
TEXT = [
    {"type": "response.output_item.added", "output_index": 0, "item": DONE_ITEM | {"content": []}},
    {
        "type": "response.content_part.added",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "part": PART,
    },
    {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "hi",
    },
    {"type": "response.output_item.done", "output_index": 0, "item": DONE_ITEM},
]


def snapshots(named: str | None) -> list[dict[str, Any]]:
    """A short Codex stream whose response snapshots name ``named`` (none when ``None``)."""

    def response(status: str, **more: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"id": "resp_1", "object": "response", "status": status, "output": [], **more}
        if named is not None:
            body["model"] = named
        return body

    return [
        {"type": "response.created", "response": response("in_progress")},
        {"type": "response.in_progress", "response": response("in_progress")},
        *TEXT,
        {
            "type": "response.completed",
            "response": response("completed", usage=USAGE) | {"output": [DONE_ITEM]},
        },
    ]


@pytest.fixture
async def codex() -> AsyncIterator[RawCodex]:
    server = await RawCodex().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


# the upstream's own name for "codex-model", by kind of credential
UPSTREAM = {"codex": "gpt-5.5", "xai": "grok-4.5"}
KINDS = pytest.mark.parametrize("kind", ["codex", "xai"])


def config(url: str, force: bool = False, kind: str = "codex", extra: str = "") -> str:
    """``kind``: a ``codex-api-key`` or an ``xai-api-key`` (xAI is served in Codex format,
    as CPA's ``prepareResponsesRequest`` builds it, from ``{base-url}/responses``)."""
    forced = ", force-mapping: true" if force else ""
    return (
        f'api-keys: ["{KEY}"]\n{kind}-api-key:\n  - api-key: "sk-{kind}-1"\n    base-url: "{url}"\n{extra}'
        f'    models: [{{name: "{UPSTREAM[kind]}", alias: "codex-model"{forced}}}]\n'
    )


async def models_seen(proxy: Any, stream: bool) -> tuple[list[tuple[str, str | None]], str | None]:
    """(each snapshot event's type and model, the final answer's model) as the SDK reads them."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if not stream:
            answer = await client.responses.create(model="codex-model", input="hello")
            return [], answer.model
        seen: list[tuple[str, str | None]] = []
        async with client.responses.stream(model="codex-model", input="hello") as s:
            async for event in s:
                response = getattr(event, "response", None)
                if response is not None:
                    seen.append((event.type, getattr(response, "model", None)))
            final = await s.get_final_response()
        return seen, final.model


ALL = ["response.created", "response.in_progress", "response.completed"]


@KINDS
@pytest.mark.parametrize("unnamed", [None, ""], ids=["missing", "empty"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_snapshots_without_a_model_get_the_asked_one(
    start_proxy, codex, stream: bool, unnamed: str | None, kind: str
) -> None:
    """CPA TestConvertCodexResponseToOpenAIResponses_CreatedIncludesOriginalRequestModel:
    ``response.created`` and ``response.in_progress`` naming no model reach the client with
    the model it asked for (the request's, not the upstream name it maps to), from a Codex
    upstream and from xAI (CPA builds xAI requests in Codex format and reads its stream
    with the same translator). From Codex the streamed ``response.completed`` stays as the
    upstream wrote it, as in CPA (its bytes are the upstream's own:
    tests/e2e/test_responses_ws_output.py). Our differences: a whole answer naming no
    model gets the asked one too (CPA answers with the terminal ``response`` as it came,
    so the SDK's ``Response.model`` is missing); xAI's stream, which we rebuild from its
    events, names it in ``response.completed`` as well; an empty ``"model":""`` is no name
    (CPA's ``Exists`` takes it for one, and the SDK read ``""``)."""
    proxy = await start_proxy(config(codex.url, kind=kind))
    codex.events = snapshots(unnamed)
    seen, final = await models_seen(proxy, stream)
    if stream and kind == "codex":
        opening = [("response.created", "codex-model"), ("response.in_progress", "codex-model")]
        assert seen == [*opening, ("response.completed", unnamed)]
        assert final == unnamed
    elif stream:
        assert seen == [(event, "codex-model") for event in ALL]
        assert final == "codex-model"
    else:
        assert final == "codex-model"
    assert codex.bodies[0]["model"] == UPSTREAM[kind]


@KINDS
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_a_named_model_passes_as_the_upstream_wrote_it(
    start_proxy, codex, stream: bool, kind: str
) -> None:
    """The other side of CPA's case (the translator fills only a missing model): an
    upstream that names its model keeps its own name (the alias is not force-mapped)."""
    proxy = await start_proxy(config(codex.url, kind=kind))
    codex.events = snapshots("gpt-5.5-2026")
    seen, final = await models_seen(proxy, stream)
    assert final == "gpt-5.5-2026"
    if stream:
        assert seen == [(event, "gpt-5.5-2026") for event in ALL]


@KINDS
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("named", [None, "gpt-5.5"], ids=["unnamed", "named"])
async def test_a_force_mapped_alias_names_every_snapshot(
    start_proxy, codex, stream: bool, named: str | None, kind: str
) -> None:
    """CPA's force mapping (sdk/cliproxy/auth/response_model_rewriter.go) names the alias
    wherever the answer names a model; with the Codex translator's fill the opening events
    always do. Ours names the alias in every snapshot and in the whole answer, whether the
    upstream named a model or not (CPA leaves a final response without one as it came)."""
    proxy = await start_proxy(config(codex.url, force=True, kind=kind))
    codex.events = snapshots(named)
    seen, final = await models_seen(proxy, stream)
    assert final == "codex-model"
    if stream:
        assert seen == [(event, "codex-model") for event in ALL]


@KINDS
async def test_a_websocket_turn_shows_the_asked_model(start_proxy, codex, kind: str) -> None:
    """CPA's fill on the Responses WebSocket (CPA's xAI executor serves a socket client with
    ``prepareResponsesRequest`` too): a turn whose upstream names no model shows the asked
    one in its opening events; xAI's rebuilt ``response.completed`` as well, Codex's stays as
    it came (as over HTTP, above)."""
    proxy = await start_proxy(config(codex.url, kind=kind, extra="    websockets: false\n"))
    codex.events = snapshots(None)
    async with aiohttp.ClientSession() as session, await connect(session, proxy) as ws:
        await ws.send_str(json.dumps({"type": "response.create", "model": "codex-model", "input": "hello"}))
        seen: list[tuple[str, object]] = []
        while not seen or seen[-1][0] not in TERMINAL:
            event = json.loads((await ws.receive(timeout=10)).data)
            if "response" in event:
                seen.append((event["type"], event["response"].get("model")))
    last = "codex-model" if kind == "xai" else None
    assert seen == [
        ("response.created", "codex-model"),
        ("response.in_progress", "codex-model"),
        ("response.completed", last),
    ]
