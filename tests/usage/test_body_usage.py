"""The usage of a whole answer: reading only the trailing usage object gives what a full
parse gives, on every layout (usage last or not, nested, inside strings, duplicated)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.formats.openai_chat import _parse_any_usage, parse_usage
from cliproxy.usage import tokens
from cliproxy.usage.tokens import _READERS, _tail_object, body_usage

CHAT_USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 7,
    "total_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 3},
    "completion_tokens_details": {"reasoning_tokens": 2},
}
OTHER_USAGE = {"prompt_tokens": 99, "completion_tokens": 1, "total_tokens": 100}
CLAUDE_USAGE = {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 4}
GEMINI_USAGE = {"promptTokenCount": 6, "candidatesTokenCount": 8, "totalTokenCount": 14}


def _full(fmt: Format, body: bytes) -> Any:
    """The reference: parse the whole body, then the format's reader."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return _READERS[fmt](obj)
    except (TypeError, ValueError, AttributeError):
        return None


def _chat(**extra: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion", "choices": [{"message": {"content": "hi"}}], **extra}


CASES: list[tuple[Format, bytes]] = [
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE))),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE), option=orjson.OPT_INDENT_2)),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE, service_tier="default", system_fingerprint="fp"))),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE, n=1, x=None, y=True, z=-1.5e3))),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE, meta={"usage": OTHER_USAGE}))),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE, tags=["a"]))),
    (Format.OPENAI, orjson.dumps(_chat(usage=CHAT_USAGE, note='say "usage": {"prompt_tokens": 99}'))),
    (Format.OPENAI, orjson.dumps({"usage": CHAT_USAGE, "x": {"usage": OTHER_USAGE}})),
    (Format.OPENAI, orjson.dumps({"x": [{"usage": OTHER_USAGE}]})),
    (Format.OPENAI, orjson.dumps({"a": 'x "usage', "usage": CHAT_USAGE})),
    (Format.OPENAI, b'{"x \\"usage": {"prompt_tokens": 99}}'),
    (Format.OPENAI, b'{"usage": {"prompt_tokens": 1}, "usage": {"prompt_tokens": 2}}'),
    (Format.OPENAI, b'{"usage": {"prompt_tokens": 1}, "\\u0075sage": {"prompt_tokens": 2}}'),
    (Format.OPENAI, b'{"usage": {"prompt_tokens": "}"}}'),
    (Format.OPENAI, b'{"usage": null}'),
    (Format.OPENAI, b'{"usage": {"prompt_tokens": [1]}}'),
    (Format.OPENAI, orjson.dumps(_chat())),
    (Format.OPENAI, b"[1, 2]"),
    (Format.CLAUDE, orjson.dumps({"id": "m", "content": [{"text": "hi"}], "usage": CLAUDE_USAGE})),
    (Format.CLAUDE, orjson.dumps({"id": "m", "usage": CLAUDE_USAGE, "content": [{"text": "usage"}]})),
    (Format.RESPONSES, orjson.dumps({"id": "r", "output": [], "usage": CLAUDE_USAGE})),
    (Format.RESPONSES, orjson.dumps({"type": "x", "response": {"usage": CLAUDE_USAGE}})),
    (Format.RESPONSES, orjson.dumps({"usage": None, "response": {"usage": CLAUDE_USAGE}})),
    (Format.CODEX, orjson.dumps({"id": "r", "usage": CLAUDE_USAGE, "status": "completed"})),
    (Format.GEMINI, orjson.dumps({"candidates": [], "usageMetadata": GEMINI_USAGE, "modelVersion": "g"})),
    (Format.GEMINI, orjson.dumps({"response": {"candidates": [], "usageMetadata": GEMINI_USAGE}})),
    (Format.INTERACTIONS, orjson.dumps({"id": "i", "usage": {"total_input_tokens": 3}})),
]


@pytest.mark.parametrize(("fmt", "body"), CASES)
def test_body_usage_equals_a_full_parse(fmt: Format, body: bytes) -> None:
    assert body_usage(fmt, body) == _full(fmt, body)


def test_the_trailing_usage_object_is_parsed_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    body = orjson.dumps(_chat(usage=CHAT_USAGE, system_fingerprint="fp"))
    assert _tail_object(body, b'"usage"') == CHAT_USAGE
    parsed: list[int] = []
    real = tokens.orjson.loads

    def counting(data: Any) -> Any:
        parsed.append(len(data))
        return real(data)

    monkeypatch.setattr(tokens.orjson, "loads", counting)
    got = body_usage(Format.OPENAI, body)
    assert got is not None and got.input_tokens == 11 and got.cache_read_tokens == 3
    assert parsed == [len(orjson.dumps(CHAT_USAGE))]  # not the whole body


def test_usage_not_last_falls_back_to_a_full_parse() -> None:
    body = orjson.dumps(_chat(usage=CHAT_USAGE, tags=["a"]))
    assert _tail_object(body, b'"usage"') is None
    got = body_usage(Format.OPENAI, body)
    assert got is not None and got.output_tokens == 7


_OPENAI_LAYOUT = {
    "prompt_tokens": 12,
    "completion_tokens": 20,
    "total_tokens": 32,
    "prompt_tokens_details": {"cached_tokens": 5, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0},
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"prompt_tokens": True},  # a bool is no count
        {"total_tokens": None},
        {"completion_tokens": 1.5},
        {"prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0}, "prompt_cache_hit_tokens": 9},
        {"prompt_tokens_details": {"cached_tokens": 2}, "prompt_cache_hit_tokens": 9},
        {"prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 6}},
        {"cache_creation_input_tokens": 7},
        {"prompt_tokens_details": None},
        {"prompt_tokens_details": ["cached_tokens"]},
        {"completion_tokens_details": "reasoning_tokens"},
        {"completion_tokens_details": {}},
        {"prompt_tokens_details": {"cached_tokens": False}},
    ],
)
def test_openai_usage_layout_read_as_any_layout(change: dict[str, Any]) -> None:
    """parse_usage's subscript path for OpenAI's own layout gives what the general reader
    gives, on that layout and on each way a usage object may leave it. Not a CPA port:
    it guards the fast path of a reader CPA's usage tests (tests/usage/test_cpa_*) pin."""
    u = {**_OPENAI_LAYOUT, **change}
    assert parse_usage(u) == _parse_any_usage(u)
    for key in list(u):  # each member missing in turn
        rest = {k: v for k, v in u.items() if k != key}
        assert parse_usage(rest) == _parse_any_usage(rest)
