"""CPA internal/translator/openai/openai/responses/openai_openai-responses_response_test.go,
the lifecycle cases: an OpenAI Chat upstream's stream (or whole answer) read by a Responses
client. When ``response.completed`` comes, which output index each item takes, what the
final response holds (no top-level ``output_text``), namespaces restored, reasoning read
from either Chat field."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.translate.cpa._run import OPENAI, RESPONSES, events, feeds, get, resp, stream

TOOLS_REQUEST = {"model": "gpt-5.4", "tool_choice": "auto", "parallel_tool_calls": True, "input": "hi"}


def chunk(cid: str, *choices: tuple[dict[str, Any], str | None], **extra: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": 1773896263,
        "model": "model",
        "choices": [{"index": i, "delta": d, "finish_reason": f} for i, (d, f) in enumerate(choices)],
        **extra,
    }


def call(index: int, call_id: str | None = None, name: str | None = None, args: str = "") -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    tc: dict[str, Any] = {"index": index, "function": fn}
    if call_id is not None:
        tc |= {"id": call_id, "type": "function"}
    return {"tool_calls": [tc]}


def run(request: dict[str, Any], *chunks: dict[str, Any]) -> list[dict[str, Any]]:
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return events(stream(OPENAI, RESPONSES, data, {**request, "stream": True}))


def named(evs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["_event"] == name]


README = '{"filePath":"C:\\\\repo\\\\README.md"}'
USAGE_18 = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


@pytest.mark.parametrize(
    ("chunks", "usage"),
    [
        (
            [
                chunk("r1", (call(0, "call_late", "read"), None)),
                chunk("r1", (call(0, args=README), "tool_calls")),
                {**chunk("r1"), "usage": USAGE_18},
            ],
            (11, 7, 18),
        ),
        (
            [
                chunk("r2", (call(0, "call_same", "read"), None)),
                {
                    **chunk("r2", (call(0, args=README), "tool_calls")),
                    "usage": {**USAGE_18, "prompt_tokens": 13, "completion_tokens": 5},
                },
            ],
            (13, 5, 18),
        ),
        ([chunk("r3", ({"role": "assistant", "content": "hello"}, None))], None),
        (
            [
                chunk("r4", (call(0, "call_nousage", "read"), None)),
                chunk("r4", (call(0, args=README), "tool_calls")),
            ],
            None,
        ),
    ],
    ids=[
        "late usage after finish reason",
        "usage on finish reason chunk",
        "no finish reason",
        "no usage chunk",
    ],
)
def test_response_completed_waits_for_done(
    chunks: list[dict[str, Any]], usage: tuple[int, int, int] | None
) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_ResponseCompletedWaitsForDone:
    one response.completed, not before [DONE] (usage may come after the finish reason),
    with the upstream's usage or none. Differs on purpose in the model named: CPA's
    created and in_progress events name the client's request model and its completed event
    the translated request's; cliproxy names one model throughout, the upstream's (or the
    alias of a force-mapped route). They agree unless an upstream answers under another
    name than it was asked for."""
    fed = feeds(OPENAI, RESPONSES, {**TOOLS_REQUEST, "stream": True}, *chunks, "[DONE]")
    done_at = len(chunks)  # the [DONE] feed; the stream's end follows it
    at = [i for i, evs in enumerate(fed) for e in evs if e["_event"] == "response.completed"]
    assert len(at) == 1 and at[0] >= done_at
    flat = [e for evs in fed for e in evs]
    for name in ("response.created", "response.in_progress", "response.completed"):
        assert get(named(flat, name)[0], "response.model") == "model"
    final = named(flat, "response.completed")[0]["response"]
    if usage is None:
        assert "usage" not in final
    else:
        u = final["usage"]
        assert (u["input_tokens"], u["output_tokens"], u["total_tokens"]) == usage


@pytest.mark.parametrize("finish", ["missing", "null"])
def test_an_open_message_is_finished_at_the_streams_end(finish: str) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_FinalizesOpenMessageAtStreamEnd:
    a text answer with no finish reason (missing or null) is closed at [DONE], event by event."""
    c = chunk("r", ({"role": "assistant", "content": "hello"}, None))
    if finish == "missing":
        del c["choices"][0]["finish_reason"]
    evs = run({"model": "gpt-5.4", "input": "hi"}, c)
    assert [e["_event"] for e in evs] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert named(evs, "response.output_text.done")[0]["text"] == "hello"
    assert get(named(evs, "response.content_part.done")[0], "part.text") == "hello"
    assert get(named(evs, "response.output_item.done")[0], "item.content.0.text") == "hello"
    assert get(named(evs, "response.completed")[0], "response.status") == "completed"


def test_a_second_choice_is_left_out() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_MultiChoiceToolCallsUseDistinctOutputIndexes
    and TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_MixedMessageAndToolUseDistinctOutputIndexes, a deliberate difference: CPA makes items
    of every choice, each at its own output index; cliproxy gives a Responses client the first
    choice only, whole and unmixed. A Responses request cannot ask for several choices (it has
    no ``n``, and the Chat request built from it sets none), so other choices answer what the
    client never asked."""
    evs = run(
        TOOLS_REQUEST,
        chunk("m", (call(0, "call_choice0", "glob"), None), (call(0, "call_choice1", "read"), None)),
        chunk(
            "m",
            (call(0, args='{"path":"C:\\\\repo","pattern":"*.go"}'), None),
            (call(0, args='{"filePath":"C:\\\\repo\\\\README.md","limit":20,"offset":1}'), None),
        ),
        chunk(
            "m",
            ({}, "tool_calls"),
            ({}, "tool_calls"),
            usage={"completion_tokens": 10, "total_tokens": 20, "prompt_tokens": 10},
        ),
    )
    done = [e["item"] for e in named(evs, "response.output_item.done")]
    assert [(i["call_id"], i["name"]) for i in done] == [("call_choice0", "glob")]
    assert orjson.loads(done[0]["arguments"]) == {"path": "C:\\repo", "pattern": "*.go"}
    evs = run(
        TOOLS_REQUEST,
        chunk(
            "x", ({"role": "assistant", "content": "hello"}, None), (call(0, "call_choice1", "read"), None)
        ),
        chunk("x", ({}, "stop"), (call(0, args='{"filePath":"C:\\\\repo\\\\README.md"}'), "tool_calls")),
    )
    final = named(evs, "response.completed")[0]["response"]
    assert [o["type"] for o in final["output"]] == ["message"] and get(
        final, "output.0.content.0.text"
    ) == "hello"


def test_completed_has_no_top_level_output_text() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_CompletedOmitsTopLevelOutputText
    and TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_ToolCallCompletedOmitsTopLevelOutputText: the text is in the message item only."""
    evs = run(
        {"model": "gpt-5.4", "input": "hi"},
        chunk("t", ({"role": "assistant", "content": "hello "}, None)),
        chunk(
            "t",
            ({"content": "world"}, "stop"),
            usage={"completion_tokens": 2, "total_tokens": 4, "prompt_tokens": 2},
        ),
    )
    final = named(evs, "response.completed")[0]["response"]
    assert "output_text" not in final and get(final, "output.0.content.0.text") == "hello world"
    evs = run(
        TOOLS_REQUEST,
        chunk("w", ({"role": "assistant", "content": "I will call the weather tool."}, None)),
        chunk("w", (call(0, "call_weather", "get_weather"), None)),
        chunk("w", (call(0, args='{"location":"北京","unit":"celsius"}'), "tool_calls")),
    )
    final = named(evs, "response.completed")[0]["response"]
    assert "output_text" not in final
    assert get(final, "output.0.content.0.text") == "I will call the weather tool."
    assert "北京" in get(final, "output.1.arguments")


def test_function_call_done_and_completed_output_stay_ascending() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_FunctionCallDoneAndCompletedOutputStayAscending."""
    evs = run(
        TOOLS_REQUEST,
        chunk("o", (call(0, "call_glob", "glob"), None)),
        chunk("o", (call(0, args='{"path":"C:\\\\repo","pattern":"*.go"}'), None)),
        chunk("o", (call(1, "call_read", "read"), None)),
        chunk("o", (call(1, args='{"filePath":"C:\\\\repo\\\\README.md","limit":20,"offset":1}'), None)),
        chunk("o", ({}, "tool_calls")),
    )
    done = [
        e["output_index"]
        for e in named(evs, "response.output_item.done")
        if e["item"]["type"] == "function_call"
    ]
    assert len(done) == 2 and done[0] < done[1]
    output = named(evs, "response.completed")[0]["response"]["output"]
    assert [o["call_id"] for o in output if o["type"] == "function_call"] == ["call_glob", "call_read"]


def _whole(message: dict[str, Any], model: str = "gpt-4o") -> dict[str, Any]:
    return {
        "id": "chatcmpl_w",
        "object": "chat.completion",
        "created": 1773896263,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
    }


def test_nonstream_has_no_top_level_output_text() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_OmitsTopLevelOutputText."""
    out = resp(OPENAI, RESPONSES, _whole({"content": "ping"}), {"model": "gpt-5.4", "input": "hi"})
    assert "output_text" not in out and get(out, "output.0.content.0.text") == "ping"


@pytest.mark.parametrize(
    ("message", "request_reasoning", "summary"),
    [
        ({"reasoning_content": "thought from reasoning_content"}, False, "thought from reasoning_content"),
        ({"reasoning": "thought from reasoning"}, False, "thought from reasoning"),
        (
            {"reasoning_content": "priority thought", "reasoning": "ignored thought"},
            False,
            "priority thought",
        ),
        ({"reasoning_content": "", "reasoning": "fallback thought"}, False, "fallback thought"),
        ({}, False, None),
        ({}, True, None),
    ],
    ids=["reasoning_content", "reasoning", "both", "empty reasoning_content", "neither", "neither, asked"],
)
def test_nonstream_reasoning_fallback(
    message: dict[str, Any], request_reasoning: bool, summary: str | None
) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_ReasoningFallback:
    ``reasoning_content`` first (when not empty), else ``reasoning`` (an empty
    ``reasoning_content`` hid the other before). Differs on purpose when there is neither:
    CPA adds a reasoning item with an empty summary and empty ``encrypted_content`` when the
    request asked for reasoning; cliproxy adds none (it carries nothing, and a client would
    send the blank item back as history)."""
    request: dict[str, Any] = {"model": "gpt-4o", "input": "hi"}
    if request_reasoning:
        request["reasoning"] = {"effort": "medium"}
    out = resp(OPENAI, RESPONSES, _whole({"content": "hello", **message}, "o3-mini"), request)
    items = [o for o in out["output"] if o["type"] == "reasoning"]
    if summary is None:
        assert not items
    else:
        assert items and items[0]["summary"][0] == {"type": "summary_text", "text": summary}
