"""Random ids for what the proxy answers (``chatcmpl-…``, ``msg_…``, ``resp_…``, tool calls).

The bytes are the operating system's (``os.urandom``), as ``uuid.uuid4`` and ``secrets``
draw them, but fetched 4 KiB at a time: one ``getrandom`` system call per ~250 ids instead
of one per id (a system call costs microseconds on a virtual machine; a translated answer
draws one or two ids). A forked child drops what its parent had fetched, so two processes
never hand out the same bytes.
"""

from __future__ import annotations

import os

CHUNK = 4096

_buf = b""
_pos = 0


def _forget() -> None:
    global _buf, _pos
    _buf, _pos = b"", 0


os.register_at_fork(after_in_child=_forget)


def token_hex(nbytes: int) -> str:
    """``2 * nbytes`` random hex digits (what ``secrets.token_hex(nbytes)`` gives)."""
    global _buf, _pos
    start = _pos
    end = start + nbytes
    if end > len(_buf):
        _buf = os.urandom(max(CHUNK, nbytes))
        start, end = 0, nbytes
    _pos = end
    return _buf[start:end].hex()


def uuid_hex() -> str:
    """32 random hex digits, the length of ``uuid.uuid4().hex``."""
    return token_hex(16)
