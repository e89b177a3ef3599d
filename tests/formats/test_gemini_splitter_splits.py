"""Gemini's streamGenerateContent without ``alt=sse`` answers one JSON array written piece by
piece; ``JSONArraySplitter`` cuts it into its objects as the pieces come. It carries its
scan state (an open string, a backslash at a piece's end, the depth) from one piece to the
next, so each byte is scanned once: cut anywhere, the array gives the same objects as a
parse of the whole. Before, a string cut by a piece's end was scanned again from its
opening quote on every piece (a 4 MB text in 4 KiB pieces took three minutes). An object
may hold at most ``sse.MAX_EVENT_BYTES``, as one SSE event."""

from __future__ import annotations

import itertools

import orjson
import pytest

from cliproxy.formats import gemini
from cliproxy.formats.gemini import JSONArraySplitter
from cliproxy.formats.sse import EventTooLarge

_TRICKY = [
    {"a": '}{][\\"', "b": [1, {"c": "]"}]},
    {"text": 'she said "hi" \\ then ]}[{'},
    {"t": "\\", "u": "\\\\", "v": '\\"', "w": "\\\\\\"},
    {"n": [[], [[1, [2]], {}], {"x": [{"y": "[]{}"}]}], "e": {}},
    {"u": "ü 日本語 \U0001f600 \u2028", "esc": "\\u00e9 \n\t\r"},
    {"deep": [[[[[{"k": "v"}]]]]]},
]


def _arrays() -> list[bytes]:
    dense = b"[" + b",".join(orjson.dumps(o) for o in _TRICKY) + b"]"
    spaced = b"[" + b"\n,\r\n".join(orjson.dumps(o) for o in _TRICKY) + b"\n]"
    loose = b"  [ \n" + b" , \t ".join(orjson.dumps(o, option=orjson.OPT_INDENT_2) for o in _TRICKY) + b" ]\n"
    raw_escapes = b'[{"a":"\\\\"},{"b":"\\\\\\""},{"c":"x\\\\\\\\"}]'  # strings ending in backslashes
    unicode = '[{"t":"ü{\\"[日本"},{"t":"]"}]'.encode()
    return [dense, spaced, loose, raw_escapes, unicode, orjson.dumps(_TRICKY[0])]


def _whole(data: bytes) -> list[bytes]:
    parsed = orjson.loads(data)
    return [orjson.dumps(o) for o in (parsed if isinstance(parsed, list) else [parsed])]


def _split(
    data: bytes, cuts: tuple[int, ...], *, parsed: bool = False
) -> tuple[list[bytes], JSONArraySplitter]:
    sp = JSONArraySplitter()
    got: list[bytes] = []
    prev = 0
    for cut in (*cuts, len(data)):
        piece = data[prev:cut]
        got += [orjson.dumps(o) for o in sp.feed_parsed(piece)] if parsed else sp.feed(piece)
        prev = cut
    return got, sp


@pytest.mark.parametrize("data", _arrays(), ids=range(len(_arrays())))
def test_every_split_point_gives_the_objects_of_a_whole_parse(data: bytes) -> None:
    want = _whole(data)
    is_array = data.lstrip().startswith(b"[")
    for cut in range(len(data) + 1):
        for parsed in (False, True):
            got, sp = _split(data, (cut,), parsed=parsed)
            assert [orjson.dumps(orjson.loads(g)) for g in got] == want, (cut, parsed)
            assert not sp.pending
            assert sp.closed == is_array


@pytest.mark.parametrize("data", _arrays()[3:], ids=range(3))
def test_every_pair_of_split_points_and_empty_pieces(data: bytes) -> None:
    want = _whole(data)
    for a, b in itertools.combinations_with_replacement(range(len(data) + 1), 2):
        got, sp = _split(data, (a, a, b, b))  # (each cut twice: an empty piece between)
        assert [orjson.dumps(orjson.loads(g)) for g in got] == want, (a, b)
        assert sp.closed == data.startswith(b"[") and not sp.pending


@pytest.mark.parametrize("step", [1, 2, 3, 5, 4096])
def test_pieces_of_a_fixed_size(step: int) -> None:
    for data in _arrays():
        got, sp = _split(data, tuple(range(step, len(data), step)))
        assert [orjson.dumps(orjson.loads(g)) for g in got] == _whole(data)
        assert not sp.pending


def test_a_backslash_at_a_piece_end_escapes_the_next_piece_first_byte() -> None:
    sp = JSONArraySplitter()
    assert sp.feed(b'[{"a":"x\\') == [] and sp.pending
    assert sp.feed(b'"') == []  # an escaped quote: the string goes on
    assert sp.feed(b"}]\\\\") == []  # so does this
    assert sp.feed(b'"}') == [b'{"a":"x\\"}]\\\\"}'] and not sp.pending
    assert orjson.loads(b'{"a":"x\\"}]\\\\"}') == {"a": 'x"}]\\'}


def test_a_cut_object_is_pending_and_the_array_end_closes() -> None:
    sp = JSONArraySplitter()
    assert sp.feed_parsed(b'[{"a": 1},\r\n{"b": "') == [{"a": 1}] and sp.pending
    assert sp.feed_parsed(b"]}{") == [] and sp.pending and not sp.closed
    assert sp.feed_parsed(b'"}\n]') == [{"b": "]}{"}] and sp.closed and not sp.pending


def test_an_object_past_the_event_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini, "MAX_EVENT_BYTES", 1000)
    text = b"x" * 900
    sp = JSONArraySplitter()
    assert sp.feed(b'[{"t":"' + text[:400]) == []
    assert sp.feed(text[400:] + b'"},') == [b'{"t":"' + text + b'"}']  # under the cap: whole
    sp.feed(b'{"t":"' + text)
    with pytest.raises(EventTooLarge) as caught:
        sp.feed(b"x" * 200)
    assert caught.value.status == 502 and "1106 bytes" in str(caught.value)
