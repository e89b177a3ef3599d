"""``TerminalResponse``: a Responses stream read for its terminal event's ``response``, as
CPA's Codex and xAI executors read it (line by line, ``data:`` lines only)."""

from __future__ import annotations

import orjson

from cliproxy.translate import ir
from cliproxy.translate.openai_responses.terminal import TerminalResponse

FINAL = {"id": "resp_1", "object": "response", "status": "completed", "output": [{"id": "msg_1"}]}
STREAM = (
    b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","error":null}}\n\n'
    b'data: {"type":"response.output_text.delta","delta":"an error, response.completed"}\n\n'
    b"data: [DONE-ish, not JSON] response.completed\n\n"
    b'event: response.completed\r\ndata: {"type": "response.completed", "response": '
    + orjson.dumps(FINAL)
    + b"}\r\n\r\n"
    + b'data: {"type":"error","error":{"message":"after the end"}}\n\n'
)


def _read(*chunks: bytes) -> dict | ir.Error:  # type: ignore[type-arg]
    end = TerminalResponse()
    for chunk in chunks:
        end.feed(chunk)
    return end.finish()


def test_the_terminal_response_whatever_the_chunking() -> None:
    """Split anywhere (inside a line, a CR LF, a key), with CR LF line ends, a type that is
    not the first key, text that names an end, a line that is not JSON and an error after
    the end: the answer is the first end's ``response``."""
    for at in range(len(STREAM) + 1):
        assert _read(STREAM[:at], STREAM[at:]) == FINAL, at
    assert _read(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == FINAL
    last = b'data: {"type":"response.completed","response":' + orjson.dumps(FINAL) + b"}"
    assert _read(last[:9], last[9:]) == FINAL  # no line end after the last line


def test_a_failure_before_the_end_is_the_decoders_error() -> None:
    """CPA's codexTerminalFailureErr reads ``error`` and ``response.failed`` only; their
    status and code as the translated path reads them."""
    failed = _read(
        b'data: {"type":"response.created","response":{"id":"r"}}\n\n',
        b'data: {"type":"error","error":{"type":"invalid_request_error","code":"context_length_exceeded",'
        b'"message":"too long"}}\n\n',
        b'data: {"type":"response.completed","response":{"id":"r"}}\n\n',
    )
    assert isinstance(failed, ir.Error) and failed.status == 400 and failed.code == "context_length_exceeded"
    failed = _read(
        b'data: {"type":"response.failed","response":{"error":{"code":"server_error","message":"x"}}}\n'
    )
    assert isinstance(failed, ir.Error) and failed.code == "server_error"


def test_a_stream_without_an_end_was_cut() -> None:
    """CPA TestCodexExecutorExecuteMissingCompletionIsRequestScoped's stream: 408
    ``stream_incomplete``; a terminal event without a response object is no answer."""
    for stream in (
        b'data: {"type":"response.created","response":{"id":"resp_1","model":"gpt-5.5"}}\n\n',
        b'data: {"type":"response.completed","response":null}\n\n',
    ):
        cut = _read(stream)
        assert isinstance(cut, ir.Error) and cut.status == 408 and cut.code == "stream_incomplete"
