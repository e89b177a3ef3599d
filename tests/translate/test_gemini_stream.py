from __future__ import annotations

import itertools
import random

import orjson
import pytest

from cliproxy.formats import gemini as wire
from cliproxy.formats.gemini import GeminiUsageSniffer, JSONArraySplitter
from cliproxy.providers import antigravity
from cliproxy.translate import ir
from cliproxy.translate.adapter import StreamDecoder
from cliproxy.translate.gemini import ADAPTER
from cliproxy.translate.stream import StreamTranslator
from tests.translate.cpa._run import GEMINI, OPENAI, sse, stream

CHUNKS = [
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Let me", "thought": True}]}, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    },
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": ' think {"]}', "thought": True}]}, "index": 0}
        ],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    },
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "c2ln"}]}, "index": 0}
        ],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    },
    {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Hello, "}, {"text": 'wörld \\ "q"'}]},
                "index": 0,
            }
        ],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    },
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "mcp__read_file", "args": {"path": "/a"}},
                            "thoughtSignature": "fsig",
                        },
                        {"functionCall": {"name": "mcp__read_file", "args": {"path": "/b"}}},
                        {"functionCall": {"id": "given-id", "name": "shell", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 5,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 35,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    },
]

REQUEST = ir.Request(
    model="gemini-2.5-flash",
    source="openai-response",
    tools=[ir.Tool("read_file", namespace="mcp"), ir.Tool("shell")],
)


def sse_bytes(chunks=CHUNKS) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)


def array_bytes(chunks=CHUNKS) -> bytes:
    return b"[" + b"\n,\r\n".join(orjson.dumps(c, option=orjson.OPT_INDENT_2) for c in chunks) + b"]"


def decode(data: bytes, splits: list[int] | None = None) -> list[ir.Event]:
    dec = ADAPTER.stream_decoder(REQUEST)
    events: list[ir.Event] = []
    cuts = [0, *(splits or []), len(data)]
    for a, b in itertools.pairwise(cuts):
        events.extend(dec.decode(data[a:b]))
    events.extend(dec.flush())
    return events


def normalize(events: list[ir.Event]) -> list:
    out = []
    for e in events:
        if isinstance(e, ir.BlockStart) and e.kind == "tool_call":
            e = ir.BlockStart(
                e.index,
                e.kind,
                e.id if e.id == "given-id" else "synth",
                e.name,
                e.tool_kind,
                e.namespace,
                e.signature,
                e.family,
            )
        if isinstance(e, ir.StreamStart):
            e = ir.StreamStart(e.id, e.model)
        out.append(e)
    return out


def expected_events() -> list:
    return [
        ir.StreamStart("resp-1", "gemini-2.5-flash"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "Let me"),
        ir.UsageEvent(ir.Usage(input_tokens=10, total_tokens=10)),
        ir.ThinkingDelta(0, ' think {"]}'),
        ir.SignatureDelta(0, "c2ln", "gemini"),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Hello, "),
        ir.TextDelta(1, 'wörld \\ "q"'),
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", "synth", "read_file", "function", "mcp", "fsig", "gemini"),
        ir.ToolArgsDelta(2, '{"path":"/a"}'),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", "synth", "read_file", "function", "mcp"),
        ir.ToolArgsDelta(3, '{"path":"/b"}'),
        ir.BlockStop(3),
        ir.BlockStart(4, "tool_call", "given-id", "shell"),
        ir.ToolArgsDelta(4, "{}"),
        ir.BlockStop(4),
        ir.UsageEvent(
            ir.Usage(
                input_tokens=10, output_tokens=25, cache_read_tokens=4, reasoning_tokens=5, total_tokens=35
            )
        ),
        ir.StreamEnd(
            "tool_use",
            ir.Usage(
                input_tokens=10, output_tokens=25, cache_read_tokens=4, reasoning_tokens=5, total_tokens=35
            ),
            extras={"stop_raw": "STOP"},
        ),
    ]


def test_sse_decoder_events():
    got = normalize(decode(sse_bytes()))
    exp = expected_events()
    # the thinking block closes when text starts
    exp.insert(6, ir.BlockStop(0))
    assert got == exp


def test_array_decoder_same_events_as_sse():
    assert normalize(decode(array_bytes())) == normalize(decode(sse_bytes()))


@pytest.mark.parametrize("maker", [sse_bytes, array_bytes])
def test_decoder_any_split(maker):
    data = maker()
    whole = normalize(decode(data))
    assert normalize(decode(data, list(range(1, len(data))))) == whole  # byte by byte
    rng = random.Random(7)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 12)))
        assert normalize(decode(data, cuts)) == whole


def _enveloped(chunk: dict) -> dict:
    """A chunk as Antigravity sends it: inside ``response``, beside members of its own."""
    return {"response": chunk, "traceId": "0af7651916cd43dd"}


@pytest.mark.parametrize("maker", [sse_bytes, array_bytes])
def test_decoder_takes_an_envelope_off_the_objects_it_parses(maker):
    """``unwrapping``: each parsed payload goes through the provider's unwrap before it is
    read, so enveloped bytes decode as the bare ones do, split anywhere."""
    data = maker([_enveloped(c) for c in CHUNKS])
    whole = normalize(decode(maker()))

    def unwrapped(cuts: list[int]) -> list:
        dec = ADAPTER.stream_decoder(REQUEST)
        assert dec.unwrapping(antigravity.unwrap_body) is True
        events: list[ir.Event] = []
        for a, b in itertools.pairwise([0, *cuts, len(data)]):
            events.extend(dec.decode(data[a:b]))
        return normalize(events + dec.flush())

    assert unwrapped([]) == whole
    assert unwrapped(list(range(1, len(data), 7))) == whole
    assert normalize(decode(data)) != whole  # not unwrapping, the envelope hides every chunk
    # what is not enveloped is read as it is: an error object, a bare chunk
    dec = ADAPTER.stream_decoder(REQUEST)
    dec.unwrapping(antigravity.unwrap_body)
    events = dec.decode(
        b'data: {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}\n\n'
    )
    assert [type(e) for e in events] == [ir.Error] and events[0].status == 429


def test_a_decoder_that_cannot_unwrap_says_so():
    class Plain(StreamDecoder):
        def decode(self, chunk: bytes) -> list[ir.Event]:
            return []

        def flush(self) -> list[ir.Event]:
            return []

    assert Plain().unwrapping(antigravity.unwrap_body) is False

    class DuckTyped:  # a plugin's decoder need not derive from StreamDecoder
        def decode(self, chunk: bytes) -> list[ir.Event]:
            return []

        def flush(self) -> list[ir.Event]:
            return []

    tr = StreamTranslator(DuckTyped(), ADAPTER.stream_encoder(REQUEST, None))  # type: ignore[arg-type]
    assert tr.unwrapping(antigravity.unwrap_body) is False
    assert StreamTranslator(
        ADAPTER.stream_decoder(REQUEST), ADAPTER.stream_encoder(REQUEST, None)
    ).unwrapping(antigravity.unwrap_body)


def test_parallel_calls_get_distinct_ids():
    starts = [e for e in decode(sse_bytes()) if isinstance(e, ir.BlockStart) and e.kind == "tool_call"]
    assert len({e.id for e in starts}) == 3
    assert len({e.index for e in starts}) == 3


def test_error_frame_and_cut_array():
    data = (
        sse_bytes(CHUNKS[:1])
        + b'data: {"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}\n\n'
    )
    events = decode(data)
    assert events[-1] == ir.Error("quota", status=429, type="RESOURCE_EXHAUSTED")
    assert isinstance(events[-2], ir.BlockStop)
    assert not any(isinstance(e, ir.StreamEnd) for e in events)
    cut = array_bytes()[:-40]
    events = decode(cut)
    assert isinstance(events[-1], ir.Error) and events[-1].status == 502
    unfinished = b"[" + orjson.dumps(CHUNKS[0])  # no finishReason, no closing bracket
    assert isinstance(decode(unfinished)[-1], ir.Error)
    array_error = b'[{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]'
    assert decode(array_error)[-1] == ir.Error("overloaded", status=503, type="UNAVAILABLE")


def test_blocked_prompt_and_max_tokens():
    blocked = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 3},
    }
    end = decode(sse_bytes([blocked]))[-1]
    assert end.stop_reason == "content_filter" and end.extras == {"stop_raw": "PROHIBITED_CONTENT"}
    chunk = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]}
    assert decode(sse_bytes([chunk]))[-1].stop_reason == "max_tokens"
    chunk = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "RECITATION"}]}
    assert decode(sse_bytes([chunk]))[-1].stop_reason == "content_filter"


def test_splitter_tracks_strings_and_escapes():
    objs = [{"a": '}{][\\"', "b": [1, {"c": "]"}]}, {"d": "x"}]
    data = b"[" + b",\r\n".join(orjson.dumps(o) for o in objs) + b"]"
    for step in (1, 2, 3, 7):
        sp = JSONArraySplitter()
        got = []
        for i in range(0, len(data), step):
            got.extend(sp.feed(data[i : i + step]))
        assert [orjson.loads(g) for g in got] == objs
        assert sp.closed and not sp.pending
    sp = JSONArraySplitter()
    assert sp.feed(b"[") == [] and not sp.closed
    assert sp.feed_parsed(b'{"a": "}"}\n') == [{"a": "}"}] and not sp.closed
    assert sp.feed_parsed(b',\r\n{"b": 1}\n]') == [{"b": 1}] and sp.closed
    sp = JSONArraySplitter()
    assert sp.feed_parsed(b'[{"a": 1},\r\n{"b": ') == [{"a": 1}] and sp.pending
    assert sp.feed_parsed(b'"x"}]') == [{"b": "x"}] and sp.closed and not sp.pending


@pytest.mark.parametrize("maker", [sse_bytes, array_bytes])
def test_usage_sniffer(maker):
    data = maker()
    for step in (1, 5, len(data)):
        sn = GeminiUsageSniffer()
        for i in range(0, len(data), step):
            sn.feed(data[i : i + step])
        assert sn.usage == ir.Usage(
            input_tokens=10, output_tokens=25, cache_read_tokens=4, reasoning_tokens=5, total_tokens=35
        )


def _repeating_usage_chunks() -> list[dict]:
    """Google's shape: every chunk repeats the usage known so far (equal dicts, each its
    own object), until the last chunk adds the output."""
    prompt = {"promptTokenCount": 10, "totalTokenCount": 10}
    chunks = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": f"t{i} "}]}, "index": 0}],
            "usageMetadata": dict(prompt),
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-2",
        }
        for i in range(6)
    ]
    chunks[3]["usageMetadata"] = {"promptTokenCount": 10, "candidatesTokenCount": 3, "totalTokenCount": 13}
    chunks[4]["usageMetadata"] = dict(chunks[3]["usageMetadata"])
    chunks[-1]["candidates"][0]["finishReason"] = "STOP"
    chunks[-1]["usageMetadata"] = {"promptTokenCount": 10, "candidatesTokenCount": 6, "totalTokenCount": 16}
    return chunks


@pytest.fixture
def metadata_reads(monkeypatch):
    """How many usageMetadata objects the decoder and the sniffer read."""
    reads: list[dict] = []
    real = wire.usage_from_metadata

    def counting(meta):
        reads.append(meta)
        return real(meta)

    monkeypatch.setattr(wire, "usage_from_metadata", counting)
    return reads


@pytest.mark.parametrize("maker", [sse_bytes, array_bytes])
def test_decoder_reads_a_repeated_usage_once(maker, metadata_reads):
    """A chunk whose usageMetadata equals the previous chunk's is not read again: one
    read and one UsageEvent per distinct usage, the last one on StreamEnd."""
    events = decode(maker(_repeating_usage_chunks()))
    assert len(metadata_reads) == 3
    usages = [e.usage for e in events if isinstance(e, ir.UsageEvent)]
    assert usages == [
        ir.Usage(input_tokens=10, total_tokens=10),
        ir.Usage(input_tokens=10, output_tokens=3, total_tokens=13),
        ir.Usage(input_tokens=10, output_tokens=6, total_tokens=16),
    ]
    assert events[-1] == ir.StreamEnd("end_turn", usages[-1], extras={"stop_raw": "STOP"})
    text = "".join(e.text for e in events if isinstance(e, ir.TextDelta))
    assert text == "t0 t1 t2 t3 t4 t5 "


@pytest.mark.parametrize("maker", [sse_bytes, array_bytes])
def test_usage_sniffer_reads_a_repeated_usage_once(maker, metadata_reads):
    data = maker(_repeating_usage_chunks())
    sn = GeminiUsageSniffer()
    frames = data.split(b"\r\n\r\n") if maker is sse_bytes else [data]
    for frame in frames:
        sn.feed(frame + b"\r\n\r\n" if maker is sse_bytes and frame else frame)
    assert sn.usage == ir.Usage(input_tokens=10, output_tokens=6, total_tokens=16)
    if maker is sse_bytes:  # a chunk a read: the repeated bytes are not parsed again
        assert len(metadata_reads) == 3
    for step in (1, 7):  # split anywhere, the answer is the same
        sn = GeminiUsageSniffer()
        for i in range(0, len(data), step):
            sn.feed(data[i : i + step])
        assert sn.usage == ir.Usage(input_tokens=10, output_tokens=6, total_tokens=16)


# ---------------------------------------------------------------- encoder


def ir_events() -> list[ir.Event]:
    usage = ir.Usage(input_tokens=12, output_tokens=30, reasoning_tokens=8, cache_read_tokens=2)
    return [
        ir.StreamStart("msg_1", "upstream-model"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "pondering"),
        ir.SignatureDelta(0, "gsig", "gemini"),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking", signature=None, family="claude"),
        ir.ThinkingDelta(1, "more"),
        ir.SignatureDelta(1, "claude-sig", "claude"),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        ir.TextDelta(2, "Hel"),
        ir.TextDelta(2, "lo"),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", "call_a", "get_weather"),
        ir.ToolArgsDelta(3, '{"city":'),
        ir.ToolArgsDelta(3, '"Paris"}'),
        ir.BlockStop(3),
        ir.BlockStart(4, "tool_call", "call_b", "get_time", signature="tsig", family="gemini"),
        ir.ToolArgsDelta(4, '{"tz":"CET"}'),
        ir.BlockStop(4),
        ir.UsageEvent(usage),
        ir.StreamEnd("tool_use"),
    ]


def encode(events, framing=None) -> bytes:
    req = ir.Request(model="gemini-2.5-pro", source="gemini", extras=framing or {})
    enc = ADAPTER.stream_encoder(req, "gemini-2.5-pro")
    return b"".join(enc.encode(e) for e in events) + enc.flush()


def test_encoder_sse_frames():
    data = encode(ir_events())
    frames = [orjson.loads(f[6:]) for f in data.split(b"\n\n") if f]
    assert all(f["modelVersion"] == "gemini-2.5-pro" and f["responseId"] == "msg_1" for f in frames)
    parts = [p for f in frames for p in f["candidates"][0]["content"]["parts"]]
    assert parts == [
        {"text": "pondering", "thought": True},
        {"text": "", "thought": True, "thoughtSignature": "gsig"},
        {"text": "more", "thought": True},
        # a Claude signature: the bypass sentinel (CPA's claude->gemini translator)
        {"text": "", "thought": True, "thoughtSignature": "skip_thought_signature_validator"},
        {"text": "Hel"},
        {"text": "lo"},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a"}},
        {
            "functionCall": {"name": "get_time", "args": {"tz": "CET"}, "id": "call_b"},
            "thoughtSignature": "tsig",
        },
        {"text": ""},
    ]
    last = frames[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {
        "promptTokenCount": 12,
        "candidatesTokenCount": 22,
        "thoughtsTokenCount": 8,
        "cachedContentTokenCount": 2,
        "totalTokenCount": 42,
    }


@pytest.mark.parametrize("framing", [{"_stream_framing": "array"}, {"_alt": "json"}])
def test_encoder_array_framing_decodes_back(framing):
    data = encode(ir_events(), framing)
    assert data.startswith(b"[{") and data.endswith(b"}]")
    assert len(orjson.loads(data)) == 9
    events = ADAPTER.stream_decoder(None).decode(data)
    texts = "".join(e.text for e in events if isinstance(e, ir.TextDelta))
    assert texts == "Hello"


def test_encoder_empty_array_and_error():
    assert encode([], {"_stream_framing": "array"}) == b"[]"
    data = encode([ir.StreamStart("x", "m"), ir.Error("bad upstream", status=503)])
    assert data == b'data: {"error":{"code":503,"message":"bad upstream","status":"UNAVAILABLE"}}\n\n'
    data = encode([ir.Error("bad", status=400)], {"_stream_framing": "array"})
    assert orjson.loads(data) == [{"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}]


def test_translator_gemini_to_gemini_through_ir():
    req = ir.Request(model="gemini-2.5-flash", source="gemini")
    tr = StreamTranslator(ADAPTER.stream_decoder(req), ADAPTER.stream_encoder(req))
    out = b""
    data = sse_bytes()
    for i in range(0, len(data), 13):
        out += tr.feed(data[i : i + 13])
    out += tr.finish()
    frames = [orjson.loads(f[6:]) for f in out.split(b"\n\n") if f]
    parts = [p for f in frames for p in f["candidates"][0]["content"]["parts"]]
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert [c["name"] for c in calls] == ["mcp__read_file", "mcp__read_file", "shell"]
    # ids made up by the decoder reach the client, which echoes them in functionResponse.id
    assert calls[0]["id"] != calls[1]["id"] and calls[2]["id"] == "given-id"
    assert "".join(p.get("text", "") for p in parts if not p.get("thought")) == 'Hello, wörld \\ "q"'
    assert tr.usage.total == 35


def test_a_call_the_answer_was_cut_inside_is_not_handed_out():
    """A Chat upstream cut inside a call (finish_reason length, or no finish_reason at all):
    a Gemini client gets no functionCall with partial arguments."""
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "bash", "arguments": '{"cmd":"l'},
    }
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    first = {
        **head,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}, "finish_reason": None}
        ],
    }
    cut = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}
    request = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    for frames in ((first, cut), (first,)):
        out = stream(OPENAI, GEMINI, sse(*frames, "[DONE]", events=False), request, "m")
        assert b"functionCall" not in out


def _decoded(*chunks: dict) -> list[ir.Event]:
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
    dec = ADAPTER.stream_decoder(None)
    return [*dec.decode(data), *dec.flush()]


def _parts_chunk(*parts: dict) -> dict:
    return {
        "candidates": [{"content": {"role": "model", "parts": list(parts)}}],
        "responseId": "r",
        "modelVersion": "m",
    }


def test_a_signed_thought_is_never_signed_again():
    """CPA's DistinctSignedThoughtsUseDistinctItems / LateThoughtSignatureIsImmutable /
    VisibleSignatureDoesNotOverwriteSignedThought: a signature that comes after a thought
    already signed (on a later thought or on visible text) starts a thinking block of its
    own; each block carries one signature (two were joined, or one written over)."""
    evs = _decoded(
        _parts_chunk({"text": "one", "thought": True, "thoughtSignature": "S1"}),
        _parts_chunk({"text": "two", "thought": True, "thoughtSignature": "S2"}),
        _parts_chunk({"text": "answer", "thoughtSignature": "S3"}),
    )
    starts = [e.index for e in evs if isinstance(e, ir.BlockStart) and e.kind == "thinking"]
    sigs = [(e.index, e.signature) for e in evs if isinstance(e, ir.SignatureDelta)]
    texts = [(e.index, e.text) for e in evs if isinstance(e, ir.ThinkingDelta)]
    assert len(starts) == 3 and sigs == list(zip(starts, ["S1", "S2", "S3"], strict=True))
    assert texts == [(starts[0], "one"), (starts[1], "two")]
    assert [e.text for e in evs if isinstance(e, ir.TextDelta)] == ["answer"]


def test_an_unsigned_thought_run_stays_one_block_until_its_signature():
    evs = _decoded(
        _parts_chunk({"text": "a", "thought": True}),
        _parts_chunk({"text": "b", "thought": True}),
        _parts_chunk({"text": "", "thoughtSignature": "S"}),
    )
    assert len([e for e in evs if isinstance(e, ir.BlockStart)]) == 1
    assert [e.signature for e in evs if isinstance(e, ir.SignatureDelta)] == ["S"]
