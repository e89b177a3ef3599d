"""The error screen of relayed Images API streams (``cliproxy.translate.images_stream``),
cut at every byte: image events pass byte for byte, the first error event comes out
bounded and redacted, and nothing after it; and the stream's usage reader, cut the same
way."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.formats import ir
from cliproxy.translate.images_stream import ErrorScreen, UsageReader, error_event

PARTIAL = b'event: image_generation.partial_image\ndata: {"type":"image_generation.partial_image","b64_json":"iVBORw0KGgo=","partial_image_index":0}\n\n'
DONE = b'event: image_generation.completed\ndata: {"type":"image_generation.completed","b64_json":"iVBORw0KGgo=","usage":{"total_tokens":3}}\n\n'
ERROR = (
    b'event: error\ndata: {"type":"error","error":{"code":"failed","message":"token=image-secret sk-own-key-123"},'
    b'"debug":"' + b"x" * 300 + b'"}\n\n'
)
SAFE = {"type": "error", "error": {"code": "failed", "message": "token=[REDACTED] [REDACTED]"}}


def _scrub(data: bytes) -> bytes:  # the credential's own key (providers.secrets in the proxy)
    return data.replace(b"sk-own-key-123", b"[REDACTED]")


def _run(chunks: list[bytes]) -> bytes:
    screen = ErrorScreen(_scrub)
    out = b"".join(screen.feed(c) for c in chunks)
    return out + screen.finish()


def _cuts(data: bytes) -> list[list[bytes]]:
    return [[data[:i], data[i:]] for i in range(1, len(data))]


def test_image_events_pass_byte_for_byte_at_every_cut() -> None:
    stream = PARTIAL + DONE
    for chunks in [[stream], *_cuts(stream)]:
        assert _run(chunks) == stream


def test_an_error_event_is_made_safe_and_ends_the_stream_at_every_cut() -> None:
    """CPA TestForwardImagesStreamCancelsWithPayloadError: the error event goes out safe
    and the stream stops there (the completion after it never does)."""
    stream = PARTIAL + ERROR + DONE
    for chunks in [[stream], *_cuts(stream)]:
        out = _run(chunks)
        assert out.startswith(PARTIAL), chunks
        rest = out[len(PARTIAL) :]
        if not rest.startswith(b"event: error\ndata: "):  # cut inside "event: err": its head went out
            assert rest.startswith(b"event: e") and b"\ndata: " in rest, chunks
        assert orjson.loads(rest.split(b"data: ", 1)[1]) == SAFE, chunks
        assert rest.endswith(b"}\n\n") and b"completed" not in rest, chunks


@pytest.mark.parametrize(
    "event",
    [
        b'data: {"error":{"message":"Bearer abcdefghijk"}}\n\n',  # data-only, an error object
        b'event: error\ndata: {"code":"bad","message":"api_key=zzz"}\n\n',  # top-level fields
    ],
)
def test_other_error_shapes_are_made_safe(event: bytes) -> None:
    out = _run([PARTIAL + event])
    assert out.startswith(PARTIAL)
    data = orjson.loads(out[len(PARTIAL) :].split(b"data: ", 1)[1])
    assert b"abcdefghijk" not in out and b"zzz" not in out
    assert "[REDACTED]" in orjson.dumps(data).decode()


def test_an_error_event_left_unfinished_ends_in_our_own_error() -> None:
    out = _run([PARTIAL + b'event: error\ndata: {"error":{"message":"tok'])
    assert out.startswith(PARTIAL + b"event: error\ndata: ")
    assert b"tok" not in out[len(PARTIAL) :]
    assert orjson.loads(out.split(b"data: ")[-1])["error"]["type"] == "server_error"


def test_error_event_is_cpas_bounded_shape() -> None:
    """CPA TestWriteImagesStreamErrorEventSanitizesPayload: the fields kept, redacted, the
    debug dump gone, under 4 KiB; a message over 2048 characters is cut."""
    body = orjson.dumps(
        {"error": {"code": "upstream_failed", "message": "token=image-secret"}, "debug": "x" * 8192}
    )
    out = error_event(body)
    assert out.startswith(b"event: error\ndata: ") and len(out) < 4096
    assert orjson.loads(out[len(b"event: error\ndata: ") :]) == {
        "error": {"code": "upstream_failed", "message": "token=[REDACTED]"}
    }
    long = orjson.loads(error_event(("m" * 3000).encode()).split(b"data: ", 1)[1])
    assert long["error"]["message"] == "m" * 2048 + "…"


# the Images API's usage (what OpenAI sends), and the Responses API's names with details (CPA's case)
IMAGE_USAGE = b'{"input_tokens":50,"input_tokens_details":{"image_tokens":40,"text_tokens":10},"output_tokens":4160,"total_tokens":4210}'
DETAILED = b'{"input_tokens":8,"output_tokens":5,"total_tokens":13,"input_tokens_details":{"cached_tokens":3},"output_tokens_details":{"reasoning_tokens":2}}'


def _completed(usage: bytes, prefix: bytes = b"image_generation") -> bytes:
    kind = prefix + b".completed"
    data = b'{"type":"%s","b64_json":"iVBORw0KGgo=","usage":%s}' % (kind, usage)
    return b"event: %s\ndata: %s\n\n" % (kind, data)


def _usage_of(chunks: list[bytes]) -> ir.Usage | None:
    reader = UsageReader()
    for chunk in chunks:
        reader.feed(chunk)
    return reader.read()


def test_usage_reader_reads_the_completed_events_usage_at_every_cut() -> None:
    """CPA executeDirectOpenAIImageStream (StreamUsageBuffer.ObserveOpenAIStream on each
    line) and TestParseOpenAIStreamUsageResponsesFields: the usage of the completed event,
    its Responses-named members and details read as CPA reads them, wherever the reads cut
    the stream (a cut inside ``"usage"`` or inside its object included)."""
    stream = PARTIAL + _completed(IMAGE_USAGE)
    for chunks in [[stream], *_cuts(stream), [bytes([b]) for b in stream]]:
        assert _usage_of(chunks) == ir.Usage(50, 4160, total_tokens=4210), chunks
    detailed = PARTIAL + _completed(DETAILED, b"image_edit")
    for chunks in [[detailed], *_cuts(detailed)]:
        assert _usage_of(chunks) == ir.Usage(8, 5, 3, 0, 2, 13), chunks


def test_usage_reader_keeps_the_last_usage() -> None:
    """CPA TestStreamUsageBufferKeepsLastUsage: with several completed events (``n`` > 1)
    the last usage wins; TestStreamUsageBufferObserveOpenAIStreamStateTransitions ("zero
    token usage is retained"): a usage of zeros is a usage."""
    stream = _completed(IMAGE_USAGE) + _completed(DETAILED)
    for chunks in [[stream], *_cuts(stream)]:
        assert _usage_of(chunks) == ir.Usage(8, 5, 3, 0, 2, 13), chunks
    zeros = _completed(b'{"input_tokens":0,"output_tokens":0,"total_tokens":0}')
    assert _usage_of([zeros]) == ir.Usage(0, 0, total_tokens=0)


def test_usage_reader_skips_what_is_no_usage() -> None:
    """CPA TestStreamUsageBufferObserveOpenAIStreamStateTransitions ("irrelevant and invalid
    chunks do not change state") and TestParseOpenAIStreamUsageIgnoresNullUsage: the word
    inside a string, a usage cut off by the end of its event, ``"usage":null`` and an object
    without token members leave the usage read before as it was."""
    noise = (
        b'data: {"content":"the word \\"usage\\" appears here"}\n\n'
        b'data: {"usage":\n\n'
        b'data: {"usage":null}\n\n'
        b'data: {"usage":{"cost_in_usd_ticks":7}}\n\n'
        b'data: {"revised_prompt":"usage","usage":"none"}\n\n'
    )
    assert _usage_of([noise]) is None
    stream = _completed(DETAILED) + noise
    for chunks in [[stream], *_cuts(stream)]:
        assert _usage_of(chunks) == ir.Usage(8, 5, 3, 0, 2, 13), chunks


def test_usage_reader_keeps_no_image_data() -> None:
    """Only the usage object is ever held between reads: a megabyte of base64 split into
    reads leaves nothing kept (the per-chunk cost is a ``find``)."""
    reader = UsageReader()
    line = b'data: {"type":"image_generation.partial_image","b64_json":"' + b"QUJD" * 262144 + b'"}\n\n'
    for i in range(0, len(line), 65536):
        reader.feed(line[i : i + 65536])
        assert len(reader._open) + len(reader._edge) <= 8
    cut = len(_completed(IMAGE_USAGE)) - 20  # inside the usage object
    reader.feed(_completed(IMAGE_USAGE)[:cut])
    assert 0 < len(reader._open) < 200
    reader.feed(_completed(IMAGE_USAGE)[cut:])
    assert reader.read() == ir.Usage(50, 4160, total_tokens=4210) and not reader._open
