"""Single CPA translator cases with no file of their own here:
claude/openai/responses TestSplitResponsesQualifiedFunctionCallFromAdditionalTools and the
bare-delta cases of claude/interactions and codex/interactions."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.formats import Format
from tests.translate.cpa._run import CLAUDE, CODEX, RESPONSES, events, resp, sse, stream


def test_qualified_claude_call_splits_by_additional_tools() -> None:
    """CPA: TestSplitResponsesQualifiedFunctionCallFromAdditionalTools: Claude calls
    ``mcp__node_repl__js``, which the Responses client declared as ``js`` in the namespace
    ``mcp__node_repl`` of an ``additional_tools`` item; the call comes back split."""
    request = {
        "model": "claude-x",
        "input": [
            {
                "type": "additional_tools",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "mcp__node_repl",
                        "tools": [{"type": "function", "name": "js"}],
                    }
                ],
            },
            {"role": "user", "content": "run"},
        ],
    }
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "mcp__node_repl__js", "input": {"code": "1"}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    call = resp(CLAUDE, RESPONSES, answer, request)["output"][0]
    assert (call["name"], call["namespace"], call["call_id"]) == ("js", "mcp__node_repl", "toolu_1")


@pytest.mark.parametrize(
    ("upstream", "chunk"),
    [
        (CLAUDE, {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
        (CODEX, {"type": "response.output_text.delta", "delta": "ok"}),
    ],
    ids=["claude", "codex"],
)
def test_a_bare_text_delta_is_an_interactions_step_delta(upstream: Format, chunk: dict[str, Any]) -> None:
    """CPA: TestConvertClaudeResponseToInteractionsStream, TestConvertCodexResponseToInteractionsStream:
    a text delta with nothing before it still reaches an Interactions client as a
    ``step.delta`` with its text."""
    evs = events(
        stream(upstream, Format.INTERACTIONS, sse(chunk), {"model": "m", "input": "hi", "stream": True})
    )
    deltas = [e["delta"] for e in evs if e.get("_event") == "step.delta"]
    assert deltas == [{"type": "text", "text": "ok"}]
