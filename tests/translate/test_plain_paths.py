"""Plain text requests and answers are translated inline (issue 21, translation added
time): each inline path is checked here against the general path it stands for.

The general path is forced with a block that writes nothing (a redacted thinking block
of another family: no Gemini part, no Claude block), so both sides must be equal.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest

from cliproxy.errors import RequestError
from cliproxy.providers.gemini import backfill_response_names
from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER as CLAUDE
from cliproxy.translate.claude.blocks import BlockParser
from cliproxy.translate.gemini import ADAPTER as GEMINI
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.response import CallIds, read_part
from cliproxy.translate.openai_chat import ADAPTER as CHAT
from cliproxy.translate.openai_chat.response import _build_message
from cliproxy.translate.openai_responses import ADAPTER as RESPONSES

SILENT = ir.Thinking("", signature="x", family="openai", redacted=True)

CONVERSATIONS = [
    [("system", "S"), ("user", "hi")],
    [("system", " x-anthropic-billing-header: cc=1"), ("developer", "D"), ("user", "q")],
    [("user", "a"), ("user", ""), ("user", "b"), ("assistant", "c"), ("system", "mid"), ("user", "d")],
    [("system", "S"), ("user", "q"), ("assistant", "prefill")],
    [("user", "q"), ("assistant", ""), ("assistant", "x"), ("developer", "")],
    [("system", "")],
]


def _request(turns: list[tuple[str, str]], source: str, forced: bool) -> ir.Request:
    msgs = [ir.Message(role, [ir.Text(text), *([SILENT] if forced else [])]) for role, text in turns]  # type: ignore[arg-type]
    return ir.Request(model="gemini-2.5-flash", messages=msgs, source=source, max_tokens=5)


@pytest.mark.parametrize("source", ["openai", "claude", "openai-response"])
@pytest.mark.parametrize("turns", CONVERSATIONS)
def test_gemini_body_of_plain_messages(turns: list[tuple[str, str]], source: str) -> None:
    plain = GEMINI.build_request(_request(turns, source, forced=False))
    assert plain == GEMINI.build_request(_request(turns, source, forced=True))
    assert (
        plain["safetySettings"] is not GEMINI.build_request(_request(turns, source, False))["safetySettings"]
    )


@pytest.mark.parametrize("source", ["openai", "openai-response"])
@pytest.mark.parametrize("turns", CONVERSATIONS)
def test_claude_body_of_plain_messages(turns: list[tuple[str, str]], source: str) -> None:
    plain = CLAUDE.build_request(_request(turns, source, forced=False))
    assert plain == CLAUDE.build_request(_request(turns, source, forced=True))


def test_claude_body_keeps_message_cache_control() -> None:
    cc = {"type": "ephemeral"}
    req = ir.Request(
        model="claude-x",
        source="openai",
        messages=[
            ir.Message("system", [ir.Text("s")], extras={"cache_control": cc}),
            ir.Message("user", [ir.Text("a"), ir.Text("b")], extras={"cache_control": cc}),
        ],
    )
    body = CLAUDE.build_request(req)
    assert body["system"] == [{"type": "text", "text": "s", "cache_control": cc}]
    assert body["messages"][0]["content"][-1] == {"type": "text", "text": "b", "cache_control": cc}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": "hi"},
        {"model": "m", "input": "hi", "instructions": "be", "max_output_tokens": 9, "temperature": 1},
        {"model": "m", "input": "hi", "top_p": 0.5, "user": "u", "metadata": {"a": "b"}, "store": True},
        {"model": "m", "input": "hi", "parallel_tool_calls": False, "truncation": "auto", "stream": False},
    ],
)
def test_response_echo_of_a_plain_request(body: dict) -> None:
    req = RESPONSES.parse_request(copy.deepcopy(body))
    resp = ir.Response(
        id="r1", model="m", content=[ir.Text("a"), ir.Text("b")], stop_reason="end_turn", created=1
    )
    # ``tools=[]`` echoes as no tools but takes build_request's path
    assert RESPONSES.build_response(resp, req) == RESPONSES.build_response(
        resp, dataclasses.replace(req, tools=[])
    )


def test_plain_answers_read_as_the_parsers_read_them() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": ""}]
    resp = CLAUDE.parse_response({"content": content, "stop_reason": "end_turn"}, None)
    assert resp.content == BlockParser().blocks(content, "content") and resp.stop_reason == "end_turn"
    assert CLAUDE.parse_response({"content": [], "stop_reason": "weird"}, None).stop_reason == "end_turn"
    with pytest.raises(RequestError):
        CLAUDE.parse_response({"content": 5}, None)
    parts = [{"text": "a"}, {"text": ""}]
    gem = GEMINI.parse_response({"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}]}, None)
    assert gem.content == [read_part(p, NameMap(None), CallIds()) for p in parts]
    assert gem.stop_reason == "end_turn" and gem.extras["stop_raw"] == "STOP"
    for same in (True, False):
        chat = ir.Response(id="1", model="m", content=gem.content, source="openai" if same else "gemini")
        assert CHAT.build_response(chat, None)["choices"][0]["message"] == _build_message(chat, same)[0]


def test_chat_stream_and_max_tokens_inline() -> None:
    req = CHAT.parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], "max_tokens": 5})
    assert req.max_tokens == 5 and "max_tokens" not in req.extras
    both = CHAT.parse_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "q"}],
            "max_tokens": 5,
            "max_completion_tokens": 7,
        }
    )
    assert both.max_tokens == 7 and both.extras["max_tokens"] == 5
    off = CHAT.parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": False})
    assert off.stream is False and off.extras["_stream_false"] is True
    for bad in ({"max_tokens": True}, {"stream": 1}):
        with pytest.raises(RequestError):
            CHAT.parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], **bad})


def test_responses_scalars_inline() -> None:
    req = RESPONSES.parse_request({"model": "m", "input": "q", "temperature": 1, "top_p": 0.5})
    assert (req.temperature, req.top_p, req.extras["_input_str"]) == (1, 0.5, True)
    for bad in ({"temperature": True}, {"max_output_tokens": 1.5}, {"top_p": "x"}):
        with pytest.raises(RequestError):
            RESPONSES.parse_request({"model": "m", "input": "q", **bad})


def test_backfill_needs_a_call_before() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {}}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {}}}]},
        ]
    }
    backfill_response_names(body)
    assert body["contents"][0]["parts"][0]["functionResponse"]["name"] == ""
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "f"


def test_backfill_skips_what_is_no_turn() -> None:
    """A content that is no object, or a model turn whose parts are no array, changes
    nothing: the calls of the model turn before still name the responses after it."""
    answer = {"role": "user", "parts": [{"functionResponse": {"name": "", "response": {}}}]}
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            "x",
            {"role": "model", "parts": None},
            {"role": "user", "parts": "x"},
            answer,
        ]
    }
    backfill_response_names(body)
    assert answer["parts"][0]["functionResponse"]["name"] == "f"
