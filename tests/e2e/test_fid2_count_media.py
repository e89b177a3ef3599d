"""count_tokens of a request with an inline image or PDF, against upstreams the proxy counts
locally (Codex, OpenAI-compatible Chat).

Claude Code's ``/context`` (and any anthropic SDK program that budgets its context with
``messages.count_tokens``) asks for counts on a model the proxy routes to Codex or to an
OpenAI-compatible provider. CPA's local counters read a Chat ``image_url`` by its URL, a Chat
``file`` part and a Responses ``function_call_output`` array as raw JSON, so an image sent
inline (a ``data:`` URL: a screenshot a tool returned, a pasted image, a PDF) was counted as
its base64 text: a 300 KB screenshot read as about 270,000 tokens, more than the whole context
window, while the same image in a Codex user message counted nothing. Here inline media count
nothing wherever they sit (a remote image URL is still counted by its URL, as CPA counts it);
their text parts still count.
"""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import ScriptedUpstream, config

# a 300 KB picture and PDF: about 270,000 tokens when their base64 is counted as text
BLOB = base64.b64encode(bytes(range(256)) * 1200).decode()
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": BLOB}}
PDF = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": BLOB}}
TOOLS: Any = [{"name": "Read", "description": "Read a file", "input_schema": TOOL_SCHEMA}]
SLACK = 50  # what a media part may add (a file name, a separator): nothing like its size


@pytest.fixture
async def up():
    async with ScriptedUpstream() as u:
        yield u


def _tool_turn(result: list[Any]) -> list[Any]:
    return [
        {"role": "user", "content": "Take a screenshot of the page."},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}]},
    ]


CASES = {
    "tool-result-image": (
        _tool_turn([{"type": "text", "text": "Saved shot.png"}, IMAGE]),
        _tool_turn([{"type": "text", "text": "Saved shot.png"}]),
    ),
    "user-image": (
        [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}, IMAGE]}],
        [{"role": "user", "content": [{"type": "text", "text": "What is in this picture?"}]}],
    ),
    "user-pdf": (
        [{"role": "user", "content": [{"type": "text", "text": "Summarise this paper."}, PDF]}],
        [{"role": "user", "content": [{"type": "text", "text": "Summarise this paper."}]}],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("model", ["up-codex", "up-chat"])
async def test_inline_media_are_not_counted_as_text(start_proxy, up, model: str, case: str) -> None:
    proxy = await start_proxy(config(up.url, KEY))
    with_media, without = CASES[case]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        plain = await client.messages.count_tokens(model=model, messages=without, tools=TOOLS)
        media = await client.messages.count_tokens(model=model, messages=with_media, tools=TOOLS)
    assert plain.input_tokens > 0
    assert plain.input_tokens <= media.input_tokens <= plain.input_tokens + SLACK
    assert up.requests == []  # counted here, nothing sent upstream
