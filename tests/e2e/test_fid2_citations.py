"""A Claude web search's citations, for a Responses client (the openai SDK's
``responses.create`` on a Claude model with the ``web_search`` tool).

Claude cites the pages a server-side web search found on the text blocks of its answer
(``citations``: ``web_search_result_location`` with the page's URL and title). A Responses
client reads a cited source as a ``url_citation`` annotation on the ``output_text`` part
(``start_index`` / ``end_index`` of the cited span in the part's text). The proxy left every
annotation list empty, so the answer reached the client with no sources. CPA's Claude to
Responses translator keeps them (``TestConvertClaudeResponseToOpenAIResponses_AggregatesTextBlocksUntilMessageStop``
asserts the annotation; it passes Claude's citation object as it is, where this gives the
``url_citation`` the Responses API defines).

Streamed, Claude sends each citation as a ``citations_delta`` of its text block; the stream
merges Claude's text blocks into one part, where the page spans the cited block's text, and
the Responses API announces it with ``response.output_text.annotation.added`` before the part
is done. A Chat client's whole answer gets the page as ``message.annotations`` (as OpenAI's
search models write it; CPA's Claude to Chat translator drops it); a streamed Chat answer
does not (see ``test_streamed_chat_answer``). A Claude client gets Claude's stream unchanged.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from aiohttp import web

from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer
from tests.fakes.raw_sse import claude_event

URL, TITLE = "https://weather.example/paris", "Paris weather"
CITATION = {
    "type": "web_search_result_location",
    "url": URL,
    "title": TITLE,
    "encrypted_index": "EoYB",
    "cited_text": "Sunny, 24 degrees.",
}
USE = {
    "type": "server_tool_use",
    "id": "srvtoolu_1",
    "name": "web_search",
    "input": {"query": "paris weather"},
}
FOUND = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {
            "type": "web_search_result",
            "url": URL,
            "title": TITLE,
            "encrypted_content": "Eq0",
            "page_age": None,
        }
    ],
}
LEAD, CITED = "Here is the forecast. ", "It is sunny in Paris."
BLOCKS: list[dict[str, Any]] = [
    USE,
    FOUND,
    {"type": "text", "text": LEAD},
    {"type": "text", "text": CITED, "citations": [CITATION]},
]
MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6"}
USAGE = {"input_tokens": 10, "output_tokens": 7}


def _stream() -> bytes:
    start = {**MESSAGE, "content": [], "stop_reason": None, "stop_sequence": None, "usage": USAGE}
    out = [claude_event("message_start", message=start)]
    for i, b in enumerate(BLOCKS):
        if b["type"] != "text":
            out.append(claude_event("content_block_start", index=i, content_block=b))
        else:
            out.append(
                claude_event("content_block_start", index=i, content_block={"type": "text", "text": ""})
            )
            for c in b.get("citations", []):
                out.append(
                    claude_event(
                        "content_block_delta", index=i, delta={"type": "citations_delta", "citation": c}
                    )
                )
            out.append(
                claude_event("content_block_delta", index=i, delta={"type": "text_delta", "text": b["text"]})
            )
        out.append(claude_event("content_block_stop", index=i))
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    out.append(claude_event("message_delta", delta=delta, usage=USAGE))
    return b"".join([*out, claude_event("message_stop")])


class CitingClaude(LocalServer):
    """A Claude upstream whose answer cites a page its web search found."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        if not body.get("stream"):
            whole = {
                **MESSAGE,
                "content": BLOCKS,
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": USAGE,
            }
            return web.json_response(whole)
        return web.Response(body=_stream(), content_type="text/event-stream")


@pytest.fixture
async def upstream():
    async with CitingClaude() as u:
        yield u


def _config(base: str) -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-up"
    base-url: "http://127.0.0.1:{base}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "cl"
"""


def _check(text: str, annotations: list[Any]) -> None:
    """The cited sentence's span in ``text`` carries the page as a ``url_citation``."""
    start = text.index(CITED)
    cites = [a for a in annotations if a.get("type") == "url_citation"]
    assert cites == [
        {
            "type": "url_citation",
            "start_index": start,
            "end_index": start + len(CITED),
            "url": URL,
            "title": TITLE,
        }
    ]


async def test_whole_answer_keeps_the_citation(start_proxy, upstream) -> None:
    proxy = await start_proxy(_config(upstream.port))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        resp = await client.responses.create(
            model="cl", input="weather in Paris?", tools=[{"type": "web_search"}]
        )
    texts = [p for o in resp.output if o.type == "message" for p in o.content if p.type == "output_text"]
    assert "".join(p.text for p in texts) == LEAD + CITED  # one part per Claude text block
    cited = next(p for p in texts if CITED in p.text)
    _check(cited.text, [a.model_dump() for a in cited.annotations])
    assert all(not p.annotations for p in texts if p is not cited)


async def test_streamed_answer_keeps_the_citation(start_proxy, upstream) -> None:
    proxy = await start_proxy(_config(upstream.port))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.responses.create(
            model="cl", input="weather in Paris?", tools=[{"type": "web_search"}], stream=True
        )
        evs = [e async for e in stream]
    resp = next(e for e in evs if e.type == "response.completed").response
    texts = [p for o in resp.output if o.type == "message" for p in o.content if p.type == "output_text"]
    assert [p.text for p in texts] == [LEAD + CITED]  # the stream merges Claude's text blocks
    _check(texts[0].text, [a.model_dump() for a in texts[0].annotations])
    (added,) = [e for e in evs if e.type == "response.output_text.annotation.added"]
    done = next(e for e in evs if e.type == "response.output_item.done" and e.item.type == "message")
    assert (added.item_id, added.output_index, added.content_index) == (done.item.id, done.output_index, 0)
    assert added.annotation_index == 0
    _check(texts[0].text, [added.annotation.model_dump()])
    part = next(e for e in evs if e.type == "response.content_part.done").part
    _check(part.text, [a.model_dump() for a in part.annotations])


async def test_stream_helper_final_response_keeps_the_citation(start_proxy, upstream) -> None:
    proxy = await start_proxy(_config(upstream.port))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.stream(
            model="cl", input="weather in Paris?", tools=[{"type": "web_search"}]
        ) as stream:
            resp = await stream.get_final_response()
    (part,) = [p for o in resp.output if o.type == "message" for p in o.content]
    _check(part.text, [a.model_dump() for a in part.annotations])


async def test_whole_chat_answer_keeps_the_citation(start_proxy, upstream) -> None:
    proxy = await start_proxy(_config(upstream.port))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        resp = await client.chat.completions.create(
            model="cl", messages=[{"role": "user", "content": "weather in Paris?"}]
        )
    msg = resp.choices[0].message
    assert msg.content == LEAD + CITED
    (note,) = msg.annotations or []
    start = len(LEAD)
    assert note.type == "url_citation"
    assert note.url_citation.model_dump() == {
        "url": URL,
        "title": TITLE,
        "start_index": start,
        "end_index": start + len(CITED),
    }


async def test_streamed_chat_answer(start_proxy, upstream) -> None:
    """No annotations streamed to a Chat client (a difference from the whole answer, on
    purpose): each ``url_citation`` needs the character offset of its block in ``content``,
    which the Chat encoder would have to count on every text delta of every Chat stream;
    CPA's Claude to Chat translator sends none either. The text is whole."""
    proxy = await start_proxy(_config(upstream.port))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.chat.completions.stream(
            model="cl", messages=[{"role": "user", "content": "weather in Paris?"}]
        ) as stream:
            done = await stream.get_final_completion()
    assert done.choices[0].message.content == LEAD + CITED
    assert not done.choices[0].message.annotations


async def test_claude_client_gets_claude_stream_unchanged(start_proxy, upstream) -> None:
    """A Claude client of a Claude upstream: each ``citations_delta`` frame arrives byte for
    byte, and the anthropic SDK puts the citation on the text block."""
    proxy = await start_proxy(_config(upstream.port))
    body = {
        "model": "cl",
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "weather in Paris?"}],
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(proxy.url + "/v1/messages", json=body, headers={"x-api-key": KEY}) as r:
            assert r.status == 200
            got = await r.read()
    frames = [f for f in _stream().split(b"\n\n") if b"citations_delta" in f]
    assert frames and all(f + b"\n\n" in got for f in frames)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="cl", max_tokens=64, messages=[{"role": "user", "content": "weather in Paris?"}]
        ) as stream:
            msg = await stream.get_final_message()
    cited = [b for b in msg.content if b.type == "text" and b.citations]
    assert [(b.text, [c.model_dump() for c in b.citations or ()]) for b in cited] == [(CITED, [CITATION])]
