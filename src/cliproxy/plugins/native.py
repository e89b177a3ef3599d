"""Native CPA plugins: shared libraries built against CPA's C ABI, loaded with ctypes.

``NativeClient`` is the ``PluginClient`` for ``.so``/``.dylib`` files that CPA loads,
unchanged. Each native call runs on a worker thread (ctypes releases the GIL during it; threads
are reused, and a call never waits for one), so the event loop stays free; that is also what makes
re-entrant host callbacks work: the plugin calls ``host->call`` from inside its own
call (or from any thread it owns), the callback hops onto the event loop with
``run_coroutine_threadsafe`` and blocks its native thread until the dispatcher answers.

Limits, as in CPA: a native call cannot be interrupted, so a timeout or cancellation
only lets the caller go; the call keeps running and is counted until it returns. A
segfault or abort inside the library takes the whole process down; only the
subprocess transport can contain that. Libraries are never ``dlclose``d: a plugin may
still run threads or hold pointers into its image after ``shutdown()``, and Go-built
libraries cannot be unloaded at all.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import threading
from typing import Any

import orjson

from cliproxy.plugins import _cabi, _native_host
from cliproxy.plugins._native_pool import ThreadPerCallPool
from cliproxy.plugins.abi import (
    ABI_VERSION,
    PluginCrashed,
    PluginError,
    decode_envelope,
    error_envelope,
    is_error_envelope,
    ok_envelope,
)
from cliproxy.plugins.client import HostDispatcher

__all__ = ["NativeClient", "NativeLoadError"]

log = logging.getLogger(__name__)


class NativeLoadError(PluginCrashed):
    """A file could not be loaded as a CPA native plugin; the message names the file."""


class NativeClient:
    """A loaded native plugin. Create it with ``await NativeClient.load(...)``."""

    transport = "native"

    def __init__(
        self, path: str, plugin_id: str, dispatcher: HostDispatcher, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.plugin_id = plugin_id
        self.path = path
        self._dispatcher = dispatcher
        self._loop = loop
        self._pool = ThreadPerCallPool(f"plugin-{plugin_id}")
        self._cond = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._finished: concurrent.futures.Future[None] | None = None
        self._lib: ctypes.CDLL | None = None
        self._slot = _cabi.PluginAPISlot()
        self._api = self._slot.api  # a view into the slot: init writes there
        self._ident, self._host_api = _native_host.register(self)

    @classmethod
    async def load(
        cls,
        path: str,
        plugin_id: str,
        dispatcher: HostDispatcher,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> NativeClient:
        """``dlopen`` ``path`` and run its ``cliproxy_plugin_init`` (on a worker thread).

        Raises ``NativeLoadError`` naming the file when the library cannot be opened,
        lacks the init symbol, fails init, or fills in an unusable function table.
        Host callbacks are answered on ``loop`` (default: the running loop).
        """
        loop = loop or asyncio.get_running_loop()
        client = cls(str(path), plugin_id, dispatcher, loop)
        try:
            await asyncio.wrap_future(client._pool.submit(client._open))
        except BaseException:
            client._abandon()
            raise
        return client

    @property
    def in_flight(self) -> int:
        """Native calls started and not yet returned (timed-out ones included)."""
        with self._cond:
            return self._in_flight

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Run ``method`` in the plugin on a worker thread; the envelope's ``result``.

        ``PluginError`` for an error envelope, ``PluginCrashed`` for a non-envelope answer
        or a non-zero return code without an error envelope, ``TimeoutError`` when
        ``timeout`` passes (the native call carries on in its thread).
        """
        request = orjson.dumps(params)
        waiter = asyncio.wrap_future(self._submit(method, request))
        if timeout is None:
            return await waiter
        return await asyncio.wait_for(waiter, timeout)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Refuse new calls, wait up to ``timeout`` for in-flight ones, release the plugin.

        The plugin's ``shutdown()`` runs only once every in-flight call has returned (as
        CPA's guard does); if that takes longer than ``timeout`` this returns and the
        release finishes in the background.
        """
        with self._cond:
            if self._finished is None:
                self._closed = True
                self._finished = concurrent.futures.Future()
                threading.Thread(
                    target=self._finish, name=f"plugin-{self.plugin_id}-shutdown", daemon=True
                ).start()
            finished = self._finished
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(finished)), timeout)
        except TimeoutError:
            log.warning(
                "plugin %s: %d call(s) still running after %.1fs; shutdown continues in background",
                self.plugin_id,
                self.in_flight,
                timeout,
            )

    # -- loading (worker thread)

    def _open(self) -> None:
        try:
            self._lib, init = _cabi.open_library(self.path)
        except OSError as exc:
            raise NativeLoadError(f"native plugin {self.path}: cannot load library: {exc}") from exc
        except AttributeError as exc:
            raise NativeLoadError(f"native plugin {self.path}: missing symbol {_cabi.INIT_SYMBOL}") from exc
        rc = init(ctypes.byref(self._host_api), ctypes.byref(self._api))
        problem = self._init_problem(rc)
        if problem:
            self._native_shutdown()  # as CPA does: let a half-initialised plugin clean up
            raise NativeLoadError(f"native plugin {self.path}: {problem}")

    def _init_problem(self, rc: int) -> str:
        if rc != 0:
            return f"{_cabi.INIT_SYMBOL} returned {rc}"
        if overrun := self._slot.overrun():
            return (
                f"plugin (ABI version {self._api.abi_version}) wrote a function table larger than"
                f" ABI version {ABI_VERSION}'s {ctypes.sizeof(_cabi.PluginAPI)} bytes (at least"
                f" {overrun} bytes more); a plugin built for a later ABI is not supported"
            )
        if self._api.abi_version != ABI_VERSION:
            return f"plugin ABI version {self._api.abi_version} is not supported (host: {ABI_VERSION})"
        if not self._api.call or not self._api.free_buffer:
            return "plugin function table is incomplete (call and free_buffer are required)"
        return ""

    def _abandon(self) -> None:
        self._closed = True
        _native_host.unregister(self._ident)
        self._pool.close()

    # -- calls

    def _submit(self, method: str, request: bytes) -> concurrent.futures.Future[Any]:
        with self._cond:
            if self._closed:
                raise PluginError("plugin client is closed")
            self._in_flight += 1
        try:
            future = self._pool.submit(self._invoke, method, request)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: object = None) -> None:
        with self._cond:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._cond.notify_all()

    def _invoke(self, method: str, request: bytes) -> Any:
        rc, body = self._call_native(method, request)
        if rc != 0:
            body = _go_utf8(body)
            if not is_error_envelope(body):
                text = body.decode("utf-8", "replace")
                raise PluginCrashed(f"plugin call {method} returned {rc}: {text}")
        try:
            return decode_envelope(body, method)
        except PluginCrashed:
            fixed = _go_utf8(body)
            if fixed is body:
                raise
            return decode_envelope(fixed, method)

    def _call_native(self, method: str, request: bytes) -> tuple[int, bytes]:
        # A NUL-terminated copy the plugin may read for the whole call; never Python's own bytes.
        req = ctypes.create_string_buffer(request)
        resp = _cabi.Buffer()
        rc = self._api.call(
            method.encode(), ctypes.cast(req, ctypes.c_void_p), len(request), ctypes.byref(resp)
        )
        ptr, length = resp.ptr, resp.len
        try:
            body = _cabi.read_buffer(ptr, length)
        finally:
            if ptr:
                self._api.free_buffer(ptr, length)
        return rc, body

    # -- host callbacks (any thread but the loop's)

    def answer_host_call(self, method: str, request: bytes) -> bytes:
        """Run ``method`` on the event loop through the dispatcher; always an envelope."""
        try:
            params = orjson.loads(_go_utf8(request)) if request else None
        except orjson.JSONDecodeError as exc:
            return error_envelope(f"invalid {method} request: {exc}")
        problem = self._loop_problem()
        if problem:
            return error_envelope(problem)
        coro = self._dispatcher.host_call(self.plugin_id, method, params)
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError as exc:  # the loop closed meanwhile
            coro.close()
            return error_envelope(f"host is not running: {exc}")
        try:
            result = future.result()
        except BaseException as exc:
            return error_envelope(_failure_message(exc))
        try:
            return ok_envelope(result)
        except TypeError as exc:
            return error_envelope(f"{method} returned a value that is not JSON: {exc}")

    def _loop_problem(self) -> str:
        if self._loop.is_closed():
            return "host is not running: event loop is closed"
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return ""
        if running is self._loop:
            # Blocking here would deadlock: the loop would wait on itself.
            return "host callback made on the event loop thread"
        return ""

    # -- shutdown (own thread)

    def _finish(self) -> None:
        assert self._finished is not None
        try:
            with self._cond:
                while self._in_flight:
                    self._cond.wait()
            self._native_shutdown()
        except BaseException:
            log.exception("plugin %s: shutdown failed", self.plugin_id)
        finally:
            _native_host.unregister(self._ident)
            self._pool.close()
            self._finished.set_result(None)

    def _native_shutdown(self) -> None:
        if self._api.shutdown:
            self._api.shutdown()


def _go_utf8(body: bytes) -> bytes:
    """``body`` with each byte that is not UTF-8 read as U+FFFD, as Go's encoding/json reads
    a plugin's JSON (CPA); ``body`` itself when it is valid."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("utf-8", "replace").encode()
    return body


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, PluginError):
        return exc.message
    if isinstance(exc, concurrent.futures.CancelledError | asyncio.CancelledError):
        return "host callback was cancelled"
    return str(exc) or type(exc).__name__
