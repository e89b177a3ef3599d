"""CPA internal/translator/codex/openai/chat-completions (codex_openai_request_test.go,
codex_openai_response_test.go, noop_optimization_test.go): a Chat Completions client with
a Codex upstream, the cases not ported in test_codex_openai_request.py / _response.py."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from tests.translate.cpa._run import CODEX, OPENAI, events, req, resp, sse, stream

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "x"}]}


def usage(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "input_tokens": 100,
        "output_tokens": 20,
        "total_tokens": 120,
        "input_tokens_details": details,
        "output_tokens_details": {"reasoning_tokens": 5},
    }


def chat_usage(u: dict[str, Any], whole: bool) -> dict[str, Any]:
    done = {"id": "resp_123", "created_at": 1700000000, "model": "gpt-5.4", "status": "completed", "usage": u}
    if whole:
        out = [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}]
        return resp(CODEX, OPENAI, {**done, "object": "response", "output": out}, CHAT)["usage"]
    created = {"type": "response.created", "response": {"id": "resp_123", "model": "gpt-5.4"}}
    data = sse(created, {"type": "response.completed", "response": done})
    chunks = events(
        stream(CODEX, OPENAI, data, {**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    )
    return next(c["usage"] for c in reversed(chunks) if c.get("usage"))


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])
@pytest.mark.parametrize("write", [None, 0, 7], ids=["missing", "zero", "seven"])
def test_usage_mapping_and_cache_writes(whole: bool, write: int | None) -> None:
    """CPA: TestConvertCodexResponseToOpenAI_NonStreamOmitsMissingCacheWriteTokens,
    TestConvertCodexResponseToOpenAI_StreamOmitsMissingCacheWriteTokens,
    TestConvertCodexResponseToOpenAI_NonStreamPreservesExplicitZeroCacheWriteTokens,
    TestConvertCodexResponseToOpenAI_StreamPreservesExplicitZeroCacheWriteTokens. Every count
    maps; cache writes go to ``cached_creation_tokens`` when there are some. A difference: an
    explicit zero is left out like a missing count (the same number; CPA writes the zero)."""
    details: dict[str, Any] = {"cached_tokens": 30}
    if write is not None:
        details["cache_write_tokens"] = write
    got = chat_usage(usage(details), whole)
    assert (got["prompt_tokens"], got["completion_tokens"], got["total_tokens"]) == (100, 20, 120)
    assert got["prompt_tokens_details"]["cached_tokens"] == 30
    assert got["completion_tokens_details"]["reasoning_tokens"] == 5
    assert got["prompt_tokens_details"].get("cached_creation_tokens") == (write or None)


def test_call_done_with_an_item_id_unseen_at_start() -> None:
    """CPA: TestConvertCodexResponseToOpenAI_ToolCallStateFallsBackFromUnknownItemID: the
    added item had no id, the done item has one; the arguments still land on call 0 and the
    name and id are not sent twice."""
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {"type": "function_call", "call_id": "call_1", "name": "TaskCreate", "arguments": ""},
    }
    done = {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "TaskCreate",
            "arguments": '{"subject":"test"}',
        },
    }
    chunks = events(stream(CODEX, OPENAI, sse(added, done), {**CHAT, "stream": True}))
    calls = [tc for c in chunks if c.get("choices") for tc in c["choices"][0]["delta"].get("tool_calls", ())]
    assert "".join(tc.get("function", {}).get("name", "") for tc in calls) == "TaskCreate"
    assert [tc["id"] for tc in calls if "id" in tc] == ["call_1"]
    assert {tc["index"] for tc in calls} == {0}
    assert "".join(tc["function"].get("arguments", "") for tc in calls) == '{"subject":"test"}'


def test_whole_answer_is_the_assistants() -> None:
    """CPA: TestConvertCodexResponseToOpenAINonStreamKeepsAssistantRole."""
    body = {
        "status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "hello"}]}],
    }
    msg = resp(CODEX, OPENAI, body, CHAT)["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "hello"}


def test_custom_tool_call_round_trip() -> None:
    """CPA: TestCustomToolCallResponseFollowUpRoundTrip. A difference: the client declared a
    ``custom`` tool, so the call comes back in Chat's own custom shape (``custom.input``),
    where CPA dresses it as a function; the follow-up turn is the same on the Codex wire."""
    tools = [{"type": "custom", "name": "apply_patch", "description": "Apply a patch."}]
    first = {
        "model": "gpt-5.6-sol",
        "messages": [{"role": "user", "content": "Apply the patch."}],
        "tools": tools,
    }
    answer = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": [
            {"type": "custom_tool_call", "call_id": "call_patch", "name": "apply_patch", "input": "patch"}
        ],
    }
    msg = resp(CODEX, OPENAI, answer, first)["choices"][0]["message"]
    assert msg["tool_calls"] == [
        {"id": "call_patch", "type": "custom", "custom": {"name": "apply_patch", "input": "patch"}}
    ]
    follow = {
        **first,
        "messages": [
            *first["messages"],
            msg,
            {"role": "tool", "tool_call_id": "call_patch", "content": "patched"},
        ],
    }
    items = req(OPENAI, CODEX, follow)["input"]
    assert [i["type"] for i in items] == ["message", "custom_tool_call", "custom_tool_call_output"]
    assert items[2] == {"type": "custom_tool_call_output", "call_id": "call_patch", "output": "patched"}


def test_reused_call_id_across_rounds_keeps_each_output_kind() -> None:
    """CPA: TestToolCallHistoryAllowsReusedCallIDAcrossRounds."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Run the first tool."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_reused", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_reused", "content": "found"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_reused", "type": "custom", "custom": {"name": "apply_patch", "input": "patch"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_reused", "content": "patched"},
    ]
    items = req(OPENAI, CODEX, {"model": "gpt-5.6-sol", "messages": messages})["input"]
    assert [i["type"] for i in items] == [
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
    ]


def test_tool_output_that_is_not_text() -> None:
    """CPA: TestToolCallOutputWithNonStringJSONContent. A difference: Chat's tool message
    content is a string, an array of parts or null; a null is an empty output (CPA writes
    ``null``) and a JSON object is refused with a 400 naming the field (CPA sends its text)."""

    def body(content: Any) -> dict[str, Any]:
        call = {"id": "call_json", "type": "function", "function": {"name": "inspect", "arguments": "{}"}}
        return {
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": "Check tool output."},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_json", "content": content},
            ],
        }

    assert req(OPENAI, CODEX, body(None))["input"][2] == {
        "type": "function_call_output",
        "call_id": "call_json",
        "output": "",
    }
    with pytest.raises(RequestError, match=r"messages\[2\]\.content"):
        req(OPENAI, CODEX, body({"status": "ok", "count": 2}))
