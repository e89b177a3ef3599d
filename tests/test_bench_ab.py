"""bench/ab.py's pure parts: variants, per-thread CPU a request, medians, running order."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from tests import bench_modules

ab = bench_modules.load("ab")


def test_a_variant_is_a_name_a_revision_and_optional_yaml():
    v = ab.parse_variant("base=HEAD~1")
    assert (v.name, v.rev, v.extra) == ("base", "HEAD~1", "")
    v = ab.parse_variant("off=.+usage-ledger: {enabled: false}")
    assert (v.name, v.rev, v.extra) == ("off", ".", "usage-ledger: {enabled: false}\n")
    v = ab.parse_variant("x=abc123+a: 1+2")  # only the first + ends the revision
    assert (v.rev, v.extra) == ("abc123", "a: 1+2\n")


@pytest.mark.parametrize("text", ["base", "=HEAD", "base=", "base=+x: 1"])
def test_a_malformed_variant_is_refused(text):
    with pytest.raises(ValueError):
        ab.parse_variant(text)


def test_cpu_a_request_splits_the_main_thread_from_the_others():
    before = {"main": 1.0, "writer": 0.5}
    after = {"main": 1.2, "writer": 0.6, "started-later": 0.1}
    got = ab.per_request(before, after, 1000)
    assert got == pytest.approx({"main": 200.0, "others": 200.0, "children": 0.0, "total": 400.0})
    with pytest.raises(ValueError):
        ab.per_request(before, after, 0)


def test_a_child_process_cpu_is_counted_in_the_total():
    before = {"main": 1.0, "child:7": 0.5}
    after = {"main": 1.1, "child:7": 0.8, "child:9": 0.1}  # 9: started in between
    got = ab.per_request(before, after, 1000)
    assert got == pytest.approx({"main": 100.0, "others": 0.0, "children": 400.0, "total": 500.0})


def test_cpu_of_lists_a_live_child_process():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; end = time.process_time() + 0.15\nwhile time.process_time() < end: pass\ninput()",
        ],
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while (spent := ab.cpu_of(os.getpid()).get(f"child:{child.pid}", 0.0)) < 0.1:
            assert time.monotonic() < deadline, spent
            time.sleep(0.02)
    finally:
        child.communicate(b"\n", timeout=10)


def test_medians_and_the_running_order():
    rounds = [{"rps": 10.0, "main": 5.0}, {"rps": 30.0, "main": 1.0}, {"rps": 20.0, "main": 9.0}]
    assert ab.summary(rounds) == {"rps": 20.0, "main": 5.0}
    assert ab.summary([]) == {}
    names = [ab.parse_variant(f"{n}=.") for n in "abc"]
    assert [[v.name for v in ab.rotated(names, r)] for r in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_thread_seconds_tells_the_main_thread_from_the_others():
    spun, release = threading.Event(), threading.Event()

    def spin() -> None:  # 0.15 s of this thread's CPU (ticks are 10 ms), then it stays
        end = time.thread_time() + 0.15
        while time.thread_time() < end:
            pass
        spun.set()
        release.wait(10)  # a thread that ended is no longer listed (nor its CPU)

    pid = os.getpid()
    before = ab.thread_seconds(pid)
    t = threading.Thread(target=spin)
    t.start()
    try:
        assert spun.wait(10)
        after = ab.thread_seconds(pid)
    finally:
        release.set()
        t.join()
    assert "main" in before and "main" in after
    got = ab.per_request(before, after, 1)
    assert got["others"] >= 0.1e6 and got["total"] == pytest.approx(got["main"] + got["others"])


def test_a_folder_holding_a_cliproxy_package_is_imported_as_it_is(tmp_path):
    build = tmp_path / "build"
    (build / "cliproxy").mkdir(parents=True)
    variants = [ab.parse_variant(f"built={build}"), ab.parse_variant("cur=.")]
    with ab.checkouts(variants) as paths:  # no worktree made: the folder is the import path
        assert paths == {str(build): str(build.resolve())}
