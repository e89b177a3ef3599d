"""Bytecodes per request, function by function: the interpreter's own work, counted exactly.

    python bench/opcodes.py ["passthrough OpenAI"] [--stream] [--chunks 50] [--delay-ms 1] [--requests 800]
                            [--concurrency 16] [--filter cliproxy/] [--top 50]
                            [--extra "usage-ledger: {enabled: false}"] [--body claude-code]

Under callgrind most of a request's instructions are the interpreter's eval loop
(``_PyEval_EvalFrameDefault`` and what it calls), which callgrind cannot split by Python
function; cProfile can, but its per-call overhead hides the cost of a long function body.
This tool counts the bytecodes each Python function executes: it starts the fake upstream
and one proxy whose main thread gets a ``sys.settrace`` opcode tracer after a warm-up
(``SIGUSR1`` on, ``SIGUSR2`` off and dump), sends ``--requests`` requests of the scenario
and prints bytecodes per request, in all and per function (with its calls per request).
The count does not depend on the machine's load; a bytecode costs some 20-60
instructions, so it ranks Python-level work, not C-level work (orjson, httptools, uvloop
and system calls do not show). Only the main thread (the event loop) is traced.
"""

from __future__ import annotations

import argparse
import collections
import os
import runpy
import signal
import sys
import time
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from instructions import scenario_request
from procs import OUT, start_fake, start_proxy
from run import drive
from scenarios import BY_NAME

SRC = str(Path(__file__).resolve().parent.parent / "src")


def _child() -> None:
    """Run ``-m cliproxy ...`` (the rest of argv) with the tracer's signal handlers."""
    out = os.environ["CLIPROXY_OPCODES_OUT"]
    ops: collections.Counter[CodeType] = collections.Counter()
    calls: collections.Counter[CodeType] = collections.Counter()
    owners: dict[CodeType, str] = {}  # generated code (a dataclass's __init__): its class
    lines: collections.Counter[tuple[CodeType, int]] = collections.Counter()
    by_line = bool(os.environ.get("CLIPROXY_OPCODES_LINES"))

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            ops[frame.f_code] += 1
            if by_line:
                lines[frame.f_code, frame.f_lineno or 0] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        code = frame.f_code
        calls[code] += 1
        if code.co_filename == "<string>" and code not in owners and "self" in frame.f_locals:
            owners[code] = type(frame.f_locals["self"]).__qualname__
        return local

    def on(*_: object) -> None:
        ops.clear()
        calls.clear()
        lines.clear()
        sys.settrace(tracer)

    def off(*_: object) -> None:
        sys.settrace(None)
        with open(out, "w") as fh:
            for code, n in ops.items():
                name = f"{owners[code]}.{code.co_name}" if code in owners else code.co_qualname
                fh.write(f"{code.co_filename}\t{code.co_firstlineno}\t{name}\t{n}\t{calls[code]}\n")
        if by_line:
            with open(out + ".lines", "w") as fh:
                for (code, line), n in lines.items():
                    fh.write(f"{code.co_filename}\t{code.co_firstlineno}\t{code.co_qualname}\t{line}\t{n}\n")

    signal.signal(signal.SIGUSR1, on)
    signal.signal(signal.SIGUSR2, off)
    sys.argv = [sys.argv[0], *sys.argv[4:]]  # drop --child -m cliproxy
    runpy.run_module("cliproxy", run_name="__main__", alter_sys=True)


def _name(fn: str, line: str, func: str) -> str:
    if fn.startswith(SRC):
        return f"{os.path.relpath(fn, SRC)}:{line}:{func}"
    return f"{os.path.basename(fn)}:{line}:{func}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="passthrough OpenAI", choices=sorted(BY_NAME))
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--delay-ms", type=float, default=1.0, help="between stream chunks (bench/run.py's)")
    ap.add_argument("--requests", type=int, default=800)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--filter", default="", help="only functions whose name contains this")
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument(
        "--lines", action="store_true", help="also bytecodes per source line of the listed functions"
    )
    ap.add_argument("--extra", default="", help="YAML appended to the bench config")
    ap.add_argument("--body", choices=("chat", "claude-code"), default="chat")
    ap.add_argument("--tls", action="store_true", help="the fake behind HTTPS (bench/tlscert.py)")
    args = ap.parse_args()
    req = scenario_request(ap, args, args.delay_ms)
    name = f"opcodes-{os.getpid()}"
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / "opcodes.tsv"
    os.environ["CLIPROXY_OPCODES_OUT"] = str(dump)
    if args.lines:
        os.environ["CLIPROXY_OPCODES_LINES"] = "1"

    def run(n: int) -> int:
        return drive(proxy.url, req, args, n, proxy.log)

    fake = start_fake(tls=args.tls)
    try:
        cmd = [sys.executable, __file__, "--child"]
        proxy, _ = start_proxy(fake.url, name, args.extra + "\n", cmd=cmd, ca=fake.ca)
        try:
            run(400)
            os.kill(proxy.pid, signal.SIGUSR1)
            time.sleep(0.3)
            n = run(args.requests)
            os.kill(proxy.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not dump.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.3)
            lines = dump.read_text().splitlines()
            per_line = Path(f"{dump}.lines").read_text().splitlines() if args.lines else []
        finally:
            proxy.stop()
    finally:
        fake.stop()
    rows = []
    total = 0
    for line in lines:
        fn, first, func, ops, calls = line.split("\t")
        total += int(ops)
        label = _name(fn, first, func)
        if args.filter and args.filter not in label:
            continue
        rows.append((int(ops) / n, int(calls) / n, label))
    rows.sort(reverse=True)
    print(f"{args.scenario}{' stream' if args.stream else ''}: {n} requests")
    print(f"bytecodes per request (main thread): {total / n:,.0f}")
    print(f"{'ops':>8} {'calls':>7}  function")
    for ops_n, calls_n, label in rows[: args.top]:
        print(f"{ops_n:8.1f} {calls_n:7.2f}  {label}")
    if per_line:
        _print_lines(per_line, {label for _, _, label in rows[: args.top]}, n)


def _print_lines(per_line: list[str], shown: set[str], n: int) -> None:
    """Bytecodes per request of each source line of the functions shown, with the line."""
    import linecache

    by_func: dict[str, list[tuple[int, float, str]]] = collections.defaultdict(list)
    for row in per_line:
        fn, first, func, line, ops = row.split("\t")
        label = _name(fn, first, func)
        if label in shown:
            text = linecache.getline(fn, int(line)).rstrip()
            by_func[label].append((int(line), int(ops) / n, text))
    for label, rows in by_func.items():
        print(f"\n{label}")
        for line, ops_n, text in sorted(rows):
            print(f"{ops_n:8.1f} {line:5d}  {text}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child()
    else:
        main()
