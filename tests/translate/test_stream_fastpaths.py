"""The per-chunk shortcuts of stream plumbing give what the long way gives.

``Passthrough`` decodes only up to the first content (even inside one chunk that holds the
whole stream) and relays later chunks untouched; the usage sniffers skip whole frames with
no usage without parsing them. Each test feeds streams frame by frame (the shortcut) and
cut anywhere (the long way) and compares.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.formats.claude import ClaudeUsageSniffer
from cliproxy.formats.openai_chat import ChatUsageSniffer
from cliproxy.formats.openai_responses import ResponsesUsageSniffer
from cliproxy.formats.sse import SSEDecoder, lines_with
from cliproxy.providers import antigravity
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.registry import default_registry
from cliproxy.translate.stream import Passthrough, StreamTranslator

REG = default_registry()
DATA = Path(__file__).parent / "data"
CLAUDE = (DATA / "claude" / "stream_thinking_tools.sse").read_bytes()
RESPONSES = (DATA / "openai_responses" / "stream_reasoning_text_tools.sse").read_bytes()


def sse(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def chat_chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    return {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": usage,
    }


USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
# what OpenAI sends under stream_options.include_usage: "usage":null on every chunk
CHAT_FRAMES = [
    sse(chat_chunk({"role": "assistant", "content": ""})),
    sse(chat_chunk({"content": "hel"})),
    sse(chat_chunk({"content": "lo"})),
    sse(chat_chunk({}, "stop")),
    sse({"id": "c", "model": "m", "choices": [], "usage": USAGE}),
    b"data: [DONE]\n\n",
]
CHAT = b"".join(CHAT_FRAMES)


class _Counting(StreamDecoder):
    """A decoder that counts the bytes it was given."""

    def __init__(self, inner: StreamDecoder) -> None:
        super().__init__(None)
        self.inner = inner
        self.seen = 0

    def decode(self, chunk: bytes) -> list[ir.Event]:
        self.seen += len(chunk)
        return self.inner.decode(chunk)

    def flush(self) -> list[ir.Event]:
        return self.inner.flush()


def frames(data: bytes) -> list[bytes]:
    return [f + b"\n\n" for f in data.split(b"\n\n") if f]


# ------------------------------------------------------------------ Passthrough


def test_passthrough_of_a_whole_stream_in_one_chunk_decodes_only_its_head():
    decoder = _Counting(REG.adapter(Format.OPENAI).stream_decoder(None))
    tr = Passthrough(decoder)
    assert tr.feed(CHAT) + tr.finish() == CHAT
    assert tr.started and tr.opened and tr.early_error is None and tr.late_error is None
    # the first frame opens the message (an empty text), the second has the first content
    assert decoder.seen == len(CHAT_FRAMES[0]) + len(CHAT_FRAMES[1])


@pytest.mark.parametrize("fmt", [Format.OPENAI, Format.CLAUDE, Format.RESPONSES])
def test_passthrough_relays_frame_by_frame_and_in_one_piece_alike(fmt):
    data = {Format.OPENAI: CHAT, Format.CLAUDE: CLAUDE, Format.RESPONSES: RESPONSES}[fmt]
    for pieces in (frames(data), [data]):
        tr = Passthrough(REG.adapter(fmt).stream_decoder(None))
        out = b"".join(tr.feed(p) for p in pieces) + tr.finish()
        assert out == data
        assert tr.started and tr.early_error is None
        assert tr.ended is (fmt is Format.OPENAI)  # a Chat stream ends at its [DONE] line


def test_passthrough_error_before_content_in_the_same_chunk_is_an_early_error():
    err = sse({"error": {"message": "overloaded", "type": "server_error", "code": "503"}})
    for pieces in ([err + CHAT], [err, CHAT]):
        tr = Passthrough(REG.adapter(Format.OPENAI).stream_decoder(None))
        for p in pieces:
            tr.feed(p)
            if tr.early_error is not None:
                break
        assert tr.early_error is not None and tr.early_error.status == 503
        assert not tr.started


def test_passthrough_error_after_content_in_the_same_chunk_flows_to_the_client():
    err = sse({"error": {"message": "late", "type": "server_error"}})
    data = CHAT_FRAMES[0] + CHAT_FRAMES[1] + err
    tr = Passthrough(REG.adapter(Format.OPENAI).stream_decoder(None))
    assert tr.feed(data) == data
    assert tr.started and tr.early_error is None and not tr.ended


def test_passthrough_of_crlf_frames_gemini():
    frame = b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"index":0}]}\r\n\r\n'
    end = (
        b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP",'
        b'"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}\r\n\r\n'
    )
    data = frame * 3 + end
    for pieces in ([data], [frame, frame, frame, end], [data[:5], data[5:]]):
        decoder = _Counting(REG.adapter(Format.GEMINI).stream_decoder(None))
        tr = Passthrough(decoder)
        assert b"".join(tr.feed(p) for p in pieces) + tr.finish() == data
        assert tr.started and tr.early_error is None
        assert decoder.seen <= max(len(frame), len(pieces[0]))


def test_passthrough_garbage_after_content_in_a_later_whole_line_chunk_is_cut():
    tr = Passthrough(REG.adapter(Format.OPENAI).stream_decoder(None))
    assert tr.feed(CHAT_FRAMES[0]) == CHAT_FRAMES[0]
    assert tr.feed(CHAT_FRAMES[1] + b"data: <html>502</html>\n\n") == CHAT_FRAMES[1]
    assert tr.ended and tr.late_error is not None and tr.late_error.status == 502
    assert tr.feed(CHAT_FRAMES[2]) == b""


# ------------------------------------------------------------------ sniffers


def splits(data: bytes) -> list[list[bytes]]:
    out = [frames(data), [data]]
    for size in (1, 3, 17, 64):
        out.append([data[i : i + size] for i in range(0, len(data), size)])
    return out


def test_chat_sniffer_skips_usage_null_and_reads_the_last_usage_at_every_split():
    for pieces in splits(CHAT):
        s = ChatUsageSniffer()
        for p in pieces:
            s.feed(p)
        assert s.usage == ir.Usage(7, 3, total_tokens=10)
    s = ChatUsageSniffer()
    s.feed(b"".join(CHAT_FRAMES[:4]))
    assert s.usage is None  # only "usage":null so far
    nested = sse({"choices": [], "usage": USAGE, "x": {"usage": None}})
    s.feed(nested)  # one null and one real usage on the same line: read
    assert s.usage == ir.Usage(7, 3, total_tokens=10)


def test_claude_sniffer_frame_by_frame():
    for pieces in splits(CLAUDE):
        s = ClaudeUsageSniffer()
        for p in pieces:
            s.feed(p)
        assert s.usage == ir.Usage(
            input_tokens=2125, output_tokens=89, cache_read_tokens=2000, cache_write_tokens=100
        )


def test_responses_sniffer_frame_by_frame():
    for pieces in splits(RESPONSES):
        s = ResponsesUsageSniffer()
        for p in pieces:
            s.feed(p)
        assert s.usage == ir.Usage(120, 60, cache_read_tokens=100, reasoning_tokens=20, total_tokens=180)


# ------------------------------------------------------------------ SSE


@pytest.mark.parametrize(
    "data",
    [
        CHAT,
        b'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n',  # Gemini's CRLF frames
        b"event: x\ndata: 1\n\n: ping\n\ndata: 2\ndata: 3\n\ndata: 4\r\rdata: 5\n\n",
    ],
    ids=["chat", "crlf", "mixed"],
)
def test_sse_decode_data_is_decode_without_names(data):
    expected = [ev.data for ev in SSEDecoder().decode(data)]
    for pieces in splits(data):
        dec = SSEDecoder()
        got = [d for p in pieces for d in dec.decode_data(p)] + [ev.data for ev in dec.flush()]
        assert got == expected


def test_lines_with_is_split_and_filter():
    buf = b'a "usage"\nb\n"usage" "usage"\n\nc"usage"\nd "usage" tail'
    for end in range(len(buf) + 1):
        expected = [x for x in buf[:end].split(b"\n") if b'"usage"' in x]
        assert lines_with(buf, b'"usage"', end) == expected, end


# ------------------------------------------------------------------ the text lane

# a Chat stream with all that may come between text deltas: reasoning, a held tool call,
# usage:null on every chunk, a keep-alive, a text frame with a second key, an empty delta
CHAT_MIXED = [
    sse(chat_chunk({"role": "assistant", "content": ""})),
    sse(chat_chunk({"reasoning_content": "think"})),
    sse(chat_chunk({"content": "Hel"})),
    sse(chat_chunk({"content": "lo, "})),
    b"data: \n\n",
    sse(chat_chunk({"content": "wor", "refusal": None})),
    sse(chat_chunk({"content": "l", "reasoning_content": "hmm"})),
    sse(chat_chunk({"content": "ld"})),
    sse(chat_chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": "{}"}}]})),
    sse(chat_chunk({"content": "!"})),
    sse(chat_chunk({"tool_calls": [{"index": 0, "function": {"name": "look"}}]})),
    sse(chat_chunk({"content": "more"})),
    # usage on a text chunk (some providers), with a count the last usage does not repeat
    sse(chat_chunk({"content": "u"}, usage={**USAGE, "prompt_tokens_details": {"cached_tokens": 5}})),
    sse(chat_chunk({"content": "x"}, "stop")),
    sse(chat_chunk({"content": "after the finish"})),
    sse({"id": "c", "model": "m", "choices": [], "usage": USAGE}),
    b"data: [DONE]\n\n",
]


# a Responses (Codex) stream with what may come between text deltas: a delta of a part not
# opened yet, an empty delta, one typed otherwise than its event name, one without a type,
# a refusal delta, a second message
def _rev(event: str, **data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps({"type": event, **data}) + b"\n\n"


_TD = "response.output_text.delta"
RESPONSES_MIXED = b"".join(
    [
        _rev("response.created", response={"id": "resp_1", "model": "gpt-x", "created_at": 1}),
        _rev("response.output_item.added", output_index=0, item={"type": "message", "id": "msg_1"}),
        _rev(_TD, output_index=0, content_index=0, delta="before the part "),
        _rev("response.content_part.added", output_index=0, content_index=0, part={"type": "output_text"}),
        _rev(_TD, output_index=0, content_index=0, delta="Hel"),
        _rev(_TD, output_index=0, content_index=0, delta=""),
        _rev(_TD, output_index=0, content_index=0, delta="lo", obfuscation="x1", logprobs=[]),
        b"event: " + _TD.encode() + b'\ndata: {"output_index":0,"content_index":0,"delta":" untyped"}\n\n',
        b"event: "
        + _TD.encode()
        + b'\ndata: {"type":"response.refusal.delta","output_index":0,"delta":"?"}\n\n',
        _rev(_TD, output_index=0, content_index=1, delta="second part"),
        _rev(_TD, output_index=0, content_index=0, delta=" again"),
        _rev("response.output_item.added", output_index=1, item={"type": "message", "id": "msg_2"}),
        _rev(_TD, output_index=1, content_index=0, delta="other message"),
        _rev(
            "response.completed",
            response={
                "id": "resp_1",
                "status": "completed",
                "usage": {"input_tokens": 5, "output_tokens": 7},
            },
        ),
    ]
)
IDS = re.compile(rb'"(?:msg|rs|fc|resp|item|call|toolu)_[0-9A-Za-z]+"')
# the clock's second, where the upstream gave none: two runs may straddle one (seen in CI)
CREATED = re.compile(rb'"created(?:_at)?":\d+')


def _translate(
    upstream: Format, client: Format, chunks: list[bytes], lane: bool, watched: bool = False
) -> tuple[bytes, object, list[str]]:
    tr = REG.stream_translator(upstream, client, None, "client-model")
    if not lane:
        tr._lane = False
    seen: list[str] = []
    if watched:  # an observer with no use for text deltas (the replay recorder's kind)
        tr.observe, tr.observe_text = lambda ev: seen.append(repr(ev)), False
    out = b"".join(tr.feed(c) for c in chunks) + tr.finish()
    out = CREATED.sub(b'"created":0', IDS.sub(b'"ID"', out))
    return out, tr.usage, [e for e in seen if not e.startswith("TextDelta(")]


@pytest.mark.parametrize("client", [Format.CLAUDE, Format.OPENAI, Format.RESPONSES, Format.GEMINI])
@pytest.mark.parametrize(
    ("upstream", "chunks"),
    [
        (Format.OPENAI, CHAT_FRAMES),
        (Format.OPENAI, CHAT_MIXED),
        (Format.OPENAI, frames((DATA / "openai_chat" / "parallel_tools.sse").read_bytes())),
        (Format.OPENAI, [b"".join(CHAT_MIXED[:6]), *CHAT_MIXED[6:]]),  # several frames in one read
        (Format.CLAUDE, frames(CLAUDE)),
        (Format.RESPONSES, frames(RESPONSES)),
        (Format.RESPONSES, [b"".join(frames(RESPONSES)[:4]), *frames(RESPONSES)[4:]]),
        (Format.RESPONSES, frames(RESPONSES_MIXED)),
    ],
)
@pytest.mark.parametrize("watched", [False, True])
def test_the_text_lane_writes_what_the_events_write(upstream, chunks, client, watched):
    # a chunk that is one text delta of the open block skips the IR event (decode_delta ->
    # StreamEncoder.text): the client's bytes, the usage and what an observer of all but
    # text sees must be those of the event path
    lane = _translate(upstream, client, chunks, True, watched)
    assert lane == _translate(upstream, client, chunks, False, watched)
    assert bool(lane[2]) is watched


def _gemini(parts: list[dict], usage: dict | None = None, **extra: object) -> dict:
    cand: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
    cand.update(extra)
    out: dict = {"candidates": [cand], "modelVersion": "gemini-x", "responseId": "r1"}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def _crlf(obj: dict) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\r\n\r\n"  # as Google frames them


_PROMPT = {"promptTokenCount": 9, "totalTokenCount": 9}
_ALL = {"promptTokenCount": 9, "candidatesTokenCount": 6, "thoughtsTokenCount": 2, "totalTokenCount": 17}
# a Gemini stream with all that may come between text parts: thought parts, a signature on
# a text part, the usage repeated on every chunk and changed once mid-text, two parts in a
# chunk, an empty text, a keep-alive, a function call, the finish with the last usage
GEMINI_MIXED = [
    _crlf(_gemini([{"text": "plan", "thought": True}], _PROMPT)),
    _crlf(_gemini([{"text": "Hel"}], _PROMPT)),
    _crlf(_gemini([{"text": "lo, "}], _PROMPT)),
    b": keep-alive\r\n\r\n",
    _crlf(_gemini([{"text": "wor"}], {**_PROMPT, "cachedContentTokenCount": 4})),
    _crlf(_gemini([{"text": "l"}, {"text": "d"}], {**_PROMPT, "cachedContentTokenCount": 4})),
    _crlf(_gemini([{"text": ""}], {**_PROMPT, "cachedContentTokenCount": 4})),
    _crlf(_gemini([{"text": "!", "thoughtSignature": "c2ln"}], {**_PROMPT, "cachedContentTokenCount": 4})),
    _crlf(_gemini([{"text": " more"}])),  # a block of its own: the signed text before it is done (CPA)
    _crlf(_gemini([{"text": " again"}])),
    _crlf(_gemini([{"functionCall": {"name": "look", "args": {"q": 1}}}], _PROMPT)),
    _crlf(_gemini([{"text": "after"}], _PROMPT)),
    _crlf(_gemini([{"text": "."}], _ALL, finishReason="STOP")),
]


CALL_ID = re.compile(rb"look-[0-9a-f]+-\d+")  # the id a Gemini call is given (random)


def _enveloped(chunk: bytes) -> bytes:
    if not chunk.startswith(b"data: "):
        return chunk
    return b'data: {"response":' + chunk[6:-4] + b',"traceId":"t1"}\r\n\r\n'


@pytest.mark.parametrize("client", [Format.CLAUDE, Format.OPENAI, Format.RESPONSES, Format.GEMINI])
@pytest.mark.parametrize(
    "chunks",
    [GEMINI_MIXED, [b"".join(GEMINI_MIXED[:3]), *GEMINI_MIXED[3:]], [b"".join(GEMINI_MIXED)]],
    ids=["one-per-read", "several-in-a-read", "all-in-one-read"],
)
@pytest.mark.parametrize("enveloped", [False, True], ids=["gemini", "antigravity"])
def test_the_gemini_text_lane_writes_what_the_events_write(chunks, client, enveloped):
    """A Gemini chunk that is one more text piece of the open block, its usage the same
    again, takes the lane (``GeminiStreamDecoder.decode_delta``), Antigravity's envelope
    taken off first: the client's bytes and usage are the event path's."""
    if enveloped:
        chunks = [
            b"".join(_enveloped(c) for c in re.findall(rb".+?\r\n\r\n", chunk, re.S)) for chunk in chunks
        ]

    def run(lane: bool) -> tuple[bytes, object, int]:
        tr = REG.stream_translator(Format.GEMINI, client, None, "client-model")
        if enveloped:
            assert tr.unwrapping(antigravity.unwrap_body)
        if not lane:
            tr._lane = False
        decoder, taken = tr._decoder, []
        lane_of = decoder.decode_delta

        def counted(chunk: bytes) -> tuple[int, str] | list[ir.Event]:
            got = lane_of(chunk)
            taken.append(isinstance(got, tuple))
            return got

        decoder.decode_delta = counted  # type: ignore[method-assign]
        out = b"".join(tr.feed(c) for c in chunks) + tr.finish()
        return (
            CREATED.sub(b'"created":0', CALL_ID.sub(b"look-ID", IDS.sub(b'"ID"', out))),
            tr.usage,
            sum(taken),
        )

    (lane, lane_usage, taken), (events, events_usage, _) = run(True), run(False)
    assert lane == events and lane_usage == events_usage == ir.Usage(9, 8, 4, 0, 2, 17)
    # read one by one, "lo, " and " more" take the lane (the rest brings something new: a
    # block, a usage, a signature, a second part, the finish); "lo, " came in one read with
    # what opened its block in the second case, everything did in the third
    assert taken == {len(GEMINI_MIXED): 2, len(GEMINI_MIXED) - 2: 1, 1: 0}[len(chunks)]


def test_the_gemini_lane_hands_over_a_repeated_usage_chunk_and_reads_a_new_one():
    dec = REG.adapter(Format.GEMINI).stream_decoder(None)
    first = dec.decode(GEMINI_MIXED[1])  # the text block opens
    assert [type(e) for e in first] == [ir.StreamStart, ir.BlockStart, ir.TextDelta, ir.UsageEvent]
    assert dec.decode_delta(GEMINI_MIXED[2]) == (0, "lo, ")  # the same usage again: the lane
    changed = dec.decode_delta(GEMINI_MIXED[4])  # a new usage: read as events
    assert isinstance(changed, list) and [type(e) for e in changed] == [ir.TextDelta, ir.UsageEvent]


def test_a_duck_typed_decoder_and_encoder_take_no_lane():
    # a plugin's adapter may hand over objects that only have decode/flush and encode/flush
    class Decoder:
        def __init__(self) -> None:
            self.inner = REG.adapter(Format.OPENAI).stream_decoder(None)

        def decode(self, chunk: bytes) -> list[ir.Event]:
            return self.inner.decode(chunk)

        def flush(self) -> list[ir.Event]:
            return self.inner.flush()

    class Encoder:
        def __init__(self) -> None:
            self.inner = REG.adapter(Format.CLAUDE).stream_encoder(None, "client-model")

        def encode(self, event: ir.Event) -> bytes:
            return self.inner.encode(event)

        def flush(self) -> bytes:
            return self.inner.flush()

    tr = StreamTranslator(Decoder(), Encoder())
    out = b"".join(tr.feed(c) for c in CHAT_MIXED) + tr.finish()
    assert not tr._lane and b"text_delta" in out
    with_lane = REG.stream_translator(Format.OPENAI, Format.CLAUDE, None, "client-model")
    assert with_lane._lane and IDS.sub(b"", out) == IDS.sub(
        b"", b"".join(with_lane.feed(c) for c in CHAT_MIXED) + with_lane.finish()
    )
