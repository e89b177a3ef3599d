"""What a request costs the kernel and the event loop, counted exactly: the proxy or the protocol floor.

    python bench/loopcost.py ["passthrough OpenAI"] [--target proxy|pfloor] [--stream] [--chunks 50]
                             [--delay-ms 0] [--requests 3000] [--concurrency 16] [--no-strace]
                             [--extra "usage-ledger: {enabled: false}"]

Bytecodes (``bench/opcodes.py``) do not show what a request asks of the kernel and of the
event loop, yet each system call and each loop handle is CPU the protocol floor
(``bench/floor_protocol.py``) may not pay. This tool starts the fake upstream and the
target (the proxy, or the protocol floor sent the scenario's direct request) under a
counting uvloop (a ``uvloop.Loop`` subclass installed before the target starts), warms
it up, then for ``--requests`` requests counts:

- the loop's calls made from Python, per request, by kind, callback and caller:
  ``call_soon`` (a Task's first step, a future's wake-up...), ``call_at`` / ``call_later``
  (timers), ``create_future``, ``create_task``, ``call_soon_threadsafe``; ``asyncio.Task(...)``
  built directly shows as the ``call_soon`` of its first step (``TaskStepMethWrapper``);
- with strace (on unless ``--no-strace``): every thread's system calls per request, by
  thread (the loop's thread as ``MAIN``) and name.

Counts do not move with the machine's load, except those that depend on timing: how many
reads a stream's chunks take and how often the loop waits in ``epoll_pwait`` (a busier
loop finds more at once). Under strace the target runs several times slower, which makes
reads batch more; compare targets in the same conditions. Results (2026-12-06, Intel
Xeon, passthrough OpenAI at c=16) are in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import collections
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instructions import scenario_request
from procs import BENCH, OUT, Proc, _wait_http, free_port, start_fake, start_proxy
from run import drive, stream_headers
from scenarios import BY_NAME

_KINDS = (
    "call_soon",
    "call_at",
    "call_later",
    "create_future",
    "create_task",
    "call_soon_threadsafe",
    "asyncgen_finalized",
)


def _site() -> str:
    frame = sys._getframe(3)  # _site <- _note <- the Loop method <- its caller
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_qualname}"


def _child() -> None:
    """Run the target (``-m cliproxy ...`` or a script and its arguments: the rest of argv)
    on a counting uvloop; ``SIGUSR1`` starts counting, ``SIGUSR2`` stops and dumps."""
    import uvloop

    out = os.environ["CLIPROXY_LOOPCOST_OUT"]
    counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
    live = [False]

    def _note(kind: str, what: object) -> None:
        if live[0]:
            name = getattr(what, "__qualname__", None) or type(what).__qualname__
            counts[(kind, name, _site())] += 1

    class CountingLoop(uvloop.Loop):  # type: ignore[misc]
        def call_soon(self, callback: Any, *args: Any, context: Any = None) -> Any:
            _note("call_soon", callback)
            return super().call_soon(callback, *args, context=context)

        def call_at(self, when: float, callback: Any, *args: Any, context: Any = None) -> Any:
            _note("call_at", callback)  # (uvloop's call_at is this call_later: not counted twice)
            return super().call_later(when - self.time(), callback, *args, context=context)

        def call_later(self, delay: float, callback: Any, *args: Any, context: Any = None) -> Any:
            _note("call_later", callback)
            return super().call_later(delay, callback, *args, context=context)

        def call_soon_threadsafe(self, callback: Any, *args: Any, context: Any = None) -> Any:
            _note("call_soon_threadsafe", callback)
            return super().call_soon_threadsafe(callback, *args, context=context)

        def create_future(self) -> Any:
            _note("create_future", None)
            return super().create_future()

        def create_task(self, coro: Any, **kwargs: Any) -> Any:
            _note("create_task", coro)
            return super().create_task(coro, **kwargs)

        def _asyncgen_finalizer_hook(self, agen: Any) -> None:
            # an async generator dropped unfinished: closed by a task of its own, scheduled
            # thread-safely (an eventfd write); named by its code and the line it waits at
            if live[0]:
                code, frame = agen.ag_code, agen.ag_frame
                at = f"{Path(code.co_filename).name}:{frame.f_lineno if frame is not None else '-'}"
                counts[("asyncgen_finalized", code.co_qualname, at)] += 1
            super()._asyncgen_finalizer_hook(agen)

    uvloop.Loop = CountingLoop  # what uvloop.new_event_loop() and uvloop.run() build

    def on(*_: object) -> None:
        counts.clear()
        live[0] = True

    def off(*_: object) -> None:
        live[0] = False
        with open(out, "w") as fh:
            for (kind, name, site), n in counts.items():
                fh.write(f"{kind}\t{name}\t{site}\t{n}\n")

    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, off)
    rest = sys.argv[2:]
    if rest[0] == "-m":
        sys.argv = [sys.argv[0], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        sys.path.insert(0, str(Path(rest[0]).parent))
        runpy.run_path(rest[0], run_name="__main__")


def _syscalls(path: Path, names: dict[str, str]) -> collections.Counter[tuple[str, str]]:
    """(thread, call) -> count from strace's ``-f -o`` output (a call split by another
    thread's is counted once, at its start)."""
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        tid, _, rest = line.partition(" ")
        rest = rest.lstrip()
        if rest.startswith(("<...", "+++", "---")):
            continue
        call = rest.partition("(")[0]
        if call:
            found[(names.get(tid, tid), call)] += 1
    return found


def _thread_names(pid: int) -> dict[str, str]:
    names = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        names[task.name] = "MAIN" if task.name == str(pid) else f"{comm}[{task.name}]"
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="passthrough OpenAI", choices=sorted(BY_NAME))
    ap.add_argument("--target", choices=("proxy", "pfloor"), default="proxy")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--extra", default="", help="YAML appended to the proxy's bench config")
    ap.add_argument("--no-strace", action="store_true", help="count the loop's calls only")
    args = ap.parse_args()
    args.body = "chat"
    use_strace = not args.no_strace
    if use_strace and shutil.which("strace") is None:
        ap.error("strace is not installed (apt-get install strace), or pass --no-strace")
    folder = OUT / f"loopcost-{os.getpid()}"
    counts = folder / "counts"  # not beside the config: the proxy watches that folder's files
    counts.mkdir(parents=True, exist_ok=True)
    dump, traced = counts / "loop.tsv", counts / "strace.txt"
    os.environ["CLIPROXY_LOOPCOST_OUT"] = str(dump)
    child = [sys.executable, __file__, "--child"]
    fake = start_fake()
    try:
        if args.target == "proxy":
            req = scenario_request(ap, args, args.delay_ms)
            target, _ = start_proxy(fake.url, folder.name, args.extra + "\n", cmd=child)
        else:
            req = BY_NAME[args.scenario].direct_request(args.stream)
            if args.stream:
                req = stream_headers(req, args.chunks, args.delay_ms)
            port = free_port()
            cmd = [*child, str(BENCH / "floor_protocol.py"), "--upstream", fake.url, "--port", str(port)]
            target = Proc("pfloor", cmd, port, folder / "pfloor.log")
            _wait_http(target)

        def run(n: int) -> int:
            return drive(target.url, req, args, n, target.log)

        try:
            run(500)
            names = _thread_names(target.pid)
            tracer = None
            if use_strace:
                pids = [x for tid in names for x in ("-p", tid)]
                tracer = subprocess.Popen(
                    ["strace", "-f", "-qq", "-o", str(traced), *pids], stderr=subprocess.DEVNULL
                )
                time.sleep(1.0)  # attached
            os.kill(target.pid, signal.SIGUSR1)
            time.sleep(0.2)
            n = run(args.requests)
            os.kill(target.pid, signal.SIGUSR2)
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)
                tracer.wait(30)
            deadline = time.monotonic() + 30
            while not dump.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
            rows = [line.split("\t") for line in dump.read_text().splitlines()]
        finally:
            target.stop()
    finally:
        fake.stop()
    kind = "stream" if args.stream else "request"
    print(f"{args.scenario} ({args.target}), {n} {kind}s at c={args.concurrency}: per {kind}")
    print("event loop (calls from Python):")
    rows.sort(key=lambda r: -int(r[3]))
    for k, name, site, count in rows:
        if int(count) / n >= 0.005:
            print(f"  {int(count) / n:8.3f}  {k:<20} {name:<40} {site}")
    totals = collections.Counter()
    for k, _, _, count in rows:
        totals[k] += int(count)
    print("  " + ", ".join(f"{k} {totals[k] / n:.3f}" for k in _KINDS))
    if use_strace:
        calls = _syscalls(traced, names)
        print("system calls:")
        main_total = sum(c for (t, _), c in calls.items() if t == "MAIN")
        print(f"  {main_total / n:8.2f}  MAIN, in all; all threads {sum(calls.values()) / n:.2f}")
        for (thread, call), count in sorted(calls.items(), key=lambda kv: -kv[1]):
            if count / n >= 0.005:
                print(f"  {count / n:8.2f}  {thread:<28} {call}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child()
    else:
        main()
