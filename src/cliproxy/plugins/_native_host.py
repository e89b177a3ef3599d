"""The host side of CPA's native ABI: the ``host_api`` table and the C callbacks in it.

Every loaded library gets its own ``host_api`` whose ``host_ctx`` points at a word
holding a process-wide registry id; the callback reads that id to learn which plugin
is calling. Plugins keep the ``host_api`` pointer (and may call it from threads they
own), and libraries are never unloaded, so the tables, the context words and the two
C function objects live for the rest of the process.

Callback return codes follow CPA: 0 with an envelope in ``*response`` (also for
failures, as ``host_call_failed`` error envelopes), 1 only for a NULL context or
method, an unknown context, or an allocation failure. No Python exception ever
unwinds into C.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import threading
from typing import Any, Protocol

from cliproxy.plugins import _cabi
from cliproxy.plugins.abi import ABI_VERSION, error_envelope

__all__ = ["HostCallTarget", "register", "registered", "unregister"]


class HostCallTarget(Protocol):
    def answer_host_call(self, method: str, request: bytes) -> bytes:
        """The envelope answering a callback; must not raise."""
        ...


_lock = threading.Lock()
_ids = itertools.count(1)
_targets: dict[int, HostCallTarget] = {}
# (context word, host_api) pairs: plugins hold pointers into them forever.
_retained: list[tuple[ctypes.c_size_t, _cabi.HostAPI]] = []


def register(target: HostCallTarget) -> tuple[int, _cabi.HostAPI]:
    """A fresh registry id for ``target`` and the ``host_api`` table naming it."""
    ident = next(_ids)
    word = ctypes.c_size_t(ident)
    api = _cabi.HostAPI(ABI_VERSION, ctypes.addressof(word), _HOST_CALL, _HOST_FREE)
    with _lock:
        _targets[ident] = target
        _retained.append((word, api))
    return ident, api


def unregister(ident: int) -> None:
    """Forget ``ident``: later callbacks with its context get return code 1."""
    with _lock:
        _targets.pop(ident, None)


def registered(ident: int) -> bool:
    with _lock:
        return ident in _targets


def _lookup(ctx: int) -> HostCallTarget | None:
    ident = ctypes.c_size_t.from_address(ctx).value
    with _lock:
        return _targets.get(ident)


def _answer(target: HostCallTarget, method: bytes, request: int | None, request_len: int) -> bytes:
    try:
        body = _cabi.read_buffer(request, request_len)
        return target.answer_host_call(method.decode("utf-8", "replace"), body)
    except BaseException as exc:  # a callback must always answer
        return error_envelope(f"host callback failed: {exc!r}")


def _serve(
    ctx: int | None, method: bytes | None, request: int | None, request_len: int, response: Any
) -> int:
    if response:
        response.contents.ptr = None
        response.contents.len = 0
    if not ctx or method is None:
        return 1
    target = _lookup(ctx)
    if target is None:
        return 1
    body = _answer(target, method, request, request_len)
    if not response:
        return 0
    ptr = _cabi.copy_to_c_heap(body)
    if ptr is None:
        return 1
    response.contents.ptr = ptr
    response.contents.len = len(body)
    return 0


def _host_call(
    ctx: int | None, method: bytes | None, request: int | None, request_len: int, response: Any
) -> int:
    try:
        return _serve(ctx, method, request, request_len, response)
    except BaseException:  # never unwind into C
        return 1


def _host_free(ptr: int | None, _length: int) -> None:
    with contextlib.suppress(BaseException):  # never unwind into C
        _cabi.free_c_heap(ptr)


_HOST_CALL = _cabi.HOST_CALL(_host_call)
_HOST_FREE = _cabi.HOST_FREE(_host_free)
