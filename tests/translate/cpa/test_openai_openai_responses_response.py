"""CPA internal/translator/openai/openai/responses/openai_openai-responses_response_test.go:
OpenAI Chat upstream -> Responses (Codex) client, the tool-call cases (how the Chat
stream's calls are read: late or missing names and ids, custom tools, namespaces).

CPA's lifecycle cases of the Responses event writer belong to the Responses encoder
port, but for the streams cut short (at the end). CPA makes ids ``call_<chunk id>_<choice>_<n>`` for calls that never name one;
ours are made up as ``call_<hex>``, so only their presence is asserted."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.translate.cpa._run import OPENAI, RESPONSES, events, get, resp, stream


def run(request: dict[str, Any], *deltas: tuple[dict[str, Any], str | None]) -> list[dict[str, Any]]:
    chunks = [
        {
            "id": "chatcmpl_x",
            "object": "chat.completion.chunk",
            "created": 1773896263,
            "model": "model",
            "choices": [{"index": 0, "delta": d, "finish_reason": fr}],
        }
        for d, fr in deltas
    ]
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return events(stream(OPENAI, RESPONSES, data, {"model": "gpt-5.4", "stream": True, **request}))


def tc(**fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": 0, **fields}]}


def named(evs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["_event"] == name]


def completed_output(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = get(named(evs, "response.completed")[-1], "response.output")
    return out


CUSTOM_EXEC = {"tools": [{"type": "custom", "name": "exec"}]}


def test_custom_tool_name_arrives_late() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_CustomToolNameArrivesLate."""
    evs = run(
        CUSTOM_EXEC,
        (tc(id="call_exec", type="function", function={"arguments": ""}), None),
        (tc(function={"name": "exec", "arguments": ""}), None),
        (tc(function={"arguments": '{"input":"pwd"}'}), "tool_calls"),
    )
    assert not [e for e in evs if e["_event"].startswith("response.function_call_arguments.")]
    added = named(evs, "response.output_item.added")[0]["item"]
    done = named(evs, "response.output_item.done")[0]["item"]
    final = completed_output(evs)[0]
    for item in (added, done, final):
        assert item["type"] == "custom_tool_call"
        assert item["call_id"] == "call_exec"
        assert item["name"] == "exec"
    assert named(evs, "response.custom_tool_call_input.done")[0]["input"] == "pwd"


def test_custom_tool_name_and_id_are_missing() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_CustomToolNameAndIDAreMissing:
    a nameless call is named after the request's one custom tool."""
    evs = run(CUSTOM_EXEC, (tc(type="function", function={"arguments": '{"input":"pwd"}'}), "tool_calls"))
    items = [
        named(evs, "response.output_item.added")[0]["item"],
        named(evs, "response.output_item.done")[0]["item"],
        completed_output(evs)[0],
    ]
    for item in items:
        assert item["type"] == "custom_tool_call"
        assert item["name"] == "exec"
        assert item["call_id"]
    assert len({i["call_id"] for i in items}) == 1
    assert items[2]["input"] == "pwd"


def test_tool_call_id_arrives_late() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_ToolCallIDMayArriveLateOrBeMissing/late id:
    the call opens once its id is known, its held arguments in one delta."""
    evs = run(
        {},
        (tc(type="function", function={"name": "read", "arguments": '{"file'}), None),
        (tc(id="call_late", function={"arguments": 'Path":"README.md"}'}), "tool_calls"),
    )
    added = named(evs, "response.output_item.added")[0]["item"]
    assert added["call_id"] == "call_late"
    deltas = named(evs, "response.function_call_arguments.delta")
    assert [d["delta"] for d in deltas] == ['{"filePath":"README.md"}']
    assert deltas[0]["item_id"] == added["id"]
    assert named(evs, "response.function_call_arguments.done")[0]["item_id"] == added["id"]
    assert named(evs, "response.output_item.done")[0]["item"]["id"] == added["id"]


def test_tool_call_id_missing() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_ToolCallIDMayArriveLateOrBeMissing/missing id."""
    evs = run(
        {},
        (
            tc(type="function", function={"name": "read", "arguments": '{"filePath":"README.md"}'}),
            "tool_calls",
        ),
    )
    added = named(evs, "response.output_item.added")[0]["item"]
    assert added["call_id"]
    assert [d["delta"] for d in named(evs, "response.function_call_arguments.delta")] == [
        '{"filePath":"README.md"}'
    ]
    assert named(evs, "response.output_item.done")[0]["item"]["id"] == added["id"]


NAMESPACE_FUNCTION = {
    "input": [
        {
            "type": "additional_tools",
            "tools": [
                {
                    "type": "namespace",
                    "name": "collaboration",
                    "tools": [
                        {
                            "type": "function",
                            "name": "send_message",
                            "parameters": {"type": "object", "properties": {}},
                        }
                    ],
                }
            ],
        }
    ]
}


def test_restores_additional_namespace_function_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_RestoresAdditionalNamespaceFunctionCall."""
    evs = run(
        NAMESPACE_FUNCTION,
        (
            tc(
                id="call_send",
                type="function",
                function={"name": "collaboration__send_message", "arguments": ""},
            ),
            None,
        ),
        (tc(function={"arguments": '{"target":"worker","message":"ping"}'}), "tool_calls"),
    )
    for item in (
        named(evs, "response.output_item.added")[0]["item"],
        named(evs, "response.output_item.done")[0]["item"],
        completed_output(evs)[0],
    ):
        assert (item["name"], item["namespace"]) == ("send_message", "collaboration")


def whole(request: dict[str, Any], name: str, arguments: str) -> dict[str, Any]:
    upstream = {
        "id": "chatcmpl_nonstream",
        "object": "chat.completion",
        "created": 1773896263,
        "model": "model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_x",
                            "type": "function",
                            "function": {"name": name, "arguments": arguments},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    item: dict[str, Any] = resp(OPENAI, RESPONSES, upstream, {"model": "gpt-5.4", **request})["output"][0]
    return item


def test_nonstream_restores_additional_namespace_function_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_RestoresAdditionalNamespaceFunctionCall."""
    item = whole(NAMESPACE_FUNCTION, "collaboration__send_message", '{"target":"worker","message":"ping"}')
    assert (item["name"], item["namespace"]) == ("send_message", "collaboration")


TOP_NAMESPACE = {
    "tools": [
        {
            "type": "namespace",
            "name": "mcp__test_mcp__",
            "tools": [
                {
                    "type": "function",
                    "name": "add_numbers",
                    "parameters": {"type": "object", "properties": {}},
                }
            ],
        }
    ]
}


def test_restores_namespace_function_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_RestoresNamespaceFunctionCall:
    a namespace among the request's own tools, flattened to ``mcp__test_mcp__add_numbers``
    for the Chat upstream, is restored on every item of the call."""
    evs = run(
        TOP_NAMESPACE,
        (
            tc(
                id="call_ns",
                type="function",
                function={"name": "mcp__test_mcp__add_numbers", "arguments": ""},
            ),
            None,
        ),
        (tc(function={"arguments": '{"a":3,"b":5}'}), "tool_calls"),
    )
    for item in (
        named(evs, "response.output_item.added")[0]["item"],
        named(evs, "response.output_item.done")[0]["item"],
        completed_output(evs)[0],
    ):
        assert (item["name"], item["namespace"]) == ("add_numbers", "mcp__test_mcp__")


def test_nonstream_restores_namespace_function_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_RestoresNamespaceFunctionCall."""
    item = whole(TOP_NAMESPACE, "mcp__test_mcp__add_numbers", '{"a":3,"b":5}')
    assert (item["name"], item["namespace"]) == ("add_numbers", "mcp__test_mcp__")


NAMESPACE_CUSTOM = {
    "input": [
        {
            "type": "additional_tools",
            "tools": [
                {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}
            ],
        }
    ]
}


def test_restores_additional_namespace_custom_tool_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_RestoresAdditionalNamespaceCustomToolCall
    (defect 7 for Chat upstreams: the JSON call comes back as a custom call)."""
    evs = run(
        NAMESPACE_CUSTOM,
        (tc(id="call_exec", type="function", function={"name": "functions__exec", "arguments": ""}), None),
        (tc(function={"arguments": '{"input":"pwd"}'}), "tool_calls"),
    )
    assert not [e for e in evs if e["_event"].startswith("response.function_call_arguments.")]
    done = named(evs, "response.output_item.done")[0]["item"]
    final = completed_output(evs)[0]
    for item in (named(evs, "response.output_item.added")[0]["item"], done, final):
        assert item["type"] == "custom_tool_call"
        assert (item["name"], item["namespace"]) == ("exec", "functions")
    assert named(evs, "response.custom_tool_call_input.done")[0]["input"] == "pwd"
    assert done["input"] == "pwd" and final["input"] == "pwd"


def test_nonstream_restores_additional_namespace_custom_tool_call() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_RestoresAdditionalNamespaceCustomToolCall."""
    item = whole(NAMESPACE_CUSTOM, "functions__exec", '{"input":"pwd"}')
    assert item["type"] == "custom_tool_call"
    assert (item["name"], item["namespace"], item["input"]) == ("exec", "functions", "pwd")


def test_multiple_tool_calls_remain_separate() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_MultipleToolCallsRemainSeparate."""
    evs = run(
        {"tool_choice": "auto", "parallel_tool_calls": True},
        (tc(id="call_read", type="function", function={"name": "read", "arguments": ""}), None),
        (tc(function={"arguments": '{"filePath":"C:\\\\repo","limit":400,"offset":1}'}), None),
        (
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_glob",
                        "type": "function",
                        "function": {"name": "glob", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        (
            {
                "tool_calls": [
                    {"index": 1, "function": {"arguments": '{"path":"C:\\\\repo","pattern":"*.{yml,yaml}"}'}}
                ]
            },
            None,
        ),
        ({}, "tool_calls"),
    )
    output = completed_output(evs)
    assert [(o["type"], o["call_id"], o["name"]) for o in output] == [
        ("function_call", "call_read", "read"),
        ("function_call", "call_glob", "glob"),
    ]
    assert orjson.loads(output[0]["arguments"]) == {"filePath": "C:\\repo", "limit": 400, "offset": 1}
    assert orjson.loads(output[1]["arguments"]) == {"path": "C:\\repo", "pattern": "*.{yml,yaml}"}


# ---------------------------------------------------------------------- streams cut short


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    obj = {
        "id": "resp_cut",
        "object": "chat.completion.chunk",
        "created": 1773896263,
        "model": "gpt-5.6",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _cut_run(*frames: bytes) -> list[dict[str, Any]]:
    return events(
        stream(
            OPENAI, RESPONSES, b"".join(frames) + b"data: [DONE]\n\n", {"model": "gpt-5.6", "stream": True}
        )
    )


PATCH = {"role": "assistant", "content": None, "reasoning_content": None}


def test_does_not_complete_reasoning_only_stream() -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_DoesNotCompleteReasoningOnlyStream:
    reasoning, then [DONE] with no finish_reason, is a cut stream: no response.completed
    (ours ends it as response.failed, stream_truncated)."""
    evs = _cut_run(_chunk({"role": "assistant", "reasoning_content": "still thinking"}))
    kinds = [e["_event"] for e in evs]
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.completed" not in kinds
    assert get(named(evs, "response.failed")[0], "response.error.code") == "stream_truncated"


def test_a_text_answer_without_finish_reason_still_completes() -> None:
    """The other side of the rule: a text answer whose upstream never names a finish_reason
    (some OpenAI-compatible servers) is an answer, not a cut."""
    evs = _cut_run(_chunk({"role": "assistant", "content": "hello"}))
    assert get(named(evs, "response.completed")[0], "response.output.0.content.0.text") == "hello"


@pytest.mark.parametrize(
    "args", ["", '{"filePath":"foo'], ids=["zero argument bytes", "partial json arguments"]
)
def test_incomplete_tool_stream_does_not_finalize_as_completed(args: str) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_IncompleteToolStreamDoesNotFinalizeAsCompleted:
    a call, then [DONE] with no finish_reason: no completed response, no finished call
    (a client would run it with partial arguments)."""
    call = {
        "index": 0,
        "id": "call_patch",
        "type": "function",
        "function": {"name": "apply_patch", "arguments": args},
    }
    evs = _cut_run(_chunk({**PATCH, "tool_calls": [call]}))
    kinds = [e["_event"] for e in evs]
    assert "response.completed" not in kinds
    assert "response.function_call_arguments.done" not in kinds
    assert "response.output_item.done" not in kinds
    assert get(named(evs, "response.failed")[0], "response.output") == []


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_finish_reason_cut_emits_incomplete(finish: str, reason: str) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_FinishReasonLengthEmitsIncomplete /
    TestConvertOpenAIChatCompletionsResponseToOpenAIResponses_FinishReasonContentFilterEmitsIncomplete: the call's item is incomplete and keeps the
    arguments it got (none made up), and the response is response.incomplete."""
    call = {
        "index": 0,
        "id": "call_patch",
        "type": "function",
        "function": {"name": "apply_patch", "arguments": ""},
    }
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    evs = _cut_run(_chunk({**PATCH, "tool_calls": [call]}), _chunk({}, finish, usage=usage))
    assert "response.completed" not in [e["_event"] for e in evs]
    (done,) = named(evs, "response.output_item.done")
    assert done["item"]["status"] == "incomplete" and done["item"]["arguments"] != "{}"
    final = named(evs, "response.incomplete")[0]["response"]
    assert (final["status"], final["incomplete_details"]["reason"]) == ("incomplete", reason)
    assert final["output"][0]["status"] == "incomplete"


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_nonstream_finish_reason_cut(finish: str, reason: str) -> None:
    """TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_FinishReasonLength /
    TestConvertOpenAIChatCompletionsResponseToOpenAIResponsesNonStream_FinishReasonContentFilter."""
    body = {
        "id": "chatcmpl_len",
        "object": "chat.completion",
        "created": 1773896263,
        "model": "gpt-5.6",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "truncated text"},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    out = resp(OPENAI, RESPONSES, body)
    assert (out["status"], out["incomplete_details"]["reason"]) == ("incomplete", reason)
    assert out["output"][0]["status"] == "incomplete"
