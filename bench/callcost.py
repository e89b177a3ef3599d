"""Where one request's CPU goes, function by function: the proxy under cProfile.

    python bench/callcost.py ["passthrough OpenAI"] [--stream] [--chunks 50] [--requests 6000]
                             [--concurrency 16] [--filter cliproxy/usage/] [--top 60]
                             [--sort cum|self|calls] [--extra "usage-ledger: {enabled: false}"]
                             [--body claude-code]

Starts the fake upstream (bench/upstream.py) and one proxy (``python -m cProfile -m
cliproxy``, the bench config plus ``--extra`` YAML), sends ``--requests`` requests of the
scenario at ``--concurrency`` (bench/load.py), stops the proxy with SIGINT so cProfile
writes its stats, and prints per request: Python function calls in all, then each
function's calls, own time and time with callees (cProfile's, so inflated two to three
times; compare runs with each other, not with bench/run.py's CPU figures). The call
counts are exact and do not depend on the machine's load: the steadiest measure of a
change on a busy machine. Functions called less than once per 20 requests (start-up,
imports) are left out.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from instructions import scenario_request
from procs import OUT, start_fake, start_proxy
from run import spec
from scenarios import BY_NAME

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _name(fn: str, line: int, func: str) -> str:
    if fn.startswith(SRC):
        return f"{os.path.relpath(fn, SRC)}:{line}:{func}"
    return f"{os.path.basename(fn)}:{line}:{func}" if fn != "~" else func


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="passthrough OpenAI", choices=sorted(BY_NAME))
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--filter", default="", help="only functions whose name contains this")
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--sort", choices=("cum", "self", "calls"), default="self")
    ap.add_argument("--extra", default="", help="YAML appended to the bench config")
    ap.add_argument(
        "--body",
        choices=("chat", "claude-code"),
        default="chat",
        help="claude-code: the ~100 KB agentic request of bench/instructions.py --body",
    )
    args = ap.parse_args()

    req = scenario_request(ap, args)
    name = f"callcost-{os.getpid()}"  # one per run: several may run at once
    folder = OUT / name
    stats_path = folder / "callcost.prof"
    fake = start_fake()
    try:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(stats_path)]
        proxy, _ = start_proxy(fake.url, name, args.extra + "\n", cmd=cmd)
        try:
            got = load.run(
                spec(
                    proxy.url,
                    req,
                    concurrency=args.concurrency,
                    per_worker=max(1, args.requests // args.concurrency),
                    stream=args.stream,
                    min_events=args.chunks if args.stream else 1,
                ),
                False,
            )
        finally:
            if proxy.popen.poll() is None:
                os.kill(proxy.pid, signal.SIGINT)
            proxy.popen.wait(60)
    finally:
        fake.stop()
    n = got["requests"] + got.get("errors", 0)
    st = pstats.Stats(str(stats_path))
    shutil.rmtree(folder, ignore_errors=True)
    rows = []
    calls = 0
    for (fn, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        calls += nc
        if nc * 20 < n:
            continue
        name = _name(fn, line, func)
        if args.filter and args.filter not in name:
            continue
        rows.append((nc / n, tt / n * 1e6, ct / n * 1e6, name))
    key = {"cum": lambda r: r[2], "self": lambda r: r[1], "calls": lambda r: r[0]}[args.sort]
    rows.sort(key=key, reverse=True)
    print(f"{args.scenario}{' stream' if args.stream else ''}: {n} requests, {got.get('errors', 0)} errors")
    print(f"Python function calls per request (all, incl. start-up): {calls / n:.0f}")
    print(f"{'calls':>7} {'own us':>8} {'cum us':>8}  function")
    for nc, tt, ct, name in rows[: args.top]:
        print(f"{nc:7.2f} {tt:8.2f} {ct:8.2f}  {name}")


if __name__ == "__main__":
    main()
