"""Chat Completions content parts of other APIs' spellings and of unknown types.

A ``document`` / ``input_file`` part (the Interactions / Responses spelling some clients
send in Chat content, which CPA's Chat to Interactions reader takes) is a file for every
upstream. A part of a type nobody knows goes to a Chat upstream as the client sent it; no
other upstream format has a place for it, so the request is refused with a 400 in
OpenAI's error shape that names the part and its type, before any upstream is called.

Deliberate difference: CPA's Chat translators to Claude, Gemini, Codex and Antigravity
switch on the part types they know and let every other part fall away without a word, so
a message made only of such parts reaches the upstream empty and the model answers a
question the client never asked.
"""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from tests.e2e.clients import KEY

UNKNOWN = {"type": "spreadsheet", "sheet": "a,b\n1,2"}
DOCUMENT = {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0xLjQK"}


def messages(*parts: dict[str, Any]) -> Any:
    return [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "read this"}, *parts]},
    ]


@pytest.mark.parametrize(
    ("model", "fake"),
    [("claude-model", "claude"), ("gemini-model", "gemini"), ("codex-model", "responses")],
)
async def test_an_unknown_part_is_refused_for_another_format(matrix: Any, model: str, fake: str) -> None:
    """Claude, Gemini and Codex upstreams: a 400 naming ``messages[1].content[1]`` and
    its type; the upstream hears nothing."""
    upstream = getattr(matrix.fakes, fake)
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as err:
            await client.chat.completions.create(model=model, messages=messages(UNKNOWN), max_tokens=16)
    body = err.value.body
    assert isinstance(body, dict)
    assert "'spreadsheet'" in body["message"] and "messages[1].content[1]" in body["message"]
    assert body["type"] == "invalid_request_error"
    assert body["param"] == "messages[1].content[1].type"
    assert upstream.requests == []


async def test_an_unknown_part_of_a_tool_result_is_refused(matrix: Any) -> None:
    """A tool message's parts count too: its unknown part cannot ride to Claude either."""
    history: Any = [
        {"role": "user", "content": "run it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "blob", "blob": "x"}]},
    ]
    tools: Any = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as err:
            await client.chat.completions.create(model="claude-model", messages=history, tools=tools)
    assert "'blob'" in str(err.value) and "messages[2].content[0]" in str(err.value)
    assert matrix.fakes.claude.requests == []


async def test_an_unknown_part_reaches_a_chat_upstream_as_sent(matrix: Any) -> None:
    """An OpenAI-compatible upstream gets the parts where the client put them."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model="compat-model", messages=messages(UNKNOWN, DOCUMENT), max_tokens=16
        )
    sent = orjson.loads(matrix.fakes.openai.last.body)
    assert sent["messages"][1]["content"][1:] == [UNKNOWN, DOCUMENT]


# where each upstream's body holds DOCUMENT, and the keys that say it is that file
DATA_URL = f"data:application/pdf;base64,{DOCUMENT['data']}"
DOCUMENT_UPSTREAM: Any = {
    "claude": (
        lambda b: b["messages"][0]["content"][1],
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": DOCUMENT["data"]},
        },
    ),
    "gemini": (
        lambda b: b["contents"][0]["parts"][1],
        {"inlineData": {"mimeType": "application/pdf", "data": DOCUMENT["data"]}},
    ),
    "responses": (lambda b: b["input"][-1]["content"][1], {"type": "input_file", "file_data": DATA_URL}),
}


@pytest.mark.parametrize(
    ("model", "fake"),
    [("claude-model", "claude"), ("gemini-model", "gemini"), ("codex-model", "responses")],
)
async def test_a_document_part_is_a_file_for_every_upstream(matrix: Any, model: str, fake: str) -> None:
    """CPA: TestConvertOpenAIRequestToInteractionsPreservesRawFileDataWithMIMEType reads
    ``{"type": "document", "mime_type", "data"}`` in Chat content as a document. Differs:
    CPA's readers for the other upstreams drop it; here each gets the file in its own
    form (a Claude document, Gemini inlineData, a Responses input_file)."""
    upstream = getattr(matrix.fakes, fake)
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model=model, messages=messages(DOCUMENT), max_tokens=16)
    where, want = DOCUMENT_UPSTREAM[fake]
    part = where(orjson.loads(upstream.last.body))
    assert {k: part.get(k) for k in want} == want
