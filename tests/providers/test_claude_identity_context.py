"""CPA's TestInjectClaudeCodeContextManagement: the captured Claude Code 2.1.220 object,
added only when thinking is on and the caller sent none."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.providers.claude_cloak import inject_context_management

CAPTURED = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}


@pytest.mark.parametrize("kind", ["enabled", "adaptive"])
def test_thinking_on_gets_the_captured_object(kind: str) -> None:
    body: dict[str, Any] = {"model": "claude-opus-5", "thinking": {"type": kind}}
    assert inject_context_management(body) is True
    assert orjson.dumps(body["context_management"]) == orjson.dumps(CAPTURED)


def test_the_callers_own_object_is_kept() -> None:
    body: dict[str, Any] = {"model": "claude-opus-4-6", "context_management": {"edits": []}}
    before = orjson.dumps(body)
    assert inject_context_management(body) is False
    assert orjson.dumps(body) == before


@pytest.mark.parametrize(
    "thinking",
    [{"type": "disabled"}, None, {"type": "unexpected"}],
    ids=["disabled", "omitted", "unknown"],
)
def test_thinking_off_gets_nothing(thinking: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"model": "claude-opus-5"}
    if thinking is not None:
        body["thinking"] = thinking
    before = orjson.dumps(body)
    assert inject_context_management(body) is False
    assert orjson.dumps(body) == before
