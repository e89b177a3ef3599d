"""Frames of the subprocess plugin protocol: newline-delimited JSON over stdio.

One JSON object a line, UTF-8, in both directions. The spec for plugin authors is
``docs/plugin-protocol.md``; this module only builds and parses frames, the process
handling lives in ``cliproxy.plugins.subprocess``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from cliproxy.plugins.abi import ci_get, decode_envelope

__all__ = [
    "MAX_LOG_LINE",
    "PROTOCOL_VERSION",
    "SHUTDOWN_FRAME",
    "STREAM_LIMIT",
    "LineSplitter",
    "ProtocolError",
    "call_frame",
    "cancel_frame",
    "decode_frame",
    "envelope_result",
    "frame_id",
    "host_error",
    "host_result_frame",
    "log_level",
]

PROTOCOL_VERSION = 1
STREAM_LIMIT = 64 * 1024 * 1024  # longest frame (one line) either side accepts
MAX_LOG_LINE = 4096  # stderr lines and log frames are cut to this many characters

# frame types
CALL = "call"
RESULT = "result"
HOST_CALL = "host_call"
HOST_RESULT = "host_result"
CANCEL = "cancel"
LOG = "log"
SHUTDOWN = "shutdown"

SHUTDOWN_FRAME = b'{"type":"shutdown"}\n'

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class ProtocolError(Exception):
    """The plugin wrote something that is not a frame of this protocol."""


def call_frame(call_id: int, method: str, params: Any) -> bytes:
    """A host -> plugin call; raises ``TypeError`` when ``params`` is not JSON."""
    return orjson.dumps({"id": call_id, "type": CALL, "method": method, "params": params}) + b"\n"


def cancel_frame(call_id: int | str) -> bytes:
    return orjson.dumps({"type": CANCEL, "id": call_id}) + b"\n"


def host_result_frame(call_id: int | str, envelope: dict[str, Any]) -> bytes:
    """The host's answer to a ``host_call``; a result that is not JSON becomes an error."""
    try:
        return orjson.dumps({"id": call_id, "type": HOST_RESULT, "envelope": envelope}) + b"\n"
    except TypeError as exc:
        return (
            orjson.dumps(
                {
                    "id": call_id,
                    "type": HOST_RESULT,
                    "envelope": host_error(f"host result is not JSON: {exc}"),
                }
            )
            + b"\n"
        )


def host_error(message: str) -> dict[str, Any]:
    """The envelope of a failed host callback (CPA sends no status with these)."""
    return {"ok": False, "error": {"code": "host_call_failed", "message": message}}


def decode_frame(line: bytes) -> dict[str, Any]:
    """One parsed frame: a JSON object with a string ``type``."""
    try:
        frame = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"undecodable line on stdout ({exc}): {_preview(line)}") from exc
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ProtocolError(f"stdout line is not a frame (an object with a type): {_preview(line)}")
    return frame


def frame_id(frame: dict[str, Any]) -> int | str:
    """The frame's ``id``, which must be an integer or a string."""
    value = frame.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProtocolError(f"{frame.get('type')} frame without a valid id: {value!r}")
    return value


def envelope_result(envelope: dict[str, Any], method: str) -> Any:
    """The ``result`` of a parsed envelope, or the ``PluginError`` it carries."""
    if ci_get(envelope, "ok") is True:
        return ci_get(envelope, "result")
    return decode_envelope(orjson.dumps(envelope), method)  # the error path, rare: reuse abi's rules


def log_level(name: Any) -> int:
    """CPA's ``host.log`` levels: trace, info, warn/warning, error, anything else debug."""
    return _LEVELS.get(str(name).lower(), logging.DEBUG)


def _preview(line: bytes) -> str:
    text = line[:200].decode("utf-8", "replace").rstrip("\r\n")
    return text + ("..." if len(line) > 200 else "")


class LineSplitter:
    """Incremental decoder of a byte stream into text lines no longer than ``max_chars``.

    ``decode(chunk)`` returns the lines completed by ``chunk``; ``flush()`` the rest. A
    line that outgrows the bound is returned cut, marked, and its tail is skipped.
    """

    def __init__(self, max_chars: int = MAX_LOG_LINE) -> None:
        self._max = max_chars
        self._buf = bytearray()
        self._skipping = False

    def decode(self, chunk: bytes) -> list[str]:
        self._buf += chunk
        lines: list[str] = []
        while (end := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self._skipping:
                self._skipping = False
            else:
                lines.append(self._text(line))
        if len(self._buf) > self._max * 4 and not self._skipping:  # 4: worst UTF-8 width
            lines.append(self._text(bytes(self._buf)))
            self._skipping = True
        if self._skipping:
            self._buf.clear()
        return lines

    def flush(self) -> list[str]:
        rest, skipping = bytes(self._buf), self._skipping
        self._buf.clear()
        self._skipping = False
        return [self._text(rest)] if rest and not skipping else []

    def _text(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if len(text) > self._max:
            return f"{text[: self._max]}... [cut]"
        return text
