"""The SSE decoder: every split of a stream gives the same events."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cliproxy.formats.sse import SSEDecoder, SSEEvent, frame, frame_data

STREAM = (
    b": keep-alive\n\n"
    b'event: message_start\ndata: {"a":1}\n\n'
    b'data: {"b":2}\n\n'
    b"event: multi\ndata: line1\ndata: line2\nid: 7\nretry: 10\n\n"
    b'event: two\ndata: {"c":3}\ndata: [1]\n\n'
    b'data: {"d":\ndata: 4}\n\n'
    b"data:nospace\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent("message_start", b'{"a":1}'),
    SSEEvent(None, b'{"b":2}'),
    SSEEvent("multi", b"line1\nline2", "7", 10),
    # each data: line a whole payload, the join none: one event each (CPA reads them so)
    SSEEvent("two", b'{"c":3}', "7"),
    SSEEvent("two", b"[1]", "7"),
    SSEEvent(None, b'{"d":\n4}', "7"),  # one payload over two lines: joined
    SSEEvent(None, b"nospace", "7"),
    SSEEvent(None, b"[DONE]", "7"),
]


def _decode_all(pieces: list[bytes]) -> list[SSEEvent]:
    d = SSEDecoder()
    out = []
    for p in pieces:
        out.extend(d.decode(p))
    out.extend(d.flush())
    return out


def _norm(evs):
    # the fast path does not carry the last-event id; compare what clients use
    return [(e.event, e.data) for e in evs]


def test_whole_stream():
    assert _norm(_decode_all([STREAM])) == _norm(EXPECTED)


def test_byte_by_byte_and_crlf():
    assert _norm(_decode_all([bytes([b]) for b in STREAM])) == _norm(EXPECTED)
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert _norm(_decode_all([bytes([b]) for b in crlf])) == _norm(EXPECTED)
    cr = STREAM.replace(b"\n", b"\r")
    assert _norm(_decode_all([cr[:5], cr[5:40], cr[40:]])) == _norm(EXPECTED)


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=20))
def test_any_split(cuts):
    points = sorted(set(cuts))
    pieces, prev = [], 0
    for p in points:
        pieces.append(STREAM[prev:p])
        prev = p
    pieces.append(STREAM[prev:])
    assert _norm(_decode_all(pieces)) == _norm(EXPECTED)


def test_unterminated_last_event_is_flushed():
    assert _norm(_decode_all([b"data: tail"])) == [(None, b"tail")]


def test_frames():
    assert frame("ping", b"{}") == b"event: ping\ndata: {}\n\n"
    assert frame_data(b"x") == b"data: x\n\n"


def test_a_payload_over_several_data_lines_is_one_event() -> None:
    """TestValidateSSEDataJSONAllowsMultilinePayload: a ``response.completed`` whose JSON
    spans two ``data:`` lines is one event; its lines joined parse."""
    chunk = (
        b"event: response.completed\n"
        b'data: {"type":"response.completed",\n'
        b'data: "response":{"status":"completed"}}\n\n'
    )
    [event] = _decode_all([chunk])
    assert event.event == "response.completed"
    assert event.data == b'{"type":"response.completed",\n"response":{"status":"completed"}}'
