"""A WebSocket session's request log (``cliproxy.usage.timeline``) on a bare recorder: the
event format, the size bound, and nothing for a session without request logs. The
layout through a running proxy is tests/e2e/test_ws_request_log.py's."""

from __future__ import annotations

import re
from pathlib import Path

from cliproxy.config import Config
from cliproxy.usage.recorder import Recorder


def _recorder(tmp_path: Path, request_log: bool = True) -> Recorder:
    rec = Recorder(tmp_path / "config.yaml")
    rec.sync(Config(request_log=request_log), management=False)
    return rec


def _written(rec: Recorder) -> str:
    assert rec.writer.flush()
    (path,) = [p for p in rec.log_dir.iterdir() if p.suffix == ".log"]
    assert not list(rec.log_dir.glob("*.tmp"))
    return path.read_text()


def test_an_event_has_its_time_name_and_trimmed_frame(tmp_path: Path) -> None:
    """CPA TestAppendWebsocketTimelineEvent and TestAppendWebsocketEvent: ``Timestamp:``,
    ``Event: websocket.<kind>``, the frame without its surrounding white space; a blank
    frame is left out (CPA ``formatWebsocketTimelineEvent``); a blank line between events."""
    rec = _recorder(tmp_path)
    log = rec.session_log("/v1/responses", {"Authorization": "Bearer sk-client-0123456789"})
    assert log is not None
    log.client.add("websocket.request", b'  {"type":"response.create"}\n')
    log.client.add("websocket.request", b" \n ")
    log.client.add("websocket.response", b'{"type":"response.created"}')
    log.end("the client closed the socket: 1000")
    text = _written(rec)
    rec.close()
    stamp = r"Timestamp: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d\n"
    assert re.search(
        "=== WEBSOCKET TIMELINE ===\n"
        + stamp
        + 'Event: websocket.request\n\\{"type":"response.create"\\}\n\n'
        + stamp
        + 'Event: websocket.response\n\\{"type":"response.created"\\}\n\n'
        + stamp
        + "Event: websocket.disconnect\nthe client closed the socket: 1000\n\n\n$",
        text,
    ), text
    assert "Authorization: Bearer sk...89\n" in text and "=== API WEBSOCKET TIMELINE ===" not in text


def test_a_timeline_past_its_bound_counts_what_it_left_out(tmp_path: Path) -> None:
    """Bounded in size: events past a timeline's limit are not written, and the log says how
    many bytes were left out (the spool's note, as for a stream's body)."""
    rec = _recorder(tmp_path)
    log = rec.session_log("/v1/responses", {})
    assert log is not None
    log.client.spool.limit = 200
    for n in range(10):
        log.client.add("websocket.response", b"x" * 50 + str(n).encode())
    log.end("closed by the proxy: 1011 upstream failed")
    text = _written(rec)
    rec.close()
    assert "x" * 50 + "0" in text and "x" * 50 + "9" not in text
    assert re.search(r"\[\d+ bytes not logged: the log writer fell behind or the limit was hit\]", text)


def test_no_session_log_while_request_logs_are_off(tmp_path: Path) -> None:
    rec = _recorder(tmp_path, request_log=False)
    assert rec.session_log("/v1/responses", {}) is None
    rec.close()
