"""CPA's ``X-CPA-TRACE-ID`` answer header: which credential served a request, and when.

The value is ``<time>-<auth index>-<request id>``: the local time as ``YYYYMMDDhhmmss``,
the serving credential's 16-hex ``auth_index`` (the one the management API and the usage
records show) and the request's 8-hex id (the one its log lines carry). A user who sees
an odd answer can hand the header over, and the credential and log lines are found
without any secret in it. An error answer carries it too when the error names the
credential that got it (an upstream's refusal). An answer no credential served (a plugin
executor with no credential, the model list, a request refused before any pick) has none;
nor has an answer whose head went out before a credential was picked (an early
keep-alive), as in CPA.

CPA stamps the time of the credential's selection; here it is the time the answer is
handed to the server (the same second unless the upstream was slow to start answering).
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from cliproxy.requestid import NO_REQUEST, REQUEST_ID

__all__ = ["TRACE_ID_HEADER", "add_error_trace_id", "add_trace_id", "format_trace_id", "trace_line"]

TRACE_ID_HEADER = "X-CPA-TRACE-ID"

_stamp_cache: tuple[int, str] = (0, "")
_time = time.time


def _stamp() -> str:
    """The local time as ``YYYYMMDDhhmmss``, made once a second."""
    global _stamp_cache
    now = int(_time())
    if _stamp_cache[0] != now:
        _stamp_cache = (now, time.strftime("%Y%m%d%H%M%S", time.localtime(now)))
    return _stamp_cache[1]


def format_trace_id(at: float, auth_index: str, request_id: str) -> str:
    """The header's value for a credential picked at ``at`` (epoch seconds, local time
    written); ``""`` when the time, the index or the request id is missing."""
    auth_index, request_id = auth_index.strip(), request_id.strip()
    if at <= 0 or not auth_index or not request_id or request_id == NO_REQUEST:
        return ""
    return f"{time.strftime('%Y%m%d%H%M%S', time.localtime(at))}-{auth_index}-{request_id}"


def add_trace_id(result: Any) -> None:
    """Put the header on a pipeline answer (a ``Reply`` or ``StreamReply``) that a
    credential served; nothing otherwise. Every answer pays this: the time part is made
    once a second, and a credential's ``index`` is canonical already (no strip)."""
    cred = result.credential
    if cred is None or not (index := cred.index):
        return
    request_id = REQUEST_ID.get()
    if request_id and request_id != NO_REQUEST:
        cached = _stamp_cache  # _stamp(), inline
        stamp = cached[1] if cached[0] == int(_time()) else _stamp()
        result.headers[TRACE_ID_HEADER] = f"{stamp}-{index}-{request_id}"


def trace_line(result: Any) -> bytes:
    """The header as a whole line of an answer's head (``X-CPA-TRACE-ID: ...\\r\\n``), for
    the fast engine to write as it is; ``b""`` when no credential served ``result``. What
    :func:`add_trace_id` puts in the headers, without a dict entry the head's writer would
    encode and check on every answer. No newline check is needed: the value is made of our
    own digits and hex only (the time, a sha256-derived ``auth_index``, the request id)."""
    cred = result.credential
    if cred is None or not (index := cred.index):
        return b""
    request_id = REQUEST_ID.get()
    if not request_id or request_id == NO_REQUEST:
        return b""
    cached = _stamp_cache  # _stamp(), inline
    stamp = cached[1] if cached[0] == int(_time()) else _stamp()
    return f"X-CPA-TRACE-ID: {stamp}-{index}-{request_id}\r\n".encode()


def add_error_trace_id(headers: MutableMapping[str, str], exc: Any, pool: Any) -> None:
    """Put the header on an error answer whose error names the credential that got it (an
    upstream's refusal); nothing for an error no credential was picked for."""
    cid = getattr(exc, "credential_id", None)
    cred = pool.get(cid) if cid else None
    if cred is not None and (value := format_trace_id(time.time(), cred.index, REQUEST_ID.get())):
        headers[TRACE_ID_HEADER] = value
