"""ctypes mirror of CPA's native plugin ABI (version 1).

The layouts follow the C declarations every CPA plugin compiles against: a buffer is
a data pointer and a ``size_t`` length; the host table is ``abi_version``, ``host_ctx``,
``call``, ``free_buffer``; the plugin table is ``abi_version``, ``call``,
``free_buffer``, ``shutdown``; the one exported symbol is
``int cliproxy_plugin_init(const host_api*, plugin_api*)``.

Buffers the host hands to a plugin come from libc ``malloc`` and go back through the
host's ``free_buffer``, which calls libc ``free``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import POINTER, c_char_p, c_int, c_size_t, c_uint32, c_void_p
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _ctypes import CFuncPtr  # ctypes keeps it private (as ``_CFuncPtr``)

__all__ = [
    "HOST_CALL",
    "HOST_FREE",
    "INIT_SYMBOL",
    "PLUGIN_CALL",
    "PLUGIN_FREE",
    "PLUGIN_SHUTDOWN",
    "Buffer",
    "HostAPI",
    "PluginAPI",
    "PluginAPISlot",
    "copy_to_c_heap",
    "free_c_heap",
    "open_library",
    "read_buffer",
]

INIT_SYMBOL = "cliproxy_plugin_init"


class Buffer(ctypes.Structure):
    _fields_ = [("ptr", c_void_p), ("len", c_size_t)]


HOST_CALL = ctypes.CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, c_size_t, POINTER(Buffer))
HOST_FREE = ctypes.CFUNCTYPE(None, c_void_p, c_size_t)
PLUGIN_CALL = ctypes.CFUNCTYPE(c_int, c_char_p, c_void_p, c_size_t, POINTER(Buffer))
PLUGIN_FREE = ctypes.CFUNCTYPE(None, c_void_p, c_size_t)
PLUGIN_SHUTDOWN = ctypes.CFUNCTYPE(None)


class HostAPI(ctypes.Structure):
    _fields_ = [
        ("abi_version", c_uint32),
        ("host_ctx", c_void_p),
        ("call", HOST_CALL),
        ("free_buffer", HOST_FREE),
    ]


class PluginAPI(ctypes.Structure):
    _fields_ = [
        ("abi_version", c_uint32),
        ("call", PLUGIN_CALL),
        ("free_buffer", PLUGIN_FREE),
        ("shutdown", PLUGIN_SHUTDOWN),
    ]


# Zeroed room after the v1 table: a plugin built for a later ABI with a larger table writes
# its extra entries here instead of over the host's memory (the table has no size field,
# so the host only learns the plugin's size from what it wrote; CPA has no such room).
PLUGIN_API_HEADROOM = 1024


class PluginAPISlot(ctypes.Structure):
    """A ``PluginAPI`` followed by ``PLUGIN_API_HEADROOM`` zero bytes."""

    _fields_ = [("api", PluginAPI), ("headroom", ctypes.c_ubyte * PLUGIN_API_HEADROOM)]

    def overrun(self) -> int:
        """How many bytes past the v1 table init wrote (0 for a v1 plugin)."""
        used = len(bytes(self.headroom).rstrip(b"\0"))
        word = ctypes.sizeof(c_void_p)  # a pointer's high bytes are often zero
        return -(-used // word) * word


def _libc() -> ctypes.CDLL:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else ctypes.CDLL(None)
    except OSError:
        return ctypes.CDLL(None)


_LIBC = _libc()
_malloc = _LIBC.malloc
_malloc.argtypes = [c_size_t]
_malloc.restype = c_void_p
_free = _LIBC.free
_free.argtypes = [c_void_p]
_free.restype = None

# dlopen flags as CPA uses them; Windows ignores the mode (no shadow copy is made here).
_DL_MODE = getattr(os, "RTLD_NOW", 0) | getattr(os, "RTLD_LOCAL", 0)


def open_library(path: str) -> tuple[ctypes.CDLL, CFuncPtr]:
    """``dlopen`` ``path`` and find its init symbol; ``OSError``/``AttributeError`` pass through."""
    if os.sep not in path and (os.altsep is None or os.altsep not in path):
        path = os.path.join(os.curdir, path)  # a bare name is searched in the system's library paths
    lib = ctypes.CDLL(path, mode=_DL_MODE)
    init = getattr(lib, INIT_SYMBOL)
    init.argtypes = [POINTER(HostAPI), POINTER(PluginAPI)]
    init.restype = c_int
    return lib, init


def copy_to_c_heap(data: bytes) -> int | None:
    """A ``malloc``'d copy of ``data`` (its address), or ``None`` when out of memory."""
    ptr = _malloc(max(len(data), 1))
    if not ptr:
        return None
    ctypes.memmove(ptr, data, len(data))
    return int(ptr)


def free_c_heap(ptr: int | None) -> None:
    if ptr:
        _free(ptr)


def read_buffer(ptr: int | None, length: int) -> bytes:
    """A copy of ``length`` bytes at ``ptr`` (``b""`` for NULL or zero length)."""
    if not ptr or length <= 0:
        return b""
    return ctypes.string_at(ptr, length)
