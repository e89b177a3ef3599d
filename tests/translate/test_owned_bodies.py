"""``Adapter.owns_body``: a translated body the attempt may shape without copying it first
(issue 21, translation added time). Where a format says it owns the body it built, no
object of that body (arrays aside, as ``pipeline_prepare._own`` leaves them) may be one of
the request's: shaping writes thinking settings and payload rules into those objects, and
a later attempt translates the same IR again."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cliproxy.translate import ir
from cliproxy.translate.adapter import Adapter
from cliproxy.translate.claude import ADAPTER as CLAUDE
from cliproxy.translate.gemini import ADAPTER as GEMINI
from cliproxy.translate.openai_chat import ADAPTER as CHAT
from cliproxy.translate.openai_responses import ADAPTER as RESPONSES

TOOL = {"name": "get_weather", "description": "d", "input_schema": {"type": "object", "properties": {}}}
CLAUDE_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 64,
    "system": [{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"a": {}}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": '{"ok": {"x": 1}}'}],
        },
    ],
    "tools": [TOOL],
    "tool_choice": {"type": "tool", "name": "get_weather"},
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "metadata": {"user_id": "u"},
    "stop_sequences": ["x"],
    "temperature": 0.5,
    "stream": True,
}
CHAT_BODY: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "text", "text": "q"}]},
    ],
    "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    ],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "reasoning_effort": "high",
    "stream_options": {"include_usage": True},
    "metadata": {"k": "v"},
    "stream": True,
}
RESPONSES_BODY: dict[str, Any] = {
    "model": "m",
    "instructions": "S",
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "q"}]}],
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"verbosity": "low"},
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
}
REQUESTS = [(CLAUDE, CLAUDE_BODY), (CHAT, CHAT_BODY), (RESPONSES, RESPONSES_BODY)]


def _dict_ids(value: Any, seen: set[int]) -> set[int]:
    """The ids of every dict reachable from ``value`` (through dataclasses, dicts, lists)."""
    if isinstance(value, dict):
        if id(value) not in seen:
            seen.add(id(value))
            for v in value.values():
                _dict_ids(v, seen)
    elif isinstance(value, list | tuple):
        for v in value:
            _dict_ids(v, seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            _dict_ids(getattr(value, f.name), seen)
    return seen


def _body_dicts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The body's objects that ``_own`` copies: the body and the objects under objects."""
    out = [body]
    for v in body.values():
        if type(v) is dict:
            out.extend(_body_dicts(v))
    return out


@pytest.mark.parametrize("target", [GEMINI, CHAT], ids=["gemini", "chat"])
@pytest.mark.parametrize("source,raw", REQUESTS, ids=["claude", "chat", "responses"])
def test_an_owned_body_shares_no_object_with_its_request(
    target: Adapter, source: Adapter, raw: dict[str, Any]
) -> None:
    req = source.parse_request(raw)
    if target is source:
        assert not target.owns_body(req)  # (a same-format build writes the request's extras back)
        return
    assert target.owns_body(req)
    body = target.build_request(req)
    shared = _dict_ids(req, set()) | _dict_ids(raw, set())
    assert [d for d in _body_dicts(body) if id(d) in shared] == []


@pytest.mark.parametrize("target", [GEMINI, CHAT], ids=["gemini", "chat"])
def test_a_response_schema_is_the_requests_own(target: Adapter) -> None:
    """The schema goes into the body as the request has it: the body is not owned."""
    req = CLAUDE.parse_request(
        {
            **CLAUDE_BODY,
            "output_format": {"type": "json_schema", "schema": {"type": "object", "properties": {}}},
        }
    )
    assert req.response_format
    assert not target.owns_body(req)


def test_other_formats_own_nothing_unless_they_say_so() -> None:
    req = CHAT.parse_request(CHAT_BODY)
    assert not CLAUDE.owns_body(req) and not RESPONSES.owns_body(req)
    assert not CLAUDE.owns_body(ir.Request("m"))
