"""The whole-answer usage reader remembers the tails its pattern matched (the plain
scalar members after the usage object): a remembered tail reads the same usage as a
matched one, a refused tail is never remembered, and the memory stays small."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.usage import tokens
from cliproxy.usage.tokens import MAX_PLAIN_TAIL, MAX_PLAIN_TAILS, body_usage

from .test_body_usage import CASES, CHAT_USAGE, _chat, _full


@pytest.fixture(autouse=True)
def forgotten() -> Iterator[None]:
    tokens._PLAIN_TAILS.clear()
    yield
    tokens._PLAIN_TAILS.clear()


class _Counting:
    """The scalar-members pattern, counting its matches."""

    def __init__(self) -> None:
        self.calls = 0

    def fullmatch(self, data: bytes) -> Any:
        self.calls += 1
        return tokens._SCALAR_MEMBERS_PATTERN.fullmatch(data)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    monkeypatch.setattr(tokens, "_SCALAR_MEMBERS_PATTERN", tokens._SCALAR_MEMBERS, raising=False)
    pattern = _Counting()
    monkeypatch.setattr(tokens, "_SCALAR_MEMBERS", pattern)
    return pattern


@pytest.mark.parametrize(("fmt", "body"), CASES)
def test_a_remembered_tail_reads_what_a_full_parse_does(fmt: Format, body: bytes) -> None:
    first = body_usage(fmt, body)
    second = body_usage(fmt, body)  # its tail (if any) remembered now
    assert first == second == _full(fmt, body)


def test_a_tail_seen_again_is_not_matched_again(counting: _Counting) -> None:
    body = orjson.dumps(_chat(usage=CHAT_USAGE, service_tier="default", system_fingerprint="fp_1"))
    got = body_usage(Format.OPENAI, body)
    assert counting.calls == 1
    assert body_usage(Format.OPENAI, body) == got
    other = orjson.dumps(
        _chat(usage={**CHAT_USAGE, "prompt_tokens": 5}, service_tier="default", system_fingerprint="fp_1")
    )
    again = body_usage(Format.OPENAI, other)  # another answer, the same tail: no match either
    assert counting.calls == 1
    assert again is not None and again.input_tokens == 5 and again.output_tokens == 7


def test_a_refused_tail_is_never_remembered(counting: _Counting) -> None:
    plain = orjson.dumps(_chat(usage=CHAT_USAGE, tier="a"))
    listed = orjson.dumps(_chat(usage=CHAT_USAGE, tier=["a"]))  # not a scalar member: a full parse
    assert body_usage(Format.OPENAI, plain) == _full(Format.OPENAI, plain)
    for _ in range(2):
        assert body_usage(Format.OPENAI, listed) == _full(Format.OPENAI, listed)
    assert counting.calls == 3  # the refused tail is matched (and refused) each time
    assert sorted(tokens._PLAIN_TAILS) == [b',"tier":"a"']


def test_the_memory_stays_small() -> None:
    for n in range(3 * MAX_PLAIN_TAILS):  # an upstream naming each answer: a new tail each time
        body = orjson.dumps({"usageMetadata": {"promptTokenCount": n}, "responseId": f"r{n}"})
        got = body_usage(Format.GEMINI, body)
        assert got is not None and got.input_tokens == n
        assert len(tokens._PLAIN_TAILS) <= MAX_PLAIN_TAILS
    long = orjson.dumps(_chat(usage=CHAT_USAGE, note="x" * MAX_PLAIN_TAIL))
    tokens._PLAIN_TAILS.clear()
    assert body_usage(Format.OPENAI, long) == _full(Format.OPENAI, long)
    assert not tokens._PLAIN_TAILS  # matched, not kept
