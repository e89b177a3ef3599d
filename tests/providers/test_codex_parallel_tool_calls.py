"""``parallel_tool_calls`` on the body the Codex provider sends (CPA
internal/runtime/executor/codex_executor_parallel_tool_calls_test.go)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.codex import CodexProvider

LOOKUP = [{"type": "function", "name": "lookup"}]


def sent(body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    provider = CodexProvider()
    provider.image_mode = "all"  # disable-image-generation: no image tool joins the list (CPA's case)
    cred = Credential(id="c", provider="codex", api_key="k")
    up = provider.build(cred, body, model="gpt-5.4", stream=True, client_headers=headers or {})
    out: dict[str, Any] = orjson.loads(up.body)
    return out


@pytest.mark.parametrize("tools", [None, []], ids=["missing", "empty"])
def test_dropped_without_tools(tools: list[Any] | None) -> None:
    """CPA TestNormalizeCodexParallelToolCallsForTools_DropsWhenToolsMissing and
    TestNormalizeCodexParallelToolCallsForTools_DropsWhenToolsEmpty (the tools list stays)."""
    body: dict[str, Any] = {"model": "gpt-5.4", "parallel_tool_calls": True, "input": "hi"}
    if tools is not None:
        body["tools"] = tools
    out = sent(body)
    assert "parallel_tool_calls" not in out
    assert ("tools" in out) == (tools is not None)


def test_kept_with_tools() -> None:
    """CPA: TestNormalizeCodexParallelToolCallsForTools_PreservesWhenToolsPresent"""
    out = sent({"model": "gpt-5.4", "tools": LOOKUP, "parallel_tool_calls": True, "input": "hi"})
    assert out["parallel_tool_calls"] is True


def test_responses_lite_metadata_forces_false() -> None:
    """CPA: TestNormalizeCodexParallelToolCalls_ResponsesLiteMetadataForcesFalse"""
    meta = {"ws_request_header_x_openai_internal_codex_responses_lite": "true"}
    body = {
        "model": "gpt-5.4",
        "tools": LOOKUP,
        "parallel_tool_calls": True,
        "client_metadata": meta,
        "input": "hi",
    }
    assert sent(body)["parallel_tool_calls"] is False


def test_responses_lite_header_forces_false() -> None:
    """CPA: TestNormalizeCodexParallelToolCalls_ResponsesLiteHeaderForcesFalse"""
    body = {"model": "gpt-5.4", "parallel_tool_calls": True, "input": "hi"}
    assert sent(body, {"X-OpenAI-Internal-Codex-Responses-Lite": "true"})["parallel_tool_calls"] is False


def test_the_image_tool_counts_as_a_tool() -> None:
    """The image_generation tool CPA adds first (image generation on) keeps the flag."""
    body = {"model": "gpt-5.4", "parallel_tool_calls": True, "input": "hi"}
    cred = Credential(id="c", provider="codex", api_key="k")
    up = CodexProvider().build(cred, body, model="gpt-5.4", stream=True, client_headers={})
    out = orjson.loads(up.body)
    assert out["tools"][0]["type"] == "image_generation" and out["parallel_tool_calls"] is True
