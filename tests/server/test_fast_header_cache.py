"""The fast engine's cache of encoded answer header lines keeps only lines that repeat."""

from __future__ import annotations

from cliproxy.server.fast import request
from cliproxy.server.trace_id import TRACE_ID_HEADER


def test_a_trace_id_line_is_written_but_never_cached() -> None:
    """Each answer's X-CPA-TRACE-ID value is new, so caching its line would fill the cache
    with lines never used again and have it start over every ``_LINES_MAX`` answers,
    pushing out the lines answers do repeat (Content-Type, the CORS headers)."""
    request._LINES.clear()
    for n in range(request._LINES_MAX + 1):
        value = f"20261205235959-0123456789abcdef-{n:08x}"
        line, typed = request._line((TRACE_ID_HEADER, value))
        assert line == f"{TRACE_ID_HEADER}: {value}\r\n".encode()
        assert not typed
    assert not any(name == TRACE_ID_HEADER for name, _ in request._LINES)
    kept = ("Content-Type", "application/json")
    request._line(kept)
    for n in range(request._LINES_MAX + 1):
        request._line((TRACE_ID_HEADER, f"x-{n}"))
    assert kept in request._LINES  # a repeated line stays cached
