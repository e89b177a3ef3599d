"""Subprocess plugins: any language, JSON frames over the child's stdin and stdout.

``SubprocessClient`` is the ``PluginClient`` of this transport (the protocol is in
``docs/plugin-protocol.md``, the frames in ``cliproxy.plugins.stdio_protocol``):

* calls are multiplexed by id, so many run at once; the plugin may answer in any order;
* the plugin's ``host_call`` frames are served concurrently, each in its own task, also
  while calls are outstanding (re-entrancy);
* a call that outlives its timeout sends ``cancel`` and raises ``PluginTimeoutError``
  (a ``PluginError`` with code ``timeout`` and status 504 that is also a ``TimeoutError``);
  a cancelled caller sends ``cancel`` too; a late answer is dropped;
* a dead process, a closed stdout or an undecodable line kills the client: every pending
  and later call raises ``PluginCrashed`` and ``on_crash`` runs once;
* ``shutdown`` drains, says goodbye, and terminates, then kills, what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import shlex
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cliproxy.plugins import stdio_protocol as proto
from cliproxy.plugins.abi import PluginCrashed, PluginError
from cliproxy.plugins.client import HostDispatcher

__all__ = ["OnCrash", "PluginTimeoutError", "SubprocessClient"]

log = logging.getLogger(__name__)

OnCrash = Callable[[str, PluginCrashed], Awaitable[Any] | None]

KILL_GRACE = 1.0  # seconds a signal is given to take effect before the next, harder step
EXIT_CODE_WAIT = 0.25  # after stdout closes, how long to wait for the exit code to report it
STDERR_TAIL = 5  # stderr lines quoted in a crash message
EXIT_POLL = 0.5  # seconds between checks that the process is still running


class PluginTimeoutError(PluginError, TimeoutError):
    """A plugin call outlived its timeout (``code="timeout"``, ``http_status=504``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=504, code="timeout")


@dataclass(slots=True)
class _Pending:
    method: str
    future: asyncio.Future[dict[str, Any]]


class SubprocessClient:
    """A plugin running as a child process; create it with ``await SubprocessClient.start(...)``."""

    transport = "subprocess"

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        plugin_id: str,
        dispatcher: HostDispatcher,
        *,
        path: str,
        call_timeout: float | None,
        on_crash: OnCrash | None,
    ) -> None:
        self.plugin_id = plugin_id
        self.path = path
        self._proc = proc
        self._dispatcher = dispatcher
        self._call_timeout = call_timeout
        self._on_crash = on_crash
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._host_tasks: dict[int | str, asyncio.Task[None]] = {}
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._crash: PluginCrashed | None = None
        self._closing = False  # shutdown began: no new calls
        self._goodbye = False  # stdin closed by us: EOF on stdout is expected
        self._reaper: asyncio.Task[None] | None = None
        self._shutdown_task: asyncio.Future[None] | None = None
        self._readers = (
            asyncio.create_task(self._read_stdout(), name=f"plugin-{plugin_id}-stdout"),
            asyncio.create_task(self._read_stderr(), name=f"plugin-{plugin_id}-stderr"),
        )
        self._watcher = asyncio.create_task(self._watch_exit(), name=f"plugin-{plugin_id}-watch")

    @classmethod
    async def start(
        cls,
        command: Sequence[str],
        plugin_id: str,
        dispatcher: HostDispatcher,
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        call_timeout: float | None = 30.0,
        on_crash: OnCrash | None = None,
        path: str | None = None,
    ) -> SubprocessClient:
        """Spawn ``command`` (``env`` replaces the environment, like ``subprocess``).

        ``path`` names the plugin (default: the command line). Raises ``PluginCrashed``
        when the process cannot be started.
        """
        argv = [str(a) for a in command]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                limit=proto.STREAM_LIMIT,
                start_new_session=os.name == "posix",
            )
        except (OSError, ValueError) as exc:
            raise PluginCrashed(f"plugin {plugin_id}: cannot start {shlex.join(argv)}: {exc}") from exc
        log.debug("plugin %s started, pid %s: %s", plugin_id, proc.pid, shlex.join(argv))
        return cls(
            proc,
            plugin_id,
            dispatcher,
            path=path if path is not None else shlex.join(argv),
            call_timeout=call_timeout,
            on_crash=on_crash,
        )

    async def __aenter__(self) -> SubprocessClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @property
    def alive(self) -> bool:
        """Whether calls are accepted (not crashed, not shut down)."""
        return self._crash is None and not self._closing

    # ------------------------------------------------------------------ calls

    async def call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Send ``method`` and await its answer's ``result`` (see the module docstring)."""
        self._check_usable()
        self._next_id += 1
        call_id = self._next_id
        pending = _Pending(method, asyncio.get_running_loop().create_future())
        self._pending[call_id] = pending
        limit = self._call_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                await self._send(proto.call_frame(call_id, method, params))
                envelope = await pending.future
        except TimeoutError:
            self._cancel_remote(call_id, pending)
            raise PluginTimeoutError(
                f"plugin {self.plugin_id}: {method} timed out after {limit:g}s"
            ) from None
        except asyncio.CancelledError:
            self._cancel_remote(call_id, pending)
            raise
        finally:
            self._pending.pop(call_id, None)
            _retrieve(pending.future)
        return proto.envelope_result(envelope, method)

    def _check_usable(self) -> None:
        if self._crash is not None:
            raise PluginCrashed(str(self._crash))
        if self._closing:
            raise PluginCrashed(f"plugin {self.plugin_id} is shut down")

    def _cancel_remote(self, call_id: int, pending: _Pending) -> None:
        """Tell the plugin to stop working on ``call_id`` unless its answer already came."""
        answered = pending.future.done() and not pending.future.cancelled()
        stdin = self._proc.stdin
        if not answered and self._writable() and stdin is not None:
            stdin.write(proto.cancel_frame(call_id))  # no drain: the caller is leaving now

    def _writable(self) -> bool:
        stdin = self._proc.stdin
        return self._crash is None and not self._goodbye and stdin is not None and not stdin.is_closing()

    async def _send(self, data: bytes) -> None:
        """Write one frame; a broken pipe kills the client."""
        if not self._writable():
            self._check_usable()
            raise PluginCrashed(f"plugin {self.plugin_id}: stdin is closed")
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            await stdin.drain()
        except ConnectionError as exc:
            self._die(f"cannot write to the plugin's stdin: {exc!r}")
            raise PluginCrashed(str(self._crash)) from exc

    # ------------------------------------------------------------------ reading

    async def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except ValueError as exc:  # the line outgrew the reader's limit
                return self._die(f"wrote a frame longer than {proto.STREAM_LIMIT} bytes: {exc}")
            if not line:
                break
            if not line.strip():
                continue
            try:
                self._dispatch(proto.decode_frame(line))
            except proto.ProtocolError as exc:
                return self._die(str(exc))
            except Exception as exc:  # a bug here must not leave callers waiting forever
                log.exception("plugin %s: frame handling failed", self.plugin_id)
                return self._die(f"frame handling failed: {exc!r}")
        if not self._goodbye:
            await self._stdout_closed()
        return None

    async def _stdout_closed(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXIT_CODE_WAIT):
                await self._proc.wait()
        rc = self._proc.returncode
        self._die("closed its stdout" if rc is None else f"exited with code {rc}{_signal_name(rc)}")

    async def _watch_exit(self) -> None:
        # Normally stdout's EOF reports the exit; this catches a process that died while
        # a child it started still holds the pipe open.
        while self._proc.returncode is None:
            if self._crash is not None or self._goodbye:
                return
            await asyncio.sleep(EXIT_POLL)
        await asyncio.wait([self._readers[0]], timeout=EXIT_CODE_WAIT)  # EOF usually comes first
        if self._crash is None and not self._goodbye:
            rc = self._proc.returncode
            self._die(f"exited with code {rc}{_signal_name(rc)} (its stdout is still open)")

    async def _read_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        lines = proto.LineSplitter()
        while chunk := await stderr.read(65536):
            for line in lines.decode(chunk):
                self._log_stderr(line)
        for line in lines.flush():
            self._log_stderr(line)

    def _log_stderr(self, line: str) -> None:
        self._stderr_tail.append(line)
        log.info("plugin %s stderr: %s", self.plugin_id, line)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == proto.RESULT:
            self._on_result(frame)
        elif kind == proto.HOST_CALL:
            self._on_host_call(frame)
        elif kind == proto.CANCEL:
            task = self._host_tasks.get(proto.frame_id(frame))
            if task is not None:
                task.cancel()
        elif kind == proto.LOG:
            message = str(frame.get("message", ""))[: proto.MAX_LOG_LINE]
            log.log(proto.log_level(frame.get("level")), "plugin %s: %s", self.plugin_id, message)
        else:  # newer protocol revisions may add frame types: ignore them
            log.debug("plugin %s: ignored frame of type %r", self.plugin_id, kind)

    def _on_result(self, frame: dict[str, Any]) -> None:
        call_id = proto.frame_id(frame)
        envelope = frame.get("envelope")
        if not isinstance(envelope, dict):
            raise proto.ProtocolError(f"result {call_id!r} without an envelope object")
        pending = self._pending.get(call_id) if isinstance(call_id, int) else None
        if pending is None or pending.future.done():
            log.debug("plugin %s: dropped late result %r", self.plugin_id, call_id)
            return
        pending.future.set_result(envelope)

    # ------------------------------------------------------------------ host callbacks

    def _on_host_call(self, frame: dict[str, Any]) -> None:
        call_id = proto.frame_id(frame)
        task = asyncio.create_task(self._serve_host_call(call_id, frame.get("method"), frame.get("params")))
        self._host_tasks[call_id] = task
        task.add_done_callback(self._forget_host_task)

    def _forget_host_task(self, task: asyncio.Task[None]) -> None:
        for key, value in list(self._host_tasks.items()):
            if value is task:
                del self._host_tasks[key]

    async def _serve_host_call(self, call_id: int | str, method: Any, params: Any) -> None:
        envelope = await self._host_envelope(method, params)
        if self._writable():
            with contextlib.suppress(PluginCrashed):
                await self._send(proto.host_result_frame(call_id, envelope))

    async def _host_envelope(self, method: Any, params: Any) -> dict[str, Any]:
        if not isinstance(method, str) or not method:
            return proto.host_error("host_call without a method")
        try:
            result = await self._dispatcher.host_call(self.plugin_id, method, params)
        except Exception as exc:
            log.debug("plugin %s: host call %s failed: %s", self.plugin_id, method, exc)
            return proto.host_error(str(exc) or type(exc).__name__)
        return {"ok": True, "result": result}

    # ------------------------------------------------------------------ crash

    def _die(self, reason: str) -> None:
        """Mark the client dead (once): fail pending calls, kill the process, tell the host."""
        if self._crash is not None:
            return
        tail = " | ".join(self._stderr_tail)
        err = PluginCrashed(f"plugin {self.plugin_id} {reason}" + (f"; stderr: {tail}" if tail else ""))
        self._crash = err
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(PluginCrashed(str(err)))
        for task in self._host_tasks.values():
            task.cancel()
        self._reaper = asyncio.create_task(self._reap(), name=f"plugin-{self.plugin_id}-reaper")
        if self._closing:
            log.warning("%s (during shutdown)", err)
            return
        log.error("%s", err)
        self._notify_crash(err)

    def _notify_crash(self, err: PluginCrashed) -> None:
        if self._on_crash is None:
            return
        try:
            outcome = self._on_crash(self.plugin_id, err)
        except Exception:
            log.exception("plugin %s: on_crash callback failed", self.plugin_id)
            return
        if inspect.isawaitable(outcome):
            self._side_tasks.add(task := asyncio.ensure_future(outcome))
            task.add_done_callback(self._side_tasks.discard)

    async def _reap(self) -> None:
        if self._proc.returncode is None:
            self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
        await self._wait_exit(KILL_GRACE)

    # ------------------------------------------------------------------ shutdown

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Refuse new calls, let in-flight ones finish (up to ``timeout``), end the process.

        Sends ``shutdown``, closes stdin, waits for the exit until ``timeout`` and then
        terminates, then kills. Safe to call again and after a crash (it reaps the process).
        """
        self._closing = True
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.ensure_future(self._shutdown(timeout))
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        if self._crash is None and not self._goodbye:
            await self._drain(deadline - loop.time())
            self._say_goodbye()
            await self._end_process(deadline - loop.time())
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(PluginCrashed(f"plugin {self.plugin_id} was shut down"))
        await self._release()

    async def _drain(self, timeout: float) -> None:
        futures = [p.future for p in self._pending.values()]
        if futures and timeout > 0:
            await asyncio.wait(futures, timeout=timeout)

    def _say_goodbye(self) -> None:
        stdin = self._proc.stdin
        if self._writable() and stdin is not None:
            stdin.write(proto.SHUTDOWN_FRAME)
        self._goodbye = True
        if stdin is not None:
            stdin.close()

    async def _end_process(self, timeout: float) -> None:
        if await self._wait_exit(timeout):
            return
        log.warning("plugin %s did not exit after shutdown: terminating it", self.plugin_id)
        self._signal(signal.SIGTERM)
        if await self._wait_exit(KILL_GRACE):
            return
        if os.name == "posix":
            self._signal(signal.SIGKILL)
        await self._wait_exit(KILL_GRACE)

    async def _release(self) -> None:
        """Stop every task this client started and make sure the process is reaped."""
        if self._reaper is not None:
            await self._reaper
        tasks = [*self._host_tasks.values(), *self._side_tasks]
        for task in self._host_tasks.values():
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._wait_exit(KILL_GRACE)
        _, open_pipes = await asyncio.wait(self._readers, timeout=KILL_GRACE)
        if open_pipes:
            self._close_pipes()
            await asyncio.wait(self._readers, timeout=KILL_GRACE)
        for task in (*self._readers, self._watcher):
            task.cancel()
        await asyncio.gather(*self._readers, self._watcher, return_exceptions=True)
        if self._reaper is not None:  # a reader may have found garbage on the way out
            await self._reaper

    async def _wait_exit(self, timeout: float) -> bool:
        """Whether the process exited within ``timeout`` (its pipes may still be open)."""
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._proc.wait()
        except TimeoutError:
            return False
        return True

    def _signal(self, sig: int) -> None:
        if self._proc.returncode is not None:
            return
        try:
            if os.name == "posix":  # its own session: reach the children it started too
                os.killpg(self._proc.pid, sig)
            else:
                self._proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    def _close_pipes(self) -> None:
        # The process is gone but something it started keeps the pipes open (stdout
        # never ends). Kill its process group, which still exists since that member
        # lives, then close the transport (asyncio has no public way to do so).
        log.warning("plugin %s: pipes still open after exit, closing them", self.plugin_id)
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        transport = getattr(self._proc, "_transport", None)
        if transport is not None:
            transport.close()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failed future's exception as seen, so the loop does not log it."""
    if future.done() and not future.cancelled():
        future.exception()


def _signal_name(rc: int) -> str:
    if rc >= 0:
        return ""
    try:
        return f" ({signal.Signals(-rc).name})"
    except ValueError:
        return ""
