"""``openai_chat.HiddenUsage``: a Chat Completions stream whose upstream was asked a usage
chunk its client did not ask for loses that chunk (and only it) on the way out, split
anywhere, and keeps its usage for the accounting."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from cliproxy.formats import ir
from cliproxy.formats.openai_chat import HiddenUsage, ask_usage, asks_usage
from cliproxy.formats.sse import SSEDecoder

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 7,
    "total_tokens": 19,
    "prompt_tokens_details": {"cached_tokens": 4},
}


def _chunk(delta: dict, finish: str | None = None, **extra: object) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
        **extra,
    }


CHUNKS = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": 'say "usage": {not a key} '}),
    _chunk({"content": "done"}),
    _chunk({}, "stop"),
]
USAGE_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE}


def stream(chunks: list[dict], end: bytes = b"\n") -> bytes:
    frames = [b"data: " + orjson.dumps(c) + end + end for c in chunks]
    return b"".join(frames) + b"data: [DONE]" + end + end


def _through(data: bytes, cuts: list[int]) -> tuple[bytes, ir.Usage | None]:
    hidden = HiddenUsage()
    out = b"".join(hidden.step(data[a:b]) for a, b in itertools.pairwise([0, *cuts, len(data)]))
    return out + hidden.tail(), hidden.read()


def _events(data: bytes) -> list[bytes]:
    dec = SSEDecoder()
    return [ev.data for ev in dec.decode(data) + dec.flush()]


@pytest.mark.parametrize("end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_the_usage_chunk_comes_out_split_anywhere(end: bytes) -> None:
    data = stream([*CHUNKS, USAGE_CHUNK], end)
    want = stream(CHUNKS, end)  # the same stream, as if the upstream had not been asked
    expected = ir.Usage(12, 7, 4, 0, 0, 19)
    assert _through(data, []) == (want, expected)
    assert _through(data, list(range(1, len(data)))) == (want, expected)  # byte by byte
    rng = random.Random(3)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 8)))
        out, usage = _through(data, cuts)
        assert out == want and usage == expected, cuts
    assert _events(want) == [*_events(data)[:4], b"[DONE]"]


def test_a_stream_without_a_usage_chunk_goes_on_as_it_is() -> None:
    data = stream(CHUNKS)
    hidden = HiddenUsage()
    pieces = [data[:40], data[40:]]
    assert b"".join(hidden.step(p) for p in pieces) + hidden.tail() == data
    assert hidden.read() is None
    whole = HiddenUsage()
    assert whole.step(data) is data  # whole lines, no usage: the read itself, not a copy


def test_a_usage_on_a_chunk_with_choices_is_read_and_left() -> None:
    """Some OpenAI-compatible servers put the usage on the last content chunk."""
    last = _chunk({}, "stop", usage=USAGE)
    data = stream([*CHUNKS[:3], last])
    out, usage = _through(data, [len(data) - 30])
    assert out == data and usage == ir.Usage(12, 7, 4, 0, 0, 19)


def test_a_broken_or_foreign_data_line_is_left_alone() -> None:
    data = b'data: {"usage": {"prompt_tokens": 1}\n\ndata: "usage" 5\n\n: comment "usage"\n\n'
    assert _through(data, [7]) == (data, None)


def test_asking_usage_never_changes_the_clients_options() -> None:
    assert not asks_usage({}) and not asks_usage({"stream_options": {"include_usage": False}})
    assert asks_usage({"stream_options": {"include_usage": True}})
    theirs = {"include_obfuscation": False}
    body = {"stream_options": theirs}
    ask_usage(body)
    assert body["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert theirs == {"include_obfuscation": False}  # the client's own dict, untouched
    body = {"stream_options": "junk"}
    ask_usage(body)
    assert body["stream_options"] == {"include_usage": True}
    asked = {"include_usage": True}
    body = {"stream_options": asked}
    ask_usage(body)
    assert body["stream_options"] is asked
