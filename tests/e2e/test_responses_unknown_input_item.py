"""A Responses ``input`` item whose ``type`` the proxy does not know.

Decision, by CPA: such an item is not refused. For a Claude, Chat Completions or Gemini
model it is left out and the rest of the conversation goes up; a Codex model gets the input
as sent, so OpenAI's own API judges it. CPA's ``ConvertOpenAIResponsesRequestToGemini`` /
``...ToClaude`` / ``...ToOpenAI`` switch on the item type with no default (an unknown item
adds nothing) and its Codex translator passes ``input`` through; no CPA test refuses an
unknown item (the nearest, ``TestCodexLocalCompactionSummaryAdditionalToolsConstraints``'s
"arbitrary input item" row, only checks that such an item is not taken for another kind).

Deliberate difference from OpenAI's API, which answers 400 ``invalid_value`` for an item
type it does not list: the proxy cannot tell a new OpenAI item type from a wrong one (the
list grows with every new server tool: ``web_search_call``, ``image_generation_call``,
``mcp_call``...), and refusing the new ones would break Codex clients that use them."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY

ITEM = {"type": "future_item", "id": "fi_1", "payload": {"a": 1}}


@pytest.mark.parametrize(
    ("model", "fake", "sent_of"),
    [
        ("claude-model", "claude", lambda b: b["messages"]),
        ("compat-model", "openai", lambda b: b["messages"]),
        ("gemini-model", "gemini", lambda b: b["contents"]),
        ("codex-model", "responses", lambda b: b["input"]),
    ],
)
async def test_an_unknown_input_item(matrix: Any, model: str, fake: str, sent_of: Any) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(
            model=model,
            input=[ITEM, {"role": "user", "content": "hi"}],  # type: ignore[list-item]
        )
    assert done.status == "completed" and done.output_text
    sent = sent_of(getattr(matrix.fakes, fake).last.json)
    if fake == "responses":
        assert sent[0] == ITEM
        return
    assert "future_item" not in str(sent)
    assert len(sent) == 1 and sent[0]["role"] == "user"
