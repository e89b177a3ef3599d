"""``workers: N``: N server processes on one port, kept alive by a small supervisor.

The supervisor is the process the user started. It reserves the port (a bound socket with
``SO_REUSEPORT`` that never listens, so ``port: 0`` resolves once for every worker), then
runs N copies of ``cliproxy serve`` on that port; each worker listens with
``SO_REUSEPORT`` and the kernel spreads new connections across them. A worker that dies is
started again after a back-off that doubles with every quick death (0.5 s up to 30 s) and
resets once a worker has lived a minute. SIGTERM or SIGINT drains: every worker gets
SIGTERM, stops accepting, finishes the requests it has in flight and exits; one still
running after the grace period is killed.

What the workers share is the state backend (``state.backend``). With the in-memory
backend each worker would keep its own cooldowns, rotation cursors, affinity bindings and
bans, so clients would see N proxies that disagree: :func:`refusal` says so and the
command refuses to start. ``CLIPROXY_WORKERS_MEMORY_STATE=1`` lifts the refusal for
benchmarks and tests of the supervisor only.

A worker knows it is one by ``CLIPROXY_WORKER_INDEX`` in its environment (the index of its
slot, from 0). A token store's mirror runs in the supervisor, which writes back what any
worker changed and pulls other hosts' changes when a worker hears of them.

The workers also share a fresh ``PROMETHEUS_MULTIPROC_DIR`` (one the user set is kept, emptied
of an earlier run's metric files),
made at start and removed once they have stopped, so that ``/metrics`` on any of them counts
the requests of all of them (:mod:`cliproxy.usage.metrics`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from cliproxy.credentials.stores.link import link_fds

__all__ = [
    "MEMORY_OVERRIDE_ENV",
    "WORKER_ENV",
    "Supervisor",
    "refusal",
    "reserve_port",
    "state_backend",
    "worker_index",
]

log = logging.getLogger(__name__)

WORKER_ENV = "CLIPROXY_WORKER_INDEX"
MEMORY_OVERRIDE_ENV = "CLIPROXY_WORKERS_MEMORY_STATE"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's; cliproxy.usage.metrics reads it
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a worker that lived this long resets its slot's back-off
DRAIN_GRACE = 30.0  # seconds a worker gets to finish its requests after SIGTERM
EXIT_CONFIG = 2  # `cliproxy serve` exits 2 when the config does not load: restarting won't help


def worker_index(environ: dict[str, str] | None = None) -> int | None:
    """This process's worker slot, or ``None`` when it is not a supervised worker."""
    value = (os.environ if environ is None else environ).get(WORKER_ENV, "")
    return int(value) if value.strip().isdigit() else None


def state_backend(config: Any) -> str:
    """``state.backend`` of ``config`` (``memory`` when the key is absent)."""
    state = getattr(config, "state", None)
    backend = state.get("backend") if isinstance(state, dict) else getattr(state, "backend", None)
    return str(backend or "memory").strip().lower()


def refusal(config: Any, workers: int, environ: dict[str, str] | None = None) -> str | None:
    """Why ``workers`` processes cannot run on ``config``, or ``None`` when they can."""
    if workers <= 1 or state_backend(config) != "memory":
        return None
    if (os.environ if environ is None else environ).get(MEMORY_OVERRIDE_ENV, "").strip() in ("1", "true"):
        return None
    return (
        f"workers: {workers} needs a shared state backend, and state.backend is memory: each worker "
        "would keep its own cooldowns, round-robin cursors, session affinity, bans and usage, so a "
        "credential cooled by one worker would still be called by the others. Set "
        "state: {backend: redis, url: redis://...} (see docs/deploy.md), or run workers: 1."
    )


# the files prometheus-client writes in its multiprocess folder (``<kind>_<pid>.db``)
_METRICS_FILES = ("counter_*.db", "histogram_*.db", "summary_*.db", "gauge_*.db")


def wipe_metrics(folder: str) -> int:
    """Delete the metric files an earlier run left in a ``PROMETHEUS_MULTIPROC_DIR`` the user
    set (prometheus-client wants the folder empty at each start: a scrape sums every file in
    it, so an earlier run's counters, or a file named after a reused pid, would be added in).
    Only prometheus-client's own files go; how many did."""
    path = Path(folder)
    gone = 0
    for pattern in _METRICS_FILES:
        for stale in path.glob(pattern):
            with contextlib.suppress(OSError):
                stale.unlink()
                gone += 1
    if gone:
        log.info("supervisor: removed %d metric file(s) of an earlier run from %s", gone, folder)
    return gone


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with ``SO_REUSEPORT`` that never listens: it holds the
    port (and resolves ``0``) while the workers bind the same port and listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(slots=True)
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    """Runs ``count`` workers made by ``command(index)`` and keeps them running until a
    signal (or :meth:`stop`) asks it to drain. :meth:`run` returns the exit code."""

    def __init__(
        self,
        count: int,
        command: Callable[[int], Sequence[str]],
        *,
        env: dict[str, str] | None = None,
        grace: float = DRAIN_GRACE,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.count = count
        self.command = command
        self.env = dict(os.environ if env is None else env)
        self.grace = grace
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.clock = clock
        self.slots = [_Slot(i) for i in range(count)]
        self._stopping = False
        self._code = 0

    def stop(self, *_: Any) -> None:
        self._stopping = True

    def backoff(self, failures: int) -> float:
        """Seconds to wait before the restart that follows ``failures`` quick deaths in a row."""
        return float(min(self.backoff_max, self.backoff_first * 2 ** max(0, failures - 1)))

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        made = None
        if not self.env.get(METRICS_DIR_ENV):
            made = self.env[METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="cliproxy-metrics-")
        else:
            wipe_metrics(self.env[METRICS_DIR_ENV])
        try:
            for slot in self.slots:
                self._start(slot)
            while not self._stopping:
                self._tend()
                time.sleep(0.05)
        finally:
            self._drain()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
        return self._code

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self._stopping:
            log.info("supervisor: %s, draining %d worker(s)", signal.Signals(signum).name, self.count)
        self._stopping = True

    def _start(self, slot: _Slot) -> None:
        env = {**self.env, WORKER_ENV: str(slot.index)}
        # the pipes to the token store's mirror, which runs here (cliproxy.credentials.stores.link)
        slot.proc = subprocess.Popen(list(self.command(slot.index)), env=env, pass_fds=link_fds(env))
        slot.started = self.clock()
        log.info("worker %d started (pid %d)", slot.index, slot.proc.pid)

    def _tend(self) -> None:
        now = self.clock()
        for slot in self.slots:
            proc = slot.proc
            if proc is None:
                if now >= slot.restart_at:
                    slot.restarts += 1
                    self._start(slot)
                continue
            code = proc.poll()
            if code is None:
                continue
            slot.proc = None
            if code == EXIT_CONFIG:
                log.error("worker %d (pid %d) cannot start (exit %d): stopping", slot.index, proc.pid, code)
                self._code = code
                self._stopping = True
                return
            slot.failures = 1 if now - slot.started >= HEALTHY_AFTER else slot.failures + 1
            delay = self.backoff(slot.failures)
            slot.restart_at = now + delay
            log.warning(
                "worker %d (pid %d) exited (%s); restarting it in %.1fs",
                slot.index,
                proc.pid,
                _describe(code),
                delay,
            )

    def _drain(self) -> None:
        live = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = self.clock() + self.grace
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d still running after %.0fs: killing it", proc.pid, self.grace)
                proc.kill()
                proc.wait(timeout=5)
        log.info("supervisor: every worker stopped")


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return "killed by " + signal.Signals(-code).name
    return f"exit code {code}"
