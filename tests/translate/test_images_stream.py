"""The error screen of relayed Images API streams (``cliproxy.translate.images_stream``),
cut at every byte: image events pass byte for byte, the first error event comes out
bounded and redacted, and nothing after it."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.translate.images_stream import ErrorScreen, error_event

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
