"""CPA internal/translator/claude/openai/responses/claude_openai-responses_response_test.go:
Claude upstream -> Responses (Codex) client, response side.

CPA's "NonStream" functions read a Claude SSE body; our whole-response path reads the
whole Claude message, so those cases give the same message as JSON."""

from __future__ import annotations

from typing import Any

from tests.translate.cpa._run import CLAUDE, RESPONSES, events, get, resp, sse, stream

START = {
    "type": "message_start",
    "message": {"id": "msg_123", "usage": {"input_tokens": 1, "output_tokens": 0}},
}
STOP = {"type": "message_stop"}
REQUEST: dict[str, Any] = {"model": "claude-test", "input": "hi", "stream": True}


def run(*payloads: dict[str, Any], request: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return events(stream(CLAUDE, RESPONSES, sse(*payloads), request or REQUEST))


def named(evs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in evs if e["_event"] == name]


def completed(evs: list[dict[str, Any]]) -> dict[str, Any]:
    return named(evs, "response.completed")[-1]


def lifecycle(evs: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['_event']}:{e['output_index']}:{e['item']['type']}"
        for e in evs
        if e["_event"] in ("response.output_item.added", "response.output_item.done")
    ]


def block(index: int, cb: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    out = [{"type": "content_block_start", "index": index, "content_block": cb}]
    out += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    out.append({"type": "content_block_stop", "index": index})
    return out


def text(index: int, value: str) -> list[dict[str, Any]]:
    return block(index, {"type": "text", "text": ""}, {"type": "text_delta", "text": value})


def thinking(index: int, value: str) -> list[dict[str, Any]]:
    deltas = [{"type": "thinking_delta", "thinking": value}] if value else []
    return block(index, {"type": "thinking", "thinking": ""}, *deltas)


def tool(index: int, cid: str, name: str, args: str | None) -> list[dict[str, Any]]:
    deltas = [{"type": "input_json_delta", "partial_json": args}] if args is not None else []
    return block(index, {"type": "tool_use", "id": cid, "name": name, "input": {}}, *deltas)


def whole(
    content: list[dict[str, Any]], request: dict[str, Any] | None = None, **usage: int
) -> dict[str, Any]:
    body = {
        "id": "msg_nonstream",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 1, "output_tokens": 0},
    }
    return resp(CLAUDE, RESPONSES, body, request or REQUEST)


def test_created_includes_original_request_model() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_CreatedIncludesOriginalRequestModel."""
    data = sse({"type": "message_start", "message": {"id": "msg_123", "model": "translated-claude-model"}})
    evs = events(
        stream(
            CLAUDE,
            RESPONSES,
            data,
            {"model": "original-claude-model", "input": "hi"},
            "original-claude-model",
        )
    )
    assert get(named(evs, "response.created")[0], "response.model") == "original-claude-model"
    assert get(named(evs, "response.in_progress")[0], "response.model") == "original-claude-model"


def test_thinking_includes_signature() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_ThinkingIncludesSignature: the Claude
    signature rides in the reasoning item's encrypted_content."""
    evs = run(
        START,
        *block(
            0,
            {"type": "thinking", "thinking": ""},
            {"type": "thinking_delta", "thinking": "internal "},
            {"type": "thinking_delta", "thinking": "reasoning"},
            {"type": "signature_delta", "signature": "claude_sig_123"},
        ),
        STOP,
    )
    done = [e["item"] for e in named(evs, "response.output_item.done") if e["item"]["type"] == "reasoning"]
    final = get(completed(evs), "response.output.0")
    for item in (done[0], final):
        assert item["encrypted_content"] == "claude_sig_123"
        assert get(item, "summary.0.text") == "internal reasoning"


def test_redacted_thinking_becomes_marked_reasoning_item() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_RedactedThinkingBecomesMarkedReasoningItem."""
    evs = run(
        START,
        *block(0, {"type": "redacted_thinking", "data": "EroBCkYIBRgCKkA"}),
        *text(1, "done"),
        STOP,
    )
    want = "claude-redacted-thinking:EroBCkYIBRgCKkA"
    done = [e["item"] for e in named(evs, "response.output_item.done") if e["item"]["type"] == "reasoning"]
    assert done[0]["encrypted_content"] == want
    output = get(completed(evs), "response.output")
    assert output[0]["encrypted_content"] == want
    assert output[1]["type"] == "message"


def test_nonstream_redacted_thinking_becomes_marked_reasoning_item() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_RedactedThinkingBecomesMarkedReasoningItem."""
    out = whole([{"type": "redacted_thinking", "data": "EroBCkYIBRgCKkA"}])
    assert get(out, "output.0.type") == "reasoning"
    assert get(out, "output.0.encrypted_content") == "claude-redacted-thinking:EroBCkYIBRgCKkA"


def test_suppresses_signature_delta_passthrough() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_SuppressesSignatureDeltaPassthrough: a
    signature_delta alone writes no Claude-native event to the client."""
    evs = run(
        START,
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "claude_sig_123"},
        },
    )
    assert not [e for e in evs if "signature" in e["_event"] or e["_event"].startswith("content_block")]


WEB_SEARCH_TURN = [
    *text(4, "**Compare competitors**\n- "),
    *block(
        5,
        {"type": "server_tool_use", "id": "srv_123", "name": "web_search", "input": {}},
        {"type": "input_json_delta", "partial_json": '{"query":"Qwen3"}'},
    ),
    *block(
        6,
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srv_123",
            "content": [{"type": "web_search_result", "title": "Example", "url": "https://example.com"}],
        },
    ),
    # CPA's case sends the citation with the server tool's index, after that block stopped
    {
        "type": "content_block_delta",
        "index": 5,
        "delta": {
            "type": "citations_delta",
            "citation": {
                "type": "web_search_result_location",
                "cited_text": "Qwen 3.7 Max",
                "url": "https://example.com",
                "title": "Example",
            },
        },
    },
    *text(7, "Qwen 3.7 Max leads."),
]


def test_aggregates_text_blocks_until_message_stop() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_AggregatesTextBlocksUntilMessageStop."""
    evs = run(
        START, *WEB_SEARCH_TURN, {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 12}}, STOP
    )
    assert not [e for e in evs if e["_event"].startswith("content_block_") or e["_event"] == "message_delta"]
    for name in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert len(named(evs, name)) == 1, name
    assert not named(evs, "response.function_call_arguments.delta")
    want = "**Compare competitors**\n- Qwen 3.7 Max leads."
    assert named(evs, "response.output_text.done")[0]["text"] == want
    assert get(completed(evs), "response.output.0.content.0.text") == want
    # CPA puts Claude's citation object in the annotations as it is; we write the
    # url_citation the Responses API defines (the openai SDK knows no other web source),
    # spanning the text block the citation came before (the one naming no open block is
    # the next text block's, where CPA's translator also puts it)
    start = want.index("Qwen")
    note = {
        "type": "url_citation",
        "start_index": start,
        "end_index": len(want),
        "url": "https://example.com",
        "title": "Example",
    }
    assert get(completed(evs), "response.output.0.content.0.annotations") == [note]
    (added,) = named(evs, "response.output_text.annotation.added")
    item = named(evs, "response.output_item.done")[0]["item"]
    assert added["annotation"] == note and added["annotation_index"] == 0
    assert (added["item_id"], added["output_index"], added["content_index"]) == (item["id"], 0, 0)


def test_finalizes_message_before_function_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_FinalizesMessageBeforeFunctionCall."""
    evs = run(
        START,
        *text(0, "Checking the workspace."),
        *tool(1, "call_123", "exec_command", '{"cmd":"pwd"}'),
        STOP,
    )
    assert lifecycle(evs) == [
        "response.output_item.added:0:message",
        "response.output_item.done:0:message",
        "response.output_item.added:1:function_call",
        "response.output_item.done:1:function_call",
    ]
    output = get(completed(evs), "response.output")
    assert [o["type"] for o in output] == ["message", "function_call"]
    assert get(output[0], "content.0.text") == "Checking the workspace."
    assert output[1]["call_id"] == "call_123"


def test_uses_contiguous_indices_for_reasoning_text_and_tool() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_UsesContiguousIndicesForReasoningTextAndTool."""
    evs = run(
        START,
        *block(
            0,
            {"type": "server_tool_use", "id": "srv_123", "name": "web_search", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"query":"Qwen3"}'},
        ),
        *block(1, {"type": "web_search_tool_result", "tool_use_id": "srv_123", "content": []}),
        *thinking(2, "Inspect first."),
        *text(3, "Checking the workspace."),
        *tool(4, "call_123", "exec_command", '{"cmd":"pwd"}'),
        STOP,
    )
    want = {"reasoning": 0, "message": 1, "function_call": 2}
    seen = set()
    for e in evs:
        name = e["_event"]
        if name in ("response.output_item.added", "response.output_item.done"):
            kind = e["item"]["type"]
        elif name.startswith("response.reasoning_"):
            kind = "reasoning"
        elif name.startswith(("response.output_text.", "response.content_part.")):
            kind = "message"
        elif name.startswith("response.function_call_arguments."):
            kind = "function_call"
        else:
            continue
        assert e["output_index"] == want[kind], (name, e)
        seen.add(kind)
    assert seen == set(want)
    assert [o["type"] for o in get(completed(evs), "response.output")] == [
        "reasoning",
        "message",
        "function_call",
    ]


def test_hidden_server_tools_do_not_create_output_index_gaps() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_HiddenServerToolsDoNotCreateOutputIndexGaps."""
    evs = run(
        START,
        *text(0, "Searching. "),
        *block(
            1,
            {"type": "server_tool_use", "id": "srv_123", "name": "web_search", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"query":"Qwen3"}'},
        ),
        *block(2, {"type": "web_search_tool_result", "tool_use_id": "srv_123", "content": []}),
        *text(3, "Found it."),
        *tool(4, "call_123", "exec_command", '{"cmd":"pwd"}'),
        STOP,
    )
    assert named(evs, "response.output_text.done")[0]["text"] == "Searching. Found it."
    assert [o["type"] for o in get(completed(evs), "response.output")] == ["message", "function_call"]


def test_starts_new_message_after_function_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_StartsNewMessageAfterFunctionCall."""
    evs = run(
        START,
        *text(0, "Before tool."),
        *tool(1, "call_123", "exec_command", '{"cmd":"pwd"}'),
        *text(2, "After tool."),
        STOP,
    )
    assert lifecycle(evs) == [
        "response.output_item.added:0:message",
        "response.output_item.done:0:message",
        "response.output_item.added:1:function_call",
        "response.output_item.done:1:function_call",
        "response.output_item.added:2:message",
        "response.output_item.done:2:message",
    ]
    ids = [
        e["item"]["id"] for e in named(evs, "response.output_item.added") if e["item"]["type"] == "message"
    ]
    assert len(ids) == 2 and ids[0] != ids[1]
    output = get(completed(evs), "response.output")
    assert [o["type"] for o in output] == ["message", "function_call", "message"]
    assert get(output[0], "content.0.text") == "Before tool."
    assert get(output[2], "content.0.text") == "After tool."


def test_finalizes_message_before_reasoning() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_FinalizesMessageBeforeReasoning."""
    evs = run(START, *text(0, "Visible first."), *thinking(1, "Reason later."), STOP)
    assert lifecycle(evs) == [
        "response.output_item.added:0:message",
        "response.output_item.done:0:message",
        "response.output_item.added:1:reasoning",
        "response.output_item.done:1:reasoning",
    ]
    assert [o["type"] for o in get(completed(evs), "response.output")] == ["message", "reasoning"]


def test_preserves_multiple_reasoning_items() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_PreservesMultipleReasoningItems."""
    evs = run(
        START,
        *thinking(0, "First reason."),
        *thinking(1, "Second reason."),
        *text(2, "Visible response."),
        STOP,
    )
    done = [e for e in named(evs, "response.output_item.done") if e["item"]["type"] == "reasoning"]
    assert [e["output_index"] for e in done] == [0, 1]
    output = get(completed(evs), "response.output")
    assert [o["type"] for o in output] == ["reasoning", "reasoning", "message"]
    assert [get(o, "summary.0.text") for o in output[:2]] == ["First reason.", "Second reason."]


def test_normalizes_empty_function_arguments() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_NormalizesEmptyFunctionArguments (defect 6)."""
    evs = run(START, *tool(0, "call_123", "exec_command", None), STOP)
    done = [e for e in named(evs, "response.output_item.done") if e["item"]["type"] == "function_call"]
    assert done[0]["item"]["arguments"] == "{}"
    assert get(completed(evs), "response.output.0.arguments") == "{}"


def test_includes_empty_reasoning_in_completed_output() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_IncludesEmptyReasoningInCompletedOutput."""
    evs = run(START, *thinking(0, ""), *text(1, "Visible response."), STOP)
    done = [e for e in named(evs, "response.output_item.done") if e["item"]["type"] == "reasoning"]
    assert len(done[0]["item"]["summary"]) == 1
    output = get(completed(evs), "response.output")
    assert [o["type"] for o in output] == ["reasoning", "message"]
    assert len(output[0]["summary"]) == 1


def test_reports_cache_tokens() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_ReportsCacheTokens."""
    evs = run(
        {
            "type": "message_start",
            "message": {
                "id": "msg_123",
                "usage": {
                    "input_tokens": 13,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 7,
                },
            },
        },
        {
            "type": "message_delta",
            "delta": {},
            "usage": {
                "output_tokens": 4,
                "cache_read_input_tokens": 22000,
                "cache_creation_input_tokens": 31,
            },
        },
        STOP,
    )
    usage = get(completed(evs), "response.usage")
    assert usage["input_tokens"] == 22044
    assert get(usage, "input_tokens_details.cached_tokens") == 22000
    assert usage["output_tokens"] == 4
    assert usage["total_tokens"] == 22048


def test_nonstream_thinking_includes_signature() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_ThinkingIncludesSignature."""
    out = whole(
        [{"type": "thinking", "thinking": "nonstream reasoning", "signature": "claude_sig_nonstream"}]
    )
    assert get(out, "output.0.encrypted_content") == "claude_sig_nonstream"
    assert get(out, "output.0.summary.0.text") == "nonstream reasoning"


def test_nonstream_preserves_content_block_order() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_PreservesContentBlockOrder (the
    empty leading text block of the CPA case is left out: Claude sends none in a whole
    message). CPA counts reasoning tokens by its own estimate; the usage check is ours."""
    out = whole(
        [
            {"type": "thinking", "thinking": "plan", "signature": ""},
            {"type": "tool_use", "id": "call_order", "name": "exec_command", "input": {"cmd": "pwd"}},
            {"type": "text", "text": "done"},
            {"type": "thinking", "thinking": "more", "signature": ""},
        ]
    )
    output = out["output"]
    assert [o["type"] for o in output] == ["reasoning", "function_call", "message", "reasoning"]
    assert get(output[0], "summary.0.text") == "plan"
    assert output[1]["call_id"] == "call_order"
    assert output[1]["arguments"] == '{"cmd":"pwd"}'
    assert get(output[2], "content.0.text") == "done"
    assert get(output[3], "summary.0.text") == "more"


def test_nonstream_reports_cache_tokens() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_ReportsCacheTokens."""
    out = whole(
        [], input_tokens=13, output_tokens=4, cache_read_input_tokens=22000, cache_creation_input_tokens=31
    )
    usage = out["usage"]
    assert usage["input_tokens"] == 22044
    assert get(usage, "input_tokens_details.cached_tokens") == 22000
    assert usage["output_tokens"] == 4
    assert usage["total_tokens"] == 22048


NAMESPACE_CUSTOM_REQUEST = {
    "model": "gpt-test",
    "input": [
        {
            "type": "additional_tools",
            "role": "developer",
            "tools": [
                {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}
            ],
        }
    ],
    "stream": True,
}


def test_restores_additional_namespace_custom_tool_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_RestoresAdditionalNamespaceCustomToolCall
    (defect 7: a custom call comes back as custom_tool_call with its raw input)."""
    evs = run(
        {
            "type": "message_start",
            "message": {"id": "msg_custom", "usage": {"input_tokens": 1, "output_tokens": 0}},
        },
        *tool(0, "call_custom", "functions__exec", '{"input":"pwd"}'),
        STOP,
        request=NAMESPACE_CUSTOM_REQUEST,
    )
    added = [e for e in named(evs, "response.output_item.added") if e["item"]["type"] == "custom_tool_call"]
    done = [e for e in named(evs, "response.output_item.done") if e["item"]["type"] == "custom_tool_call"]
    input_done = named(evs, "response.custom_tool_call_input.done")
    assert added and done and input_done
    assert not [e for e in evs if e["_event"].startswith("response.function_call_arguments.")]
    final = get(completed(evs), "response.output.0")
    for item in (added[0]["item"], done[0]["item"], final):
        assert item["name"] == "exec"
        assert item["namespace"] == "functions"
    assert input_done[0]["input"] == "pwd"
    assert done[0]["item"]["input"] == "pwd"
    assert final["type"] == "custom_tool_call"
    assert final["input"] == "pwd"


COLLISION_REQUEST = {
    "model": "gpt-test",
    "tools": [
        {"type": "namespace", "name": "n", "tools": [{"type": "function", "name": "x"}]},
        {"type": "custom", "name": "n__x"},
    ],
    "stream": True,
}


def test_direct_custom_wins_namespace_collision() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_DirectCustomWinsNamespaceCollision."""
    evs = run(
        {
            "type": "message_start",
            "message": {"id": "msg_collision", "usage": {"input_tokens": 1, "output_tokens": 0}},
        },
        *tool(0, "call_collision", "n__x", '{"input":"pwd"}'),
        STOP,
        request=COLLISION_REQUEST,
    )
    item = get(completed(evs), "response.output.0")
    assert item["type"] == "custom_tool_call"
    assert item["input"] == "pwd"
    assert item["name"] == "n__x"
    assert "namespace" not in item
    out = whole(
        [{"type": "tool_use", "id": "call_collision_nonstream", "name": "n__x", "input": {"input": "pwd"}}],
        COLLISION_REQUEST,
    )
    item = out["output"][0]
    assert item["type"] == "custom_tool_call"
    assert item["input"] == "pwd"
    assert item["name"] == "n__x"
    assert "namespace" not in item


def test_nonstream_restores_additional_namespace_custom_tool_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_RestoresAdditionalNamespaceCustomToolCall."""
    out = whole(
        [
            {
                "type": "tool_use",
                "id": "call_custom_nonstream",
                "name": "functions__exec",
                "input": {"input": "pwd"},
            }
        ],
        NAMESPACE_CUSTOM_REQUEST,
    )
    item = out["output"][0]
    assert item["type"] == "custom_tool_call"
    assert item["input"] == "pwd"
    assert item["call_id"] == "call_custom_nonstream"
    assert item["name"] == "exec"
    assert item["namespace"] == "functions"


def test_custom_tool_empty_input_matches_nonstream() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_CustomToolEmptyInputMatchesNonStream."""
    request = {"model": "gpt-test", "tools": [{"type": "custom", "name": "exec"}], "stream": True}
    evs = run(
        {
            "type": "message_start",
            "message": {"id": "msg_custom_empty", "usage": {"input_tokens": 1, "output_tokens": 0}},
        },
        *tool(0, "call_custom_empty", "exec", None),
        STOP,
        request=request,
    )
    assert get(completed(evs), "response.output.0.input") == ""
    out = whole([{"type": "tool_use", "id": "call_custom_empty", "name": "exec", "input": {}}], request)
    assert get(out, "output.0.input") == ""


NAMESPACE_FUNCTION_REQUEST = {
    "model": "gpt-test",
    "tools": [
        {
            "type": "namespace",
            "name": "mcp__node_repl",
            "tools": [{"type": "function", "name": "js", "parameters": {"type": "object", "properties": {}}}],
        }
    ],
    "stream": True,
}


def test_restores_namespace_function_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponses_RestoresNamespaceFunctionCall."""
    evs = run(
        START,
        *tool(1, "call_abc", "mcp__node_repl__js", '{"code":"nodeRepl.write(\'hello\')"}'),
        STOP,
        request=NAMESPACE_FUNCTION_REQUEST,
    )
    for name in ("response.output_item.added", "response.output_item.done"):
        item = next(e for e in named(evs, name) if e["item"]["type"] == "function_call")["item"]
        assert item["name"] == "js"
        assert item["namespace"] == "mcp__node_repl"
    final = get(completed(evs), "response.output.0")
    assert final["name"] == "js" and final["namespace"] == "mcp__node_repl"


def test_nonstream_restores_namespace_function_call() -> None:
    """TestConvertClaudeResponseToOpenAIResponsesNonStream_RestoresNamespaceFunctionCall."""
    out = whole(
        [
            {
                "type": "tool_use",
                "id": "call_abc",
                "name": "mcp__node_repl__js",
                "input": {"code": "nodeRepl.write('hello')"},
            }
        ],
        NAMESPACE_FUNCTION_REQUEST,
    )
    assert get(out, "output.0.name") == "js"
    assert get(out, "output.0.namespace") == "mcp__node_repl"
