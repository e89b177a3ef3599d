"""Ported from CPA internal/translator/codex/openai/chat-completions/codex_openai_response_test.go:
a Codex (Responses) answer, streamed or whole, as a Chat Completions client sees it."""

from __future__ import annotations

from typing import Any

import pytest

from ._run import CODEX, OPENAI, events, get, resp, sse, stream

CPA = "codex_openai_response_test.go"

REQUEST = {
    "model": "gpt-5.5",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},  # Chat sends usage only when asked
}


def _run(*chunks: dict[str, Any], model: str = "gpt-5.5") -> list[dict[str, Any]]:
    return events(stream(CODEX, OPENAI, sse(*chunks, events=False), REQUEST, model))


def _deltas(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [get(e, "choices.0.delta") for e in evs if get(e, "choices.0.delta") is not None]


def _tool_deltas(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tc for d in _deltas(evs) for tc in d.get("tool_calls") or ()]


def _finish(evs: list[dict[str, Any]]) -> str | None:
    reasons = [get(e, "choices.0.finish_reason") for e in evs if get(e, "choices.0.finish_reason")]
    return reasons[-1] if reasons else None


def _whole(output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_123",
        "created_at": 1700000000,
        "model": "gpt-5.5",
        "status": "completed",
        "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        "output": output,
        **extra,
    }


INCOMPLETE = {
    "type": "response.incomplete",
    "response": {
        "id": "resp_1",
        "model": "gpt-5.5",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    },
}


def test_incomplete_terminal_stream() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_IncompleteTerminal (stream)."""
    assert _finish(_run(INCOMPLETE)) == "length"


def test_incomplete_terminal_stream_after_tool_call() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_IncompleteTerminal (after a call)."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "item": {"type": "function_call", "call_id": "call_1", "name": "lookup"},
        },
        INCOMPLETE,
    )
    assert _finish(evs) == "length"


def test_incomplete_terminal_nonstream() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_IncompleteTerminal (non-stream)."""
    assert get(resp(CODEX, OPENAI, INCOMPLETE["response"], REQUEST), "choices.0.finish_reason") == "length"


def test_first_chunk_uses_request_model_name() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_FirstChunkUsesRequestModelName
    and TestConvertCodexResponseToOpenAI_StreamSetsModelFromResponseCreated."""
    evs = _run(
        {
            "type": "response.created",
            "response": {"id": "resp_123", "created_at": 1700000000, "model": "upstream-name"},
        },
        {"type": "response.output_text.delta", "delta": "hello"},
        model="gpt-5.3-codex",
    )
    assert evs and all(e["model"] == "gpt-5.3-codex" for e in evs if "model" in e)


def test_tool_call_chunk_omits_null_content_fields() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_ToolCallChunkOmitsNullContentFields."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "item": {"type": "function_call", "call_id": "call_123", "name": "websearch"},
        }
    )
    chunk = next(d for d in _deltas(evs) if d.get("tool_calls"))
    assert "content" not in chunk and "reasoning_content" not in chunk


def test_tool_call_arguments_delta_omits_null_content_fields() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_ToolCallArgumentsDeltaOmitsNullContentFields."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "item": {"type": "function_call", "call_id": "call_123", "name": "websearch"},
        },
        {"type": "response.function_call_arguments.delta", "delta": '{"query":"OpenAI"}'},
    )
    args = [d for d in _deltas(evs) if d.get("tool_calls") and get(d, "tool_calls.0.function.arguments")]
    assert args and "content" not in args[0] and "reasoning_content" not in args[0]


def test_custom_tool_call_stream_deltas() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_CustomToolCallStreamDeltas (our
    Chat custom calls carry their input in ``custom.input``)."""
    full = "*** Begin Patch\n*** End Patch"
    evs = _run(
        {
            "type": "response.output_item.added",
            "item": {"type": "custom_tool_call", "call_id": "call_apply", "name": "ApplyPatch", "input": ""},
        },
        {"type": "response.custom_tool_call_input.delta", "delta": "*** Begin Patch\n"},
        {"type": "response.custom_tool_call_input.delta", "delta": "*** End Patch"},
        {"type": "response.custom_tool_call_input.done", "input": full},
        {
            "type": "response.output_item.done",
            "item": {
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": full,
            },
        },
        {
            "type": "response.completed",
            "response": {"usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}},
        },
    )
    calls = _tool_deltas(evs)
    assert calls[0]["index"] == 0 and calls[0]["id"] == "call_apply"
    named = calls[0].get("custom") or calls[0].get("function")
    assert named["name"] == "ApplyPatch"
    pieces = [(c.get("custom") or c.get("function") or {}) for c in calls[1:]]
    assert "".join(p.get("input", p.get("arguments", "")) for p in pieces) == full
    assert _finish(evs) == "tool_calls"


def test_custom_tool_call_input_done_fallback() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_CustomToolCallInputDoneFallback and
    TestConvertCodexResponseToOpenAI_EmptyCustomToolDeltaUsesDoneFallback."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "id": "ctc_1",
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": "",
            },
        },
        {"type": "response.custom_tool_call_input.delta", "item_id": "ctc_1", "output_index": 0, "delta": ""},
        {
            "type": "response.custom_tool_call_input.done",
            "item_id": "ctc_1",
            "output_index": 0,
            "input": "full patch",
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": "full patch",
            },
        },
    )
    pieces = [(c.get("custom") or c.get("function") or {}) for c in _tool_deltas(evs)]
    assert "".join(p.get("input", p.get("arguments", "")) for p in pieces) == "full patch"


def test_interleaved_tool_calls_keep_state_by_item() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_InterleavedToolCallsKeepStateByItem."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_lookup",
                "name": "lookup",
                "arguments": "",
            },
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "id": "ctc_2",
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": "",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_1",
            "output_index": 0,
            "delta": '{"query":',
        },
        {"type": "response.custom_tool_call_input.delta", "output_index": 1, "delta": ""},
        {"type": "response.custom_tool_call_input.done", "output_index": 1, "input": "patch"},
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_1",
            "output_index": 0,
            "arguments": '{"query":"test"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_lookup",
                "name": "lookup",
                "arguments": '{"query":"test"}',
            },
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {
                "id": "ctc_2",
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": "patch",
            },
        },
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
    )
    by_index: dict[int, str] = {}
    ids: dict[int, str] = {}
    for c in _tool_deltas(evs):
        body = c.get("custom") or c.get("function") or {}
        by_index[c["index"]] = by_index.get(c["index"], "") + body.get("input", body.get("arguments", ""))
        if c.get("id"):
            ids[c["index"]] = c["id"]
    assert ids == {0: "call_lookup", 1: "call_apply"}
    assert by_index == {0: '{"query":', 1: "patch"} or by_index == {0: '{"query":"test"}', 1: "patch"}


def test_unannounced_custom_call_emits_complete_call() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_ToolCallOutputItemDoneFallbacks
    (unannounced custom call emits complete call)."""
    evs = _run(
        {
            "type": "response.output_item.done",
            "item": {
                "type": "custom_tool_call",
                "call_id": "call_apply",
                "name": "ApplyPatch",
                "input": "full patch",
            },
        }
    )
    calls = _tool_deltas(evs)
    assert calls[0]["id"] == "call_apply"
    body = calls[0].get("custom") or calls[0].get("function")
    assert body["name"] == "ApplyPatch"
    text = "".join(
        (c.get("custom") or c.get("function") or {}).get(
            "input", (c.get("function") or {}).get("arguments", "")
        )
        for c in calls
    )
    assert text == "full patch"


def test_announced_function_call_falls_back_to_done_arguments() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_ToolCallOutputItemDoneFallbacks
    (announced function call still falls back) and ..._ToolCallStateFallsBackFromUnknownItemID."""
    evs = _run(
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "function_call", "call_id": "call_1", "name": "TaskCreate", "arguments": ""},
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "call_id": "call_1",
                "name": "TaskCreate",
                "arguments": '{"subject":"test"}',
            },
        },
    )
    calls = _tool_deltas(evs)
    assert [c["index"] for c in calls] == [0] * len(calls)
    assert "".join((c.get("function") or {}).get("arguments", "") for c in calls) == '{"subject":"test"}'
    assert sum(1 for c in calls if c.get("id")) == 1


def test_nonstream_custom_tool_call() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAINonStream_CustomToolCall."""
    out = resp(
        CODEX,
        OPENAI,
        _whole(
            [
                {
                    "type": "custom_tool_call",
                    "call_id": "call_apply",
                    "name": "ApplyPatch",
                    "input": "full patch",
                }
            ]
        ),
        REQUEST,
    )
    call = get(out, "choices.0.message.tool_calls.0")
    assert call["id"] == "call_apply"
    body = call.get("custom") or call.get("function")
    assert body["name"] == "ApplyPatch"
    assert body.get("input", body.get("arguments")) == "full patch"
    assert get(out, "choices.0.finish_reason") == "tool_calls"


def test_stream_image_generation_call_done_emits_delta_images() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_StreamImageGenerationCallDoneEmitsDeltaImages
    (we send the final image; CPA also streams partial previews).
    CPA: TestConvertCodexResponseToOpenAI_StreamPartialImageEmitsDeltaImages, that difference."""
    evs = _run(
        {
            "type": "response.output_item.done",
            "item": {
                "id": "ig_123",
                "type": "image_generation_call",
                "output_format": "jpeg",
                "result": "Ymll",
            },
        },
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
    )
    images = [i for d in _deltas(evs) for i in d.get("images") or ()]
    assert [get(i, "image_url.url") for i in images] == ["data:image/jpeg;base64,Ymll"]


def test_nonstream_image_generation_call_adds_message_images() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_NonStreamImageGenerationCallAddsMessageImages."""
    out = resp(
        CODEX,
        OPENAI,
        _whole(
            [
                {"type": "message", "content": [{"type": "output_text", "text": "ok"}]},
                {"type": "image_generation_call", "output_format": "png", "result": "aGVsbG8="},
            ]
        ),
        REQUEST,
    )
    assert get(out, "choices.0.message.images.0.image_url.url") == "data:image/png;base64,aGVsbG8="


_USAGE = {
    "input_tokens": 100,
    "output_tokens": 20,
    "total_tokens": 120,
    "output_tokens_details": {"reasoning_tokens": 5},
}


def _check_usage(usage: dict[str, Any], cache_write: int | None) -> None:
    assert usage["prompt_tokens"] == 100 and usage["completion_tokens"] == 20 and usage["total_tokens"] == 120
    assert get(usage, "prompt_tokens_details.cached_tokens") == 30
    assert get(usage, "completion_tokens_details.reasoning_tokens") == 5
    if cache_write:
        written = get(usage, "prompt_tokens_details.cached_creation_tokens") or get(
            usage, "prompt_tokens_details.cache_write_tokens"
        )
        assert written == cache_write


@pytest.mark.parametrize(
    ("details", "write"),
    [({"cached_tokens": 30, "cache_write_tokens": 40}, 40), ({"cached_tokens": 30}, None)],
    ids=["forwards cache write", "omits missing"],
)
def test_stream_usage_mapping(details: dict[str, Any], write: int | None) -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_StreamForwardsCacheWriteTokens /
    ..._StreamOmitsMissingCacheWriteTokens (the cache-write field name is ours)."""
    evs = _run(
        {
            "type": "response.created",
            "response": {"id": "resp_123", "created_at": 1700000000, "model": "gpt-5.4"},
        },
        {
            "type": "response.completed",
            "response": {"id": "resp_123", "usage": {**_USAGE, "input_tokens_details": details}},
        },
    )
    usage = next(e["usage"] for e in evs if e.get("usage"))
    _check_usage(usage, write)


@pytest.mark.parametrize(
    ("details", "write"),
    [({"cached_tokens": 30, "cache_write_tokens": 40}, 40), ({"cached_tokens": 30}, None)],
    ids=["forwards cache write", "omits missing"],
)
def test_nonstream_usage_mapping(details: dict[str, Any], write: int | None) -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_NonStreamForwardsCacheWriteTokens /
    ..._NonStreamOmitsMissingCacheWriteTokens."""
    body = _whole([{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}])
    body["usage"] = {**_USAGE, "input_tokens_details": details}
    _check_usage(resp(CODEX, OPENAI, body, REQUEST)["usage"], write)


def test_nonstream_multi_message_empty_trailing_keeps_content() -> None:
    """codex_openai_response_test.go TestConvertCodexResponseToOpenAI_NonStreamMultiMessageEmptyTrailingKeepsContent."""
    out = resp(
        CODEX,
        OPENAI,
        _whole(
            [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "the real answer"}]},
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking again"}]},
                {"type": "message", "content": [{"type": "output_text", "text": ""}]},
            ]
        ),
        REQUEST,
    )
    assert get(out, "choices.0.message.content") == "the real answer"
