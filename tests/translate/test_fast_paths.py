"""The per-request shortcuts of issue 21 give what the general path gives.

A Response object's echo of the request is built without a copy of the request
(``build_request(messages=False)``); the IR is renamed without ``dataclasses.replace``;
the replay keys read the headers once and remember their hashes; plain text blocks and
messages are read and written inline. Each is checked here against the slow path it
stands for, on requests that take the shortcut and requests that do not.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import uuid

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.formats.ir import Request
from cliproxy.translate import ir
from cliproxy.translate.claude import ADAPTER as CLAUDE
from cliproxy.translate.gemini import ADAPTER as GEMINI
from cliproxy.translate.openai_chat import ADAPTER as CHAT
from cliproxy.translate.openai_chat.build_messages import build_messages
from cliproxy.translate.openai_responses import ADAPTER as RESPONSES
from cliproxy.translate.openai_responses.build import build_request
from cliproxy.translate.openai_responses.response import build_response
from cliproxy.translate.registry import default_registry
from cliproxy.translate.replay_keys import caller_key, replay_model_family, replay_session_key

RICH_RESPONSES = {
    "model": "gpt-5",
    "instructions": "Be brief.",
    "input": [{"role": "user", "content": "hi"}],
    "tools": [
        {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}},
        {"type": "web_search"},
    ],
    "tool_choice": {"type": "function", "name": "lookup"},
    "parallel_tool_calls": False,
    "max_output_tokens": 99,
    "temperature": 0.3,
    "top_p": 0.9,
    "reasoning": {"effort": "high", "summary": "auto", "generate_summary": "x"},
    "text": {
        "format": {"type": "json_schema", "name": "o", "schema": {"type": "object"}},
        "verbosity": "low",
    },
    "user": "u-1",
    "metadata": {"k": "v"},
    "store": True,
    "truncation": "auto",
    "previous_response_id": "resp_prev",
    "prompt_cache_key": "pck",
}


@pytest.mark.parametrize(
    "body",
    [
        RICH_RESPONSES,
        {"model": "gpt-5", "input": "hi"},
        {"model": "gpt-5", "input": "hi", "stream": False, "tool_choice": "none"},
    ],
)
def test_response_echo_is_the_request_without_messages(body: dict) -> None:
    req = RESPONSES.parse_request(copy.deepcopy(body))
    assert build_request(req, messages=False) == build_request(dataclasses.replace(req, messages=[]))
    resp = ir.Response(id="resp_1", model="m", content=[ir.Text("ok")], stop_reason="end_turn", created=1)
    out = build_response(resp, req)
    slow = build_request(dataclasses.replace(req, messages=[]))
    assert out["tools"] == (slow.get("tools") or [])
    assert out["tool_choice"] == slow.get("tool_choice", "auto")
    assert out["text"] == (slow.get("text") or {"format": {"type": "text"}})
    assert out["store"] == slow.get("store", False)
    assert out["previous_response_id"] == slow.get("previous_response_id")


def test_echo_of_a_foreign_request_matches_too() -> None:
    req = CLAUDE.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "thinking": {"type": "enabled", "budget_tokens": 4096},
            "metadata": {"user_id": "u"},
        }
    )
    assert build_request(req, messages=False) == build_request(dataclasses.replace(req, messages=[]))


def test_renamed_is_replace_of_the_model() -> None:
    values = {f.name: object() for f in dataclasses.fields(Request)}
    req = Request(**values)  # type: ignore[arg-type]
    new = req.renamed("other")
    assert new == dataclasses.replace(req, model="other")
    assert new is not req and req.model is values["model"]
    for f in dataclasses.fields(Request):  # shallow: every other field is the same object
        if f.name != "model":
            assert getattr(new, f.name) is values[f.name], f.name


def test_replay_keys_are_cpa_s() -> None:
    assert replay_model_family(" cred-1 ", "claude-x") == (
        f"claude:{hashlib.sha256(b'cred-1').hexdigest()[:16]}:claude-x"
    )
    assert replay_model_family("", "claude-x") == "claude:claude-x"
    assert replay_model_family("cred", " ") == ""
    caller = hashlib.sha256(b"k1").hexdigest()[:16]
    headers = {"Authorization": "Bearer k1 ", "Session_Id": "  s-1 "}
    assert caller_key(headers) == "k1"
    assert replay_session_key(headers, {}, chat_client=False) == f"caller:{caller}:session-id:s-1"
    assert replay_session_key({"X-Api-Key": "k1", "X-Codex-Window-Id": " w "}, {}, chat_client=False) == (
        f"caller:{caller}:window:w"
    )
    turn = {"x-codex-turn-metadata": '{"prompt_cache_key": "p"}', "authorization": "Bearer k1"}
    assert replay_session_key(turn, {}, chat_client=False) == f"caller:{caller}:prompt-cache:p"
    assert replay_session_key({"authorization": "Bearer k1"}, {}, chat_client=False) == ""
    seed = "cli-proxy-api:codex:prompt-cache:k1"
    chat = "prompt-cache:" + str(uuid.uuid5(uuid.NAMESPACE_OID, seed))
    assert (
        replay_session_key({"authorization": "Bearer k1"}, {}, chat_client=True) == f"caller:{caller}:{chat}"
    )
    assert replay_session_key({"session_id": "s"}, {}, chat_client=True) == ""  # no caller key: no replay
    # the servers' own headers (case-insensitive, read as they are): the same keys
    served = CIMultiDictProxy(CIMultiDict(headers))
    assert replay_session_key(served, {}, chat_client=False) == f"caller:{caller}:session-id:s-1"
    served = CIMultiDictProxy(CIMultiDict({"X-Api-Key": "k1", "X-Codex-Window-Id": " w "}))
    assert replay_session_key(served, {}, chat_client=False) == f"caller:{caller}:window:w"
    assert replay_session_key(CIMultiDict({"AUTHORIZATION": "Bearer k1"}), {}, chat_client=True) == (
        f"caller:{caller}:{chat}"
    )


def test_plain_chat_messages_read_as_before() -> None:
    req = CHAT.parse_request(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "hi"},
                {"role": "user", "content": ""},
                {"role": "developer", "content": "dev", "name": "n"},
            ],
        }
    )
    assert [(m.role, m.content, m.name, m.extras) for m in req.messages] == [
        ("system", [ir.Text("sys")], None, {"_content": "str"}),
        ("user", [ir.Text("hi")], None, {"_content": "str"}),
        ("user", [], None, {"_content": "empty"}),
        ("developer", [ir.Text("dev")], "n", {"_content": "str"}),
    ]
    with pytest.raises(Exception, match="unknown role"):
        CHAT.parse_request({"model": "m", "messages": [{"role": ["user"], "content": "hi"}]})


def test_chat_answer_with_empty_content_keeps_its_shape() -> None:
    body = {
        "id": "chatcmpl-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}],
    }
    resp = CHAT.parse_response(body, None)
    assert resp.content == [] and resp.extras == {"_message": {"content": ""}}
    assert CHAT.build_response(resp, None)["choices"][0]["message"]["content"] == ""


def test_plain_text_blocks_both_ways() -> None:
    req = CLAUDE.parse_request(
        {
            "model": "claude-x",
            "max_tokens": 5,
            "system": [
                {"type": "text", "text": "s"},
                {"type": "text", "text": "c", "cache_control": {"a": 1}},
            ],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": ""}]}
            ],
        }
    )
    assert req.messages[0].content == [ir.Text("s"), ir.Text("c", extras={"cache_control": {"a": 1}})]
    assert req.messages[1].content == [ir.Text("hi"), ir.Text("")]
    body = CLAUDE.build_request(req)
    assert body["system"] == [
        {"type": "text", "text": "s"},
        {"type": "text", "text": "c", "cache_control": {"a": 1}},
    ]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    gem = GEMINI.parse_response(
        {"candidates": [{"content": {"parts": [{"text": "a"}, {"text": "b", "thought": True}]}}]}, None
    )
    assert gem.content[0] == ir.Text("a") and isinstance(gem.content[1], ir.Thinking)


def test_registry_takes_a_plain_string() -> None:
    reg = default_registry()
    assert reg.adapter("claude") is reg.adapter(CLAUDE.format) is CLAUDE
    with pytest.raises(ValueError):
        reg.adapter("nope")


@dataclasses.dataclass(slots=True)
class _SlowText(ir.Text):
    """A text block the one-text shortcut of ``build_messages`` does not take (its type is
    not exactly ``ir.Text``): what the general path writes for the same turn."""


@pytest.mark.parametrize("source", ["claude", "openai-response", "gemini"])
@pytest.mark.parametrize(
    "turns",
    [
        [("system", "Be brief."), ("user", "hi")],
        [("system", ""), ("user", "hi")],
        [("system", "x-anthropic-billing-header: cc_version=1"), ("system", "Real."), ("user", "hi")],
        [("developer", "Dev."), ("user", "")],
        [("user", "hi"), ("system", "mid-conversation"), ("user", "again")],
        [("user", "a"), ("assistant", "b"), ("user", "c")],
    ],
)
def test_one_text_turns_build_as_the_general_path_does(source, turns):
    fast = [ir.Message(role, [ir.Text(text)]) for role, text in turns]
    slow = [ir.Message(role, [_SlowText(text)]) for role, text in turns]
    assert build_messages(fast, False, source) == build_messages(slow, False, source)
