"""An OpenAI model's refusal, between the two OpenAI formats.

Chat Completions gives a refusal in ``message.refusal`` (``delta.refusal`` when streamed);
Responses as a ``refusal`` content part (``response.refusal.delta`` / ``.done``). The SDKs'
structured-output helpers read those: ``chat.completions.parse`` and ``responses.parse``
leave ``parsed`` empty on a refusal and would otherwise try to parse the refusal's words
as the schema's JSON. A Chat client on a Codex upstream, and a Responses client on an
OpenAI-compatible upstream, now get the refusal where their SDK looks for it; before, it
came as plain content / ``output_text`` and the helper raised a validation error. (CPA
writes no refusal field either way.)
"""

from __future__ import annotations

from typing import Any

import openai
import pydantic
import pytest

from tests.e2e.clients import KEY
from tests.e2e.fid_upstream import Scene, ScriptedUpstream, config

WORDS = "I can't help with that."


class Answer(pydantic.BaseModel):
    city: str


@pytest.fixture
async def up():
    async with ScriptedUpstream() as up:
        up.scene = Scene(text=WORDS, stop="refusal")
        yield up


@pytest.fixture
async def proxy(start_proxy: Any, up: ScriptedUpstream):
    return await start_proxy(config(up.url, KEY))


def client(proxy: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


ASK = [{"role": "user", "content": "Where is it?"}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_gets_a_codex_refusal_as_refusal(proxy, stream):
    async with client(proxy) as c:
        if stream:
            async with c.chat.completions.stream(model="up-codex", messages=ASK, response_format=Answer) as s:
                deltas = [e.delta for e in [ev async for ev in s] if e.type == "refusal.delta"]
                done = await s.get_final_completion()
            assert "".join(deltas) == WORDS
        else:
            done = await c.chat.completions.parse(model="up-codex", messages=ASK, response_format=Answer)
    msg = done.choices[0].message
    assert msg.refusal == WORDS
    assert not msg.content and msg.parsed is None


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_responses_client_gets_a_chat_refusal_as_refusal(proxy, stream):
    async with client(proxy) as c:
        if stream:
            async with c.responses.stream(model="up-chat", input=ASK, text_format=Answer) as s:
                kinds = [e.type async for e in s]
                done = await s.get_final_response()
            assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
            assert "response.output_text.delta" not in kinds
        else:
            done = await c.responses.parse(model="up-chat", input=ASK, text_format=Answer)
    [item] = done.output
    assert item.type == "message"
    assert [(p.type, getattr(p, "refusal", None)) for p in item.content] == [("refusal", WORDS)]
    assert done.output_parsed is None and done.output_text == ""


@pytest.mark.parametrize("form", ["field", "part"])
async def test_a_chat_refusal_in_history_reaches_codex_as_a_refusal_part(proxy, up, form):
    """The refusal a Chat client sends back in its history (``message.refusal``, as the SDK
    returned it, or a ``refusal`` content part) goes to Codex as the part it was; before,
    the field was dropped and the part went as ``output_text``."""
    said: Any = (
        {"role": "assistant", "refusal": WORDS, "content": None}
        if form == "field"
        else {"role": "assistant", "content": [{"type": "refusal", "refusal": WORDS}]}
    )
    async with client(proxy) as c:
        await c.chat.completions.create(model="up-codex", messages=[*ASK, said, *ASK])
    sent = [i for i in up.requests[-1]["input"] if i.get("role") == "assistant"]
    assert [p for i in sent for p in i["content"]] == [{"type": "refusal", "refusal": WORDS}]


async def test_a_chat_refusal_field_in_history_reaches_claude(proxy, up):
    """On an upstream with no refusal slot the refused turn is the assistant's text."""
    said: Any = {"role": "assistant", "refusal": WORDS, "content": None}
    async with client(proxy) as c:
        await c.chat.completions.create(model="up-claude", messages=[*ASK, said, *ASK])
    turns = up.requests[-1]["messages"]
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [{"type": "text", "text": WORDS}]
