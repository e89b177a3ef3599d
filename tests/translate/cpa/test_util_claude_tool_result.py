"""CPA internal/util/claude_tool_result_test.go: a Claude tool_result's content as other
families get it, seen through a Claude request built for a Chat upstream.

CPA's helper returns the text result and the images apart; for Chat the text is the
tool message and the images follow it in a user message (OpenAI takes only text in a
tool message)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.translate.cpa._run import CLAUDE, OPENAI, req

PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="}}
NO_DATA = {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
ABSENT = object()


def to_chat(content: Any) -> list[dict[str, Any]]:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": "toolu_1"}
    if content is not ABSENT:
        result["content"] = content
    body = {
        "model": "claude-x",
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "look", "input": {}}],
            },
            {"role": "user", "content": [result]},
        ],
    }
    msgs: list[dict[str, Any]] = req(CLAUDE, OPENAI, body, "gpt-5")["messages"]
    return msgs


def images(msgs: list[dict[str, Any]]) -> list[str]:
    return [
        p["image_url"]["url"]
        for m in msgs[2:]
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if p.get("type") == "image_url"
    ]


@pytest.mark.parametrize(
    ("content", "result", "n_images"),
    [
        ("alpha", "alpha", 0),
        ([{"type": "text", "text": "alpha"}], "alpha", 0),
        (
            [{"type": "text", "text": "alpha"}, {"type": "text", "text": "beta"}],
            [{"type": "text", "text": "alpha"}, {"type": "text", "text": "beta"}],
            0,
        ),
        ([{"type": "text", "text": "alpha"}, PNG], "alpha", 1),
        ([PNG], "", 1),
        ([NO_DATA], "", 0),
        ({"foo": "bar"}, {"foo": "bar"}, 0),
        (PNG, "", 1),
        (ABSENT, "", 0),
    ],
    ids=[
        "StringContent",
        "SingleTextBlock",
        "MultipleTextBlocks",
        "TextAndImage",
        "ImageOnly",
        "ImageWithoutDataDropped",
        "ObjectContent",
        "ObjectImage",
        "AbsentContent",
    ],
)
def test_convert_claude_tool_result_content(content: Any, result: Any, n_images: int) -> None:
    """TestConvertClaudeToolResultContent."""
    msgs = to_chat(content)
    tool = msgs[1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "toolu_1"
    got = tool["content"]
    if isinstance(result, dict):
        got = orjson.loads(got)
    assert got == result
    assert len(images(msgs)) == n_images


def test_convert_claude_tool_result_content_image_fields() -> None:
    """TestConvertClaudeToolResultContent_ImageFields."""
    assert images(to_chat([PNG])) == ["data:image/png;base64,aGVsbG8="]
