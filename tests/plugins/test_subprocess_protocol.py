"""The frame helpers of the stdio protocol."""

from __future__ import annotations

import logging

import orjson
import pytest

from cliproxy.plugins import stdio_protocol as proto
from cliproxy.plugins.abi import PluginError


def test_call_frame_is_one_line_even_with_newlines_in_params():
    line = proto.call_frame(7, "executor.execute", {"text": "a\nb\r\nc", "u": "\u2028"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line) == {
        "id": 7,
        "type": "call",
        "method": "executor.execute",
        "params": {"text": "a\nb\r\nc", "u": "\u2028"},
    }


def test_call_frame_rejects_non_json_params():
    with pytest.raises(TypeError):
        proto.call_frame(1, "m", {"x": object()})


def test_host_result_frame_with_non_json_result_becomes_error():
    frame = orjson.loads(proto.host_result_frame("p1", {"ok": True, "result": object()}))
    assert frame["id"] == "p1" and frame["type"] == "host_result"
    assert frame["envelope"]["ok"] is False
    assert frame["envelope"]["error"]["code"] == "host_call_failed"


@pytest.mark.parametrize("line", [b"not json\n", b"[1,2]\n", b'{"id":1}\n', b'{"type":5}\n'])
def test_decode_frame_rejects_non_frames(line):
    with pytest.raises(proto.ProtocolError):
        proto.decode_frame(line)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "result"},
        {"type": "result", "id": True},
        {"type": "result", "id": [1]},
        {"type": "result", "id": 1.5},
    ],
)
def test_frame_id_must_be_int_or_string(frame):
    with pytest.raises(proto.ProtocolError):
        proto.frame_id(frame)


def test_envelope_result_is_case_insensitive_and_keeps_http_status():
    assert proto.envelope_result({"OK": True, "Result": {"a": 1}}, "m") == {"a": 1}
    with pytest.raises(PluginError) as info:
        proto.envelope_result({"ok": False, "error": {"message": " nope ", "http_status": 418}}, "m")
    assert (info.value.message, info.value.http_status) == ("nope", 418)


def test_log_levels_follow_host_log():
    assert proto.log_level("trace") == logging.DEBUG
    assert proto.log_level("WARN") == logging.WARNING
    assert proto.log_level("error") == logging.ERROR
    assert proto.log_level(None) == logging.DEBUG


def test_line_splitter_gives_the_same_lines_at_every_split():
    data = "first\nsécond line\r\n\nlast no newline".encode()
    for cut in range(len(data) + 1):
        splitter = proto.LineSplitter()
        lines = splitter.decode(data[:cut]) + splitter.decode(data[cut:]) + splitter.flush()
        assert lines == ["first", "sécond line", "", "last no newline"], cut


def test_line_splitter_cuts_long_lines_and_skips_their_tail():
    splitter = proto.LineSplitter(max_chars=10)
    lines = []
    for _ in range(10):
        lines += splitter.decode(b"x" * 20)
    lines += splitter.decode(b"yyy\nshort\n") + splitter.flush()
    assert lines == ["x" * 10 + "... [cut]", "short"]
