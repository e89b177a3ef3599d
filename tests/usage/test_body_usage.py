"""The usage of a whole answer: reading only the trailing usage object gives what a full
parse gives, on every layout (usage last or not, nested, inside strings, duplicated)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.formats.openai_chat import parse_usage
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
    ("change", "expected"),
    [
        ({}, (12, 20, 5, 0, 4, 32)),
        ({"prompt_tokens": True}, (0, 20, 5, 0, 4, 32)),  # a bool is no count
        ({"total_tokens": None}, (12, 20, 5, 0, 4, None)),
        ({"completion_tokens": 1.5}, (12, 1, 5, 0, 4, 32)),  # a float truncated (CPA: gjson Int)
        (
            {"prompt_tokens_details": {"cached_tokens": 0}, "prompt_cache_hit_tokens": 9},
            (12, 20, 9, 0, 4, 32),
        ),
        (
            {"prompt_tokens_details": {"cached_tokens": 2}, "prompt_cache_hit_tokens": 9},
            (12, 20, 2, 0, 4, 32),
        ),
        ({"prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 6}}, (12, 20, 2, 6, 4, 32)),
        ({"cache_creation_input_tokens": 7}, (12, 20, 5, 7, 4, 32)),
        ({"prompt_tokens_details": None}, (12, 20, 0, 0, 4, 32)),
        ({"prompt_tokens_details": ["cached_tokens"]}, (12, 20, 0, 0, 4, 32)),
        ({"prompt_tokens_details": {"cached_tokens": False}}, (12, 20, 0, 0, 4, 32)),
        ({"completion_tokens_details": "reasoning_tokens"}, (12, 20, 5, 0, 0, 32)),
        ({"completion_tokens_details": {}}, (12, 20, 5, 0, 0, 32)),
        ({"completion_tokens_details": None}, (12, 20, 5, 0, 0, 32)),
        ({"total_tokens": "32"}, (12, 20, 5, 0, 4, 32)),  # a string spelling a count (CPA: gjson Int)
        ({"total_tokens": "many"}, (12, 20, 5, 0, 4, None)),
    ],
)
def test_openai_usage_layout_and_its_departures(change: dict[str, Any], expected: tuple[Any, ...]) -> None:
    """parse_usage on OpenAI's own layout and on each way a usage object may leave it (a
    bool or float count, DeepSeek's cache hits, cache writes, details of another type or
    missing). Not a CPA port: it pins the reader's results member by member, for any
    faster path through it (CPA's usage tests, tests/usage/test_cpa_*, pin the totals)."""
    u = {**_OPENAI_LAYOUT, **change}
    got = parse_usage(u)
    assert (
        got.input_tokens,
        got.output_tokens,
        got.cache_read_tokens,
        got.cache_write_tokens,
        got.reasoning_tokens,
        got.total_tokens,
    ) == expected


def test_responses_named_usage_with_chat_details_is_read_by_its_names() -> None:
    u = {"input_tokens": 3, "output_tokens": 4, "completion_tokens_details": {"reasoning_tokens": 1}}
    assert parse_usage(u) == parse_usage({"input_tokens": 3, "output_tokens": 4})
    assert parse_usage(u).input_tokens == 3 and parse_usage(u).output_tokens == 4


@pytest.mark.parametrize(
    ("details", "cache_write"),
    [
        ({"cache_write_tokens": "6"}, 6),  # a string spelling a count, read as the Chat spelling's is
        ({"cache_write_tokens": 6}, 6),
        ({"cache_creation_input_tokens": "7"}, 7),
        ({"cache_write_tokens": "none"}, 0),
    ],
)
def test_responses_named_usage_reads_a_string_cache_write_count(
    details: dict[str, Any], cache_write: int
) -> None:
    """A Chat usage spelled with the Responses names reads its cache writes as the Chat
    spelling's reader does: a count written as a string is the number it spells (it was 0)."""
    got = parse_usage(
        {"input_tokens": 10, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 1, **details}}
    )
    assert (got.input_tokens, got.cache_read_tokens, got.cache_write_tokens) == (10, 1, cache_write)


@pytest.mark.parametrize(("total", "expected"), [("19", 19), (19, 19), ("x", None), (None, None)])
def test_gemini_string_total_beside_int_counts(total: Any, expected: int | None) -> None:
    """A ``totalTokenCount`` written as a string while the other counts are ints is read
    as the number it spells (it was dropped: the string test ran only when a part count
    was a string)."""
    from cliproxy.formats.gemini import usage_from_metadata

    meta = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 5,
        "thoughtsTokenCount": 2,
        "totalTokenCount": total,
    }
    got = usage_from_metadata(meta)
    assert (got.input_tokens, got.output_tokens, got.reasoning_tokens, got.total_tokens) == (
        12,
        7,
        2,
        expected,
    )
