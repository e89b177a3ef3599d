"""A non-streaming Responses client of Codex or xAI gets the upstream's own answer: the
``response`` of the stream's terminal event, as CPA's executors give it
(codex_executor_execute.go, xai_executor_execute.go: the event mended, then
``ConvertCodexResponseToOpenAIResponsesNonStream`` returns its ``response`` as it is).
Before, the answer was rebuilt from the stream's events: item ids changed (``msg_1`` came
back as ``msg_1000``), null fields appeared and the upstream's own fields were lost.

The upstreams are the fake OpenAI servers playing raw SSE bytes (``raw_streams``), the
client the official ``openai`` SDK (``responses.create`` without ``stream``)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY


def _codex(fakes: Any) -> str:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    return (
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
    )


def _xai(fakes: Any) -> str:
    return f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fakes.openai.base_url}/v1"\n'


def _sdk(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


async def _whole(proxy: Any, model: str, **kw: Any) -> dict[str, Any]:
    async with _sdk(proxy) as client:
        raw = await client.responses.with_raw_response.create(model=model, input="hi", **kw)
    return orjson.loads(raw.content)  # type: ignore[no-any-return]


REASONING = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAAAB"}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "hello"}],
}
# what the Codex backend says and the IR does not model: kept as it came
FINAL = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1775555723,
    "status": "completed",
    "background": False,
    "model": "gpt-5.4-2026-03-05",
    "output": [REASONING, MESSAGE],
    "prompt_cache_key": "session-1",
    "reasoning": {"effort": "high", "summary": "detailed"},
    "service_tier": "default",
    "usage": {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 19,
    },
}
STREAM = _sse(
    {
        "type": "response.created",
        "sequence_number": 0,
        "response": {**FINAL, "status": "in_progress", "output": []},
    },
    {"type": "response.output_item.done", "sequence_number": 1, "output_index": 0, "item": REASONING},
    {
        "type": "response.output_text.delta",
        "sequence_number": 2,
        "item_id": "msg_1",
        "output_index": 1,
        "content_index": 0,
        "delta": "hello",
    },
    {"type": "response.output_item.done", "sequence_number": 3, "output_index": 1, "item": MESSAGE},
    {"type": "response.completed", "sequence_number": 4, "response": FINAL},
)


async def test_the_whole_answer_is_the_streams_terminal_response(start_proxy: Any, fakes: Any) -> None:
    """What a streaming client reads as ``response.completed`` is, field for field, what a
    non-streaming one gets: ids, the upstream's model and its own fields kept, no null
    field added. The usage is accounted from it."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.raw_streams = [STREAM, STREAM]
    async with _sdk(proxy) as client:
        stream = await client.responses.create(model="codex-model", input="hi", stream=True)
        events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    streamed = events[-1].response.model_dump(exclude_unset=True)
    whole = await _whole(proxy, "codex-model")
    assert whole == FINAL == streamed
    counters: list[Any] = []
    for _ in range(100):  # accounted right after the answer went out
        counters = list(recorder_of(proxy.service).stats.counters.by_key.values())
        if sum(c.success for c in counters) == 2:
            break
        await asyncio.sleep(0.01)
    assert sum(c.input_tokens for c in counters) == 24 and sum(c.output_tokens for c in counters) == 14


async def test_missing_item_ids_come_from_the_done_events(start_proxy: Any, fakes: Any) -> None:
    """CPA TestCodexExecutorExecute_NonEmptyCompletionOutputHydratesMissingItemID, its
    stream: the terminal output's call without an id gets the id its done event had; the
    terminal item's other fields win (its name), and an item with an id keeps its own."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.raw_streams = [
        b'data: {"type":"response.output_item.done","item":{"id":"fc_123","type":"function_call","call_id":"call_123","name":"weather","arguments":"{}"},"output_index":0}\n\n'
        b'data: {"type":"response.output_item.done","item":{"id":"fc_done_existing","type":"function_call","call_id":"call_existing","name":"other","arguments":"{}"},"output_index":1}\n\n'
        b'data: {"type":"response.completed","response":{"id":"resp_1","object":"response","status":"completed","output":[{"id":null,"type":"function_call","call_id":"call_123","name":"weather-terminal","arguments":"{}"},{"id":"fc_existing","type":"function_call","call_id":"call_existing","name":"preserved","arguments":"{}"}]}}\n\n'
    ]
    whole = await _whole(proxy, "codex-model")
    assert [(i["id"], i["name"]) for i in whole["output"]] == [
        ("fc_123", "weather-terminal"),
        ("fc_existing", "preserved"),
    ]


async def test_an_empty_output_is_filled_from_the_done_items(start_proxy: Any, fakes: Any) -> None:
    """CPA TestCodexExecutorExecute_EmptyStreamCompletionOutputUsesOutputItemDone, its
    stream (the done item's line and the completion's with one line end between them, read
    line by line as CPA reads them): the output is the done item, the upstream's model and
    ``created_at`` stay, the usage gets its details as zeros
    (EnsureResponsesUsageDetails)."""
    proxy = await start_proxy(_codex(fakes))
    fakes.responses.raw_streams = [
        b'data: {"type":"response.output_item.done","item":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok"}]},"output_index":0}\n'
        b'data: {"type":"response.completed","response":{"id":"resp_1","object":"response","created_at":1775555723,"status":"completed","model":"gpt-5.4-mini-2026-03-17","output":[],"usage":{"input_tokens":8,"output_tokens":28,"total_tokens":36}}}\n\n'
    ]
    whole = await _whole(proxy, "codex-model")
    assert whole == {
        "id": "resp_1",
        "object": "response",
        "created_at": 1775555723,
        "status": "completed",
        "model": "gpt-5.4-mini-2026-03-17",
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
        ],
        "usage": {
            "input_tokens": 8,
            "output_tokens": 28,
            "total_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


INCOMPLETE = (
    b'data: {"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}\n\n'
    b'data: {"type":"response.incomplete","response":{"id":"resp_1","object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[],"usage":{"input_tokens":8,"output_tokens":1,"total_tokens":9}}}\n\n'
)


async def test_a_cut_answer_is_the_incomplete_response(start_proxy: Any, fakes: Any) -> None:
    """CPA TestXAIExecutorExecuteAcceptsResponseIncomplete (its stream, for xAI and for
    Codex) and TestConvertCodexResponseToOpenAIResponsesNonStreamIncomplete: the answer is
    a success whose status is ``incomplete``, with its reason, its output filled from the
    done item."""
    proxy = await start_proxy(_codex(fakes) + _xai(fakes).split("\n", 1)[1])
    fakes.responses.raw_streams = [INCOMPLETE]
    fakes.openai.raw_streams = [INCOMPLETE]
    for model in ("codex-model", "grok-4.5"):
        async with _sdk(proxy) as client:
            answer = await client.responses.create(model=model, input="hi", max_output_tokens=16)
        assert answer.status == "incomplete", model
        assert (
            answer.incomplete_details is not None and answer.incomplete_details.reason == "max_output_tokens"
        )
        assert [item.id for item in answer.output] == ["rs_1"], model


async def test_an_xai_answer_keeps_its_ids_with_its_reasoning_as_summaries(
    start_proxy: Any, fakes: Any
) -> None:
    """xAI's terminal response as it came (CPA's xAI executor), but for Grok's raw
    reasoning text, made summaries as CPA's ``xaiNormalizeReasoningSummaryData`` does
    before it answers (TestXAIExecutorExecuteNormalizesReasoningOutputForNonStreamTranslation)."""
    proxy = await start_proxy(_xai(fakes))
    thought = {
        "id": "rs_7",
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "thinking"}],
    }
    final = {**FINAL, "model": "grok-4.3", "output": [thought, MESSAGE]}
    fakes.openai.raw_streams = [_sse({"type": "response.completed", "response": final})]
    whole = await _whole(proxy, "grok-4.3")
    summary = {"id": "rs_7", "type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]}
    assert whole == {**final, "output": [summary, MESSAGE]}
