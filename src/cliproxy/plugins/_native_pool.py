"""Threads for blocking native plugin calls.

A call never waits for a free thread: it takes an idle one or starts a new one, much as
CPA gives every call its own goroutine. A bounded pool could deadlock: a call blocked in
a host callback may be waiting for another call into the same plugin. Threads are
daemons, so a native call that never returns cannot hold up interpreter exit, and idle
threads retire after ``idle_timeout`` seconds.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["ThreadPerCallPool"]

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class ThreadPerCallPool:
    def __init__(self, name: str, idle_timeout: float = 30.0) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job, minus jobs queued for them
        self._threads = 0
        self._closed = False
        self._numbers = itertools.count(1)

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on an idle thread or a new one; its future."""
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: pool is closed")
            spawn = self._idle == 0
            if spawn:
                self._threads += 1
            else:
                self._idle -= 1
        self._jobs.put((future, fn, args))
        if spawn:
            threading.Thread(
                target=self._work, name=f"{self._name}-{next(self._numbers)}", daemon=True
            ).start()
        return future

    def close(self) -> None:
        """Refuse new jobs; every thread exits after the job it is running."""
        with self._lock:
            self._closed = True
            count = self._threads
        for _ in range(count):
            self._jobs.put(None)

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_timeout)
            except queue.Empty:
                if self._retire():
                    return
                continue
            if job is None:
                return
            _run(*job)
            del job
            with self._lock:
                self._idle += 1

    def _retire(self) -> bool:
        # Leave only if no submitter has counted on this thread for its job.
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._threads -= 1
                return True
            return False


def _run(future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)
