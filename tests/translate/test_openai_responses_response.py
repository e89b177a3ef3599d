"""Whole Responses objects: parse (upstream -> IR) and build (IR -> client)."""

from __future__ import annotations

import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.openai_responses import ADAPTER, CODEX_ADAPTER

UPSTREAM = {
    "id": "resp_123",
    "object": "response",
    "created_at": 1763700000,
    "status": "completed",
    "model": "gpt-5.4",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Plan."}],
            "encrypted_content": "ENC",
        },
        {
            "id": "msg_1",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi there", "annotations": []}],
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"q":1}',
            "namespace": "crm",
        },
        {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_2", "name": "patch", "input": "*** x"},
        {"id": "ws_1", "type": "web_search_call", "status": "completed"},
    ],
    "usage": {
        "input_tokens": 200,
        "input_tokens_details": {"cached_tokens": 150},
        "output_tokens": 50,
        "output_tokens_details": {"reasoning_tokens": 30},
        "total_tokens": 250,
    },
}


def test_parse_response_blocks_usage_and_stop():
    resp = ADAPTER.parse_response(UPSTREAM)
    kinds = [type(b).__name__ for b in resp.content]
    assert kinds == ["Thinking", "Text", "ToolCall", "ToolCall", "ServerTool"]
    th = resp.content[0]
    assert (th.text, th.signature, th.family, th.id) == ("Plan.", "ENC", "openai", "rs_1")
    call = resp.content[2]
    assert (call.id, call.name, call.namespace, call.arguments) == ("call_1", "lookup", "crm", '{"q":1}')
    assert resp.content[3].kind == "custom" and resp.content[3].arguments == "*** x"
    assert resp.stop_reason == "tool_use"
    assert resp.usage == ir.Usage(200, 50, cache_read_tokens=150, reasoning_tokens=30, total_tokens=250)
    assert resp.id == "resp_123" and resp.model == "gpt-5.4"


@pytest.mark.parametrize(
    ("status", "details", "stop"),
    [
        ("completed", None, "end_turn"),
        ("incomplete", {"reason": "max_output_tokens"}, "max_tokens"),
        ("incomplete", {"reason": "content_filter"}, "content_filter"),
        ("failed", None, "error"),
    ],
)
def test_parse_response_stop_reasons(status, details, stop):
    body = {
        "id": "resp_1",
        "model": "m",
        "status": status,
        "incomplete_details": details,
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]}
        ],
    }
    assert CODEX_ADAPTER.parse_response(body).stop_reason == stop


def test_build_response_same_family_round_trip():
    resp = ADAPTER.parse_response(UPSTREAM)
    out = ADAPTER.build_response(resp, None)
    assert out["object"] == "response" and out["status"] == "completed" and out["id"] == "resp_123"
    items = out["output"]
    assert items[0] == {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Plan."}],
        "encrypted_content": "ENC",
    }
    assert items[1]["content"] == [
        {"type": "output_text", "annotations": [], "logprobs": [], "text": "Hi there"}
    ]
    assert items[2] == {
        "id": "fc_1",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": '{"q":1}',
        "namespace": "crm",
    }
    assert items[3]["type"] == "custom_tool_call" and items[3]["input"] == "*** x"
    assert items[4] == UPSTREAM["output"][4]
    assert out["usage"]["input_tokens_details"]["cached_tokens"] == 150
    assert out["usage"]["output_tokens_details"]["reasoning_tokens"] == 30
    for key in ("parallel_tool_calls", "tool_choice", "tools", "text", "reasoning", "created_at"):
        assert key in out


def test_build_response_from_other_family():
    resp = ir.Response(
        id="msg_01",
        model="claude-x",
        source=Format.CLAUDE.value,
        stop_reason="max_tokens",
        content=[
            ir.Thinking("deep", signature="claude-sig", family="claude"),
            ir.Thinking("", signature="opaque", family="claude", redacted=True),
            ir.Text("a", citations=[{"type": "char_location"}]),
            ir.Text("b"),
            ir.ServerTool("claude", {"type": "server_tool_use"}),
        ],
        usage=ir.Usage(10, 5, cache_write_tokens=3),
    )
    out = ADAPTER.build_response(resp, None)
    assert out["id"] == "resp_msg_01"
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": "max_output_tokens"}
    reasoning, redacted, message = out["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "deep"}]
    # CPA's carrier: a Claude signature rides in encrypted_content, a redacted block behind a marker
    assert reasoning["encrypted_content"] == "claude-sig"
    assert redacted["encrypted_content"] == "claude-redacted-thinking:opaque"
    assert [p["text"] for p in message["content"]] == ["a", "b"]
    assert message["content"][0]["annotations"] == []  # Claude citations are not Responses annotations
    assert out["usage"]["input_tokens_details"]["cache_write_tokens"] == 3


def test_build_response_failed_carries_error():
    resp = ir.Response(
        id="r", model="m", stop_reason="error", extras={"error": {"code": "server_error", "message": "x"}}
    )
    out = ADAPTER.build_response(resp, None)
    assert out["status"] == "failed" and out["error"]["code"] == "server_error"
