"""ThreadPerCallPool: reuse, no queueing behind busy threads, retirement, close."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

from cliproxy.plugins._native_pool import ThreadPerCallPool, _run


def wait_until(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_results_and_exceptions_reach_the_future():
    pool = ThreadPerCallPool("t")
    try:
        assert pool.submit(lambda a, b: a + b, 2, 3).result(1) == 5
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(1)
    finally:
        pool.close()


def test_idle_threads_are_reused():
    pool = ThreadPerCallPool("t")
    try:
        names = set()
        for _ in range(20):
            names.add(pool.submit(lambda: threading.current_thread().name).result(1))
            wait_until(lambda: pool._idle == 1)
        assert len(names) == 1
        assert pool.threads == 1
    finally:
        pool.close()


def test_a_blocked_job_never_delays_another():
    pool = ThreadPerCallPool("t")
    gate = threading.Event()
    try:
        blocked = [pool.submit(gate.wait, 5) for _ in range(10)]
        # Every thread is busy, yet a job that releases them still runs at once.
        assert pool.submit(gate.set).result(1) is None
        assert all(f.result(1) for f in blocked)
        assert pool.threads == 11
    finally:
        pool.close()


def test_idle_threads_retire():
    pool = ThreadPerCallPool("t", idle_timeout=0.05)
    gate = threading.Event()
    try:
        jobs = [pool.submit(gate.wait, 5) for _ in range(3)]
        gate.set()
        assert all(f.result(1) for f in jobs)
        assert wait_until(lambda: pool.threads == 0)
        assert pool.submit(lambda: 7).result(1) == 7
    finally:
        pool.close()


def test_close_refuses_new_jobs_and_stops_threads():
    pool = ThreadPerCallPool("close-test")
    pool.submit(lambda: None).result(1)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(lambda: None)
    assert wait_until(lambda: not any(t.name.startswith("close-test-") for t in threading.enumerate()))


def test_cancelled_job_is_skipped():
    ran = threading.Event()
    future: Future = Future()
    assert future.cancel()
    _run(future, ran.set, ())
    assert not ran.is_set()
