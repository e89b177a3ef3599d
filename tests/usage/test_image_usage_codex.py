"""Codex's image tool usage recorded as CPA records it: a second usage record under the
image model (CPA ``publishCodexImageToolUsage``, ``ParseCodexImageToolUsage`` and
``UsageReporter.PublishAdditionalModel`` in ``internal/runtime/executor``).

Before, only ``response.usage`` was read: the image model's tokens in
``response.tool_usage.image_gen`` reached no counter, ledger row or usage-queue record, so the
panel under-counted image spend. Now a request whose answer made an image has a second
record: the same provider, credential, client key and alias, the model of the request's
``image_generation`` tool (``gpt-image-2`` when it names none), the image model's tokens.

The proxy runs against the fake Codex backend (``tests.fakes.openai_responses``), which draws
a 1x1 PNG when asked to "draw" and names ``tool_usage`` on every answer offered the tool, as
the real backend does (zeros when no image was made).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import orjson
import pytest

from cliproxy.providers.codex_image_usage import DEFAULT_IMAGE_MODEL, ImageToolUsage, image_tool_usage
from cliproxy.providers.codex_stream import CompletedOutput
from tests.fakes.openai_responses import IMAGE_GEN_USAGE
from tests.management.conftest import MANAGEMENT_KEY, mcall

KEY = "sk-image-usage-client"
DRAW = "draw a green square"
IMAGE_TOKENS = (27, 1056, 1083)  # the fake's IMAGE_GEN_USAGE: input, output, total


def _config(fake: Any, ledger: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
usage-statistics-enabled: true
usage-ledger: {{path: "{ledger}"}}
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fake.base_url}/backend-api/codex"
    models: [{{name: gpt-5.4, alias: codex-model}}]
"""


@pytest.fixture
async def proxy(proxy_of: Any, fake_responses: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    return await proxy_of(_config(fake_responses, tmp_path / "usage.sqlite"))


async def _queue(proxy: Any, most: int = 10) -> list[dict[str, Any]]:
    status, records = await mcall(proxy, "GET", f"/usage-queue?count={most}")
    assert status == 200
    return records  # type: ignore[no-any-return]


def _tokens(record: dict[str, Any]) -> tuple[int, int, int]:
    t = record["tokens"]
    return t["input_tokens"], t["output_tokens"], t["total_tokens"]


# -- the parse (usage_helpers.go ParseCodexImageToolUsage, buildAdditionalModelRecord)


def _completed(tool_usage: Any, **response: Any) -> bytes:
    event = {
        "type": "response.completed",
        "response": {"id": "r", "usage": {"input_tokens": 5, "output_tokens": 3}, **response},
    }
    if tool_usage is not None:
        event["response"]["tool_usage"] = tool_usage
    return b"data: " + orjson.dumps(event)


def test_zero_usage_is_no_record() -> None:
    """TestUsageReporterBuildAdditionalModelRecordSkipsZeroTokens: all-zero usage is
    skipped; a non-zero input, or a non-zero cached count alone, is recorded."""
    zero = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    assert image_tool_usage(_completed({"image_gen": zero, "web_search": {"num_requests": 0}})) is None
    found = image_tool_usage(_completed({"image_gen": {"input_tokens": 2}}))
    assert found is not None and (found.input_tokens, found.total) == (2, 2)
    cached = image_tool_usage(_completed({"image_gen": {"input_tokens_details": {"cached_tokens": 2}}}))
    assert cached is not None and cached.cache_read_tokens == 2


def test_the_backend_shapes_are_read() -> None:
    """OpenAI's usage shape as the backend sends it: with its details and total, or without
    ``total_tokens`` (then input plus output, CPA's token breakdown total); a total alone;
    Chat's names. An object with no token count (``images``) is none."""
    full = image_tool_usage(_completed({"web_search": {"num_requests": 1}, "image_gen": IMAGE_GEN_USAGE}))
    assert full is not None and (full.input_tokens, full.output_tokens, full.total) == IMAGE_TOKENS
    bare = image_tool_usage(
        _completed({"image_gen": {"input_tokens": 27, "output_tokens": 515, "output_tokens_details": {}}})
    )
    assert bare is not None and bare.total == 542
    zero_total = image_tool_usage(
        _completed({"image_gen": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 0}})
    )
    assert zero_total is not None and zero_total.total == 3
    total = image_tool_usage(_completed({"image_gen": {"total_tokens": 7}}))
    assert total is not None and total.total == 7
    chat = image_tool_usage(_completed({"image_gen": {"prompt_tokens": 4, "completion_tokens": 6}}))
    assert chat is not None and (chat.input_tokens, chat.output_tokens) == (4, 6)
    assert image_tool_usage(_completed({"image_gen": {"images": 1}})) is None
    assert image_tool_usage(_completed({"image_gen": {"input_tokens": "many"}})) is None


def test_only_the_tool_usage_object_is_read() -> None:
    """An ``image_gen`` anywhere else in the event (a tool schema's property, text) is not
    the tool's usage; an event without ``tool_usage`` is none."""
    schema = {"type": "object", "properties": {"image_gen": {"type": "integer", "maximum": 9}}}
    tools = [{"type": "function", "name": "f", "parameters": schema}]
    line = _completed(
        {"web_search": {"num_requests": 3}}, tools=tools, instructions='"image_gen": {"input_tokens": 5}'
    )
    assert image_tool_usage(line) is None
    assert image_tool_usage(_completed(None, tools=tools)) is None


def test_the_tool_model_is_the_first_image_tools() -> None:
    """CPA codexImageGenerationToolModel: the first ``image_generation`` tool's ``model``
    (trimmed); none, blank, or no such tool: ``gpt-image-2``; a later image tool is not
    looked at."""
    image = {"type": "image_generation"}
    assert ImageToolUsage(
        [{"type": "function", "name": "f"}, {**image, "model": " gpt-image-1.5 "}]
    ).model == ("gpt-image-1.5")
    assert (
        ImageToolUsage([{**image, "model": "  "}, {**image, "model": "gpt-image-1.5"}]).model
        == DEFAULT_IMAGE_MODEL
    )
    assert ImageToolUsage([image]).model == DEFAULT_IMAGE_MODEL == "gpt-image-2"
    assert ImageToolUsage(None).model == ImageToolUsage([{"type": "web_search"}]).model == "gpt-image-2"


@pytest.mark.parametrize("mend", [True, False])
def test_the_stream_rewriter_reads_terminal_events_once(mend: bool) -> None:
    """``CompletedOutput`` hands each terminal event's tool usage to the reader,
    ``response.incomplete``'s too (CPA publishes on both): parsed when the event is mended
    (``mend``, an output item seen), else cut out of the line (an upstream socket's turn,
    usage details all there); other lines are not read; an event seen again (held over a
    chunk boundary) still counts once."""
    tool = ImageToolUsage([{"type": "image_generation"}])
    rewrite = CompletedOutput(tool=tool, mend=mend)
    delta = b'data: {"type":"response.output_text.delta","delta":"\\"tool_usage\\": 9"}'
    assert rewrite(delta) == delta and tool.usage is None
    item = {"type": "message", "id": "m1", "role": "assistant", "content": []}
    done = {"type": "response.output_item.done", "output_index": 0, "item": item}
    rewrite(b"data: " + orjson.dumps(done))
    details = {"input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
    event = {
        "type": "response.incomplete",
        "response": {
            "id": "r",
            "output": [item],
            "usage": {"input_tokens": 5, "output_tokens": 3, **details},
            "tool_usage": {"image_gen": {"input_tokens": 3, "output_tokens": 4}},
        },
    }
    line = b"data: " + orjson.dumps(event)
    assert rewrite(line) == line  # (nothing to mend: the line as it came)
    assert tool.usage is not None and tool.usage.total == 7
    tool.usage = None
    rewrite(line.replace(b"response.incomplete", b"response.completed"))
    rewrite(line.replace(b"response.incomplete", b"response.completed"))
    assert tool.usage is not None and tool.usage.total == 7


# -- through the proxy: the usage queue, the ledger, the counters


@pytest.mark.parametrize("stream", [False, True])
async def test_a_responses_client_drawing_makes_a_second_record(proxy: Any, stream: bool) -> None:
    """The request's own record, then the image model's (CPA: EnsurePublished, then
    PublishAdditionalModel): provider, credential, key, alias and endpoint the same, the
    default image model, the image tokens, not failed."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model="codex-model", input=DRAW) as events:
                async for _ in events:
                    pass
                done = await events.get_final_response()
        else:
            done = await client.responses.create(model="codex-model", input=DRAW)
    assert any(item.type == "image_generation_call" for item in done.output)
    own, image = await _queue(proxy)
    assert own["model"] == "gpt-5.4" and image["model"] == "gpt-image-2"
    assert _tokens(own) == (done.usage.input_tokens, done.usage.output_tokens, done.usage.total_tokens)
    assert _tokens(image) == IMAGE_TOKENS
    assert image["token_breakdown"]["input"]["total_tokens"] == 27
    for field in (
        "provider",
        "executor_type",
        "alias",
        "auth_index",
        "source",
        "api_key",
        "endpoint",
        "request_id",
    ):
        assert image[field] == own[field], field
    assert (image["provider"], image["alias"]) == ("codex", "codex-model")
    assert image["failed"] is False and image["fail"] == {"status_code": 200, "body": ""}


async def test_the_ledger_and_the_counters_hold_the_image_tokens(proxy: Any, fake_responses: Any) -> None:
    """The ledger has the image model's row beside the request's: the record-based views
    (``/usage``, ``/usage/summary``, as CPA's per-model statistics) list it as a record under
    its own model. The credential's and the key's counters add its tokens but count the
    request once (CPA: ``MarkResult`` once a request, ``api_key_usage.go`` sums those counts):
    ``/api-key-usage`` and ``/usage/keys`` say 2 requests for 2 requests, not 3."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(model="codex-model", input=DRAW)
        await client.responses.create(model="codex-model", input="hello")  # no image: no second record
    assert done.usage is not None
    status, by_model = await mcall(proxy, "GET", "/usage/summary?group=model")
    assert status == 200
    rows = {r["key"]: r for r in by_model["rows"]}
    assert rows["gpt-image-2"]["requests"] == 1 and rows["gpt-image-2"]["failed"] == 0
    assert rows["gpt-image-2"]["retries"] == 0  # (its row made no upstream call of its own)
    image = rows["gpt-image-2"]
    assert (image["input_tokens"], image["output_tokens"], image["total_tokens"]) == IMAGE_TOKENS
    assert rows["gpt-5.4"]["requests"] == 2
    own_total = rows["gpt-5.4"]["total_tokens"]
    status, snap = await mcall(proxy, "GET", "/usage")  # CPA's statistics: by the alias asked
    alias = next(iter(snap["usage"]["apis"].values()))["models"]["codex-model"]
    assert (alias["total_requests"], alias["total_tokens"]) == (3, own_total + IMAGE_TOKENS[2])
    status, by_key = await mcall(proxy, "GET", "/usage/summary?group=key")  # records, as CPA's apis
    assert status == 200 and [r["requests"] for r in by_key["rows"]] == [3]
    stats = proxy.service.recorder.stats
    cred = next(iter(proxy.service.pool.credentials()))
    for counter in (stats.counters.by_auth[cred.index], stats.counters.by_key[stats.key_of(KEY)[0]]):
        assert counter.total_tokens == own_total + IMAGE_TOKENS[2]
        assert counter.output_tokens == rows["gpt-5.4"]["output_tokens"] + IMAGE_TOKENS[1]
        assert (counter.success, counter.failed) == (2, 0)  # before: (3, 0), the image a request
    status, usage = await mcall(proxy, "GET", "/api-key-usage")  # CPA's view of the credential
    assert status == 200
    entry = usage["codex"][f"{fake_responses.base_url}/backend-api/codex|sk-codex-1"]
    assert (entry["success"], entry["failed"]) == (2, 0)
    assert sum(b["success"] for b in entry["recent_requests"]) == 2
    status, keys = await mcall(proxy, "GET", "/usage/keys")
    (key,) = keys["keys"]
    assert (key["success"], key["total_tokens"]) == (2, own_total + IMAGE_TOKENS[2])
    assert sum(b["success"] for b in key["recent_requests"]) == 2


async def test_no_image_no_second_record(proxy: Any, fake_responses: Any) -> None:
    """An answer whose ``tool_usage.image_gen`` is all zeros (the tool offered, not used)
    makes the request's record only."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(model="codex-model", input="hello")
    sent = fake_responses.last.json
    assert any(t.get("type") == "image_generation" for t in sent["tools"])  # offered
    assert [r["model"] for r in await _queue(proxy)] == ["gpt-5.4"]


async def test_the_requests_image_tool_names_the_model(proxy: Any) -> None:
    """A request whose ``image_generation`` tool names its model: the record carries it."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(
            model="codex-model",
            input=DRAW,
            tools=[{"type": "image_generation", "model": "gpt-image-1.5"}],  # type: ignore[list-item]
        )
    assert [r["model"] for r in await _queue(proxy)] == ["gpt-5.4", "gpt-image-1.5"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_chat_client_drawing_makes_a_second_record(proxy: Any, stream: bool) -> None:
    """A translated client (Chat Completions) never sees ``tool_usage``; the record is made
    from the upstream's own events all the same."""
    body = {"model": "codex-model", "messages": [{"role": "user", "content": DRAW}], "stream": stream}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(proxy.url + "/v1/chat/completions", json=body, headers=headers) as resp,
    ):
        assert resp.status == 200
        raw = await resp.read()
    assert b"image_url" in raw and b"tool_usage" not in raw
    own, image = await _queue(proxy)
    assert (own["model"], image["model"]) == ("gpt-5.4", "gpt-image-2")
    assert _tokens(image) == IMAGE_TOKENS and image["endpoint"] == own["endpoint"]
