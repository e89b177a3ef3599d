"""Instructions per request: the proxy under valgrind's callgrind, a count that does not move
with the machine's load.

    python bench/instructions.py ["passthrough OpenAI" ...] [--stream] [--chunks 50]
                                 [--requests 1600] [--concurrency 16] [--threads]
                                 [--extra "usage-ledger: {enabled: false}"]
                                 [--target proxy|pfloor|floor] [--body claude-code]

Starts the fake upstream (bench/upstream.py) and one proxy under ``valgrind --tool=callgrind``
with instrumentation off while it starts, sends a warm-up, switches instrumentation on
(``callgrind_control -i on``, counters zeroed), sends ``--requests`` requests of each scenario
at ``--concurrency`` (bench/load.py), dumps the counters and prints the instructions
executed per request, all threads together (``--threads``: each thread's share too). The
count covers user space only (the proxy's Python, the interpreter, uvloop, httptools,
orjson, SQLite); system calls are the same few per request as the protocol floor's (two
reads and two writes) and are left to ``strace -c``.

On this shared machine wall-clock and CPU-time figures for the same build move by 20-60 %
between runs minutes apart; this count moved by 2-4 %, which makes it the evidence for a
change of a few percent. A request costs about 3 instructions per nanosecond of CPU here, so
divide by about 3,000 for microseconds. Valgrind serialises threads, so a cost that comes
from two threads contending (the GIL) is not in the count.

``--target pfloor`` (or ``floor``) counts bench/floor_protocol.py (bench/floor.py) the same
way, sent the scenario's direct request: the floor the proxy's CPU is compared with, in
the same unit. Under valgrind the proxy runs some fifty times slower, so its usage ledger
writes far smaller batches than at full speed: the writer thread's count per row is two to
three times what it is at full speed (a 256-row statement costs about 2.3 us a row here).

``--body claude-code`` sends, instead of the scenarios' short chat, the ~100 KB Claude Code
shaped request of bench/translate_micro.py (system prompt, 24 tools, 139 turns with
thinking, tool calls and results), whole (not streamed), its thinking signed with
Claude-shaped signatures as a real history carries them: what an agentic turn costs,
where the body's size, not the HTTP work, sets the price. Scenarios whose client speaks
Claude Messages only (``passthrough Claude``, ``Claude -> OpenAI``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from procs import BENCH, OUT, Proc, _wait_http, free_port, start_fake, start_proxy
from run import spec, stream_headers
from scenarios import BY_NAME, MODELS, Request, _slug, client_headers
from translate_micro import claude_code_request

TOTAL = re.compile(rb"^(?:summary|totals): (\d+)", re.M)


def _instructions(dump: Path) -> int:
    m = TOTAL.search(dump.read_bytes())
    return int(m.group(1)) if m else 0


def scenario_request(ap: argparse.ArgumentParser, args: argparse.Namespace, delay_ms: float = 0.0) -> Request:
    """What a per-request tool sends for ``args`` (``scenario``, ``body``, ``stream``,
    ``chunks``): the scenario's request, or the agentic one; a stream's shape in its headers."""
    if args.body == "claude-code" and args.stream:
        ap.error("--body claude-code is a whole (not streamed) request")
    if args.body == "claude-code":
        req = agentic_request(args.scenario)
    else:
        req = BY_NAME[args.scenario].proxy_request(args.stream)
    return stream_headers(req, args.chunks, delay_ms) if args.stream else req


def agentic_request(name: str) -> Request:
    """The Claude Code shaped request for a Claude-client scenario (``--body claude-code``)."""
    sc = BY_NAME[name]
    if sc.client != "claude":
        raise SystemExit(f"--body claude-code: {name!r} has no Claude Messages client")
    body = claude_code_request()
    body["model"], body["stream"] = MODELS[sc.upstream][1], False  # (signed as Claude signs)
    return Request(sc.proxy_request(False).path, client_headers("claude"), orjson.dumps(body))


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _measure(proxy: Proc, folder: Path, req: object, n: int, c: int) -> tuple[int, dict[str, int]]:
    """(requests answered, instructions per dump file) for ``n`` requests at ``c``."""
    for old in folder.glob("cg.*"):
        old.unlink()
    _control(proxy.pid, "-z")
    got = load.run(spec(proxy.url, req, concurrency=c, per_worker=max(1, n // c)), False)
    if got["errors"]:
        raise SystemExit(f"{got['errors']} request(s) failed; see {proxy.log}")
    _control(proxy.pid, "-d")
    deadline = time.monotonic() + 30
    while not list(folder.glob("cg.*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    return got["requests"], {p.name: _instructions(p) for p in sorted(folder.glob("cg.*"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", default=["passthrough OpenAI"], choices=sorted(BY_NAME))
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument(
        "--delay-ms", type=float, default=0.0, help="between stream chunks (20: each chunk its own read)"
    )
    ap.add_argument("--requests", type=int, default=1600)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--threads", action="store_true", help="each thread's instructions too")
    ap.add_argument("--extra", default="", help="YAML appended to the bench config")
    ap.add_argument("--target", choices=("proxy", "pfloor", "floor"), default="proxy")
    ap.add_argument("--body", choices=("chat", "claude-code"), default="chat")
    ap.add_argument("--keep", type=Path, help="copy each scenario's dumps here (for callgrind_annotate)")
    args = ap.parse_args()
    if args.body == "claude-code" and args.stream:
        ap.error("--body claude-code is a whole (not streamed) request")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")

    folder = OUT / "callgrind"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("cg.*"):
        old.unlink()
    valgrind = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--separate-threads={'yes' if args.threads else 'no'}",
        f"--callgrind-out-file={folder}/cg.%p",
        sys.executable,
    ]
    fake = start_fake()
    try:
        if args.target == "proxy":
            extra = "\n" + args.extra + "\n" if args.extra else ""
            proxy, _ = start_proxy(fake.url, "callgrind", extra, cmd=valgrind, timeout=300.0)
        else:
            script = BENCH / ("floor_protocol.py" if args.target == "pfloor" else "floor.py")
            port = free_port()
            cmd = [*valgrind, str(script), "--upstream", fake.url, "--port", str(port)]
            proxy = Proc(args.target, cmd, port, folder / f"{args.target}.log")
            try:
                _wait_http(proxy, timeout=300.0)
            except BaseException:
                proxy.stop()
                raise
        try:
            for name in args.scenarios:
                sc = BY_NAME[name]
                if args.body == "claude-code":
                    req = agentic_request(name)
                elif args.target == "proxy":
                    req = sc.proxy_request(args.stream)
                else:
                    req = sc.direct_request(args.stream)
                if args.stream:
                    req = stream_headers(req, args.chunks, args.delay_ms)
                load.run(
                    spec(
                        proxy.url,
                        req,
                        concurrency=args.concurrency,
                        per_worker=max(1, 400 // args.concurrency),
                    ),
                    False,
                )
                _control(proxy.pid, "-i", "on")
                n, dumps = _measure(proxy, folder, req, args.requests, args.concurrency)
                _control(proxy.pid, "-i", "off")
                total = sum(dumps.values())
                if args.keep:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    for dump in dumps:
                        shutil.copy(folder / dump, args.keep / f"{_slug(name)}.{dump}")
                kind = f"{args.chunks}-chunk stream" if args.stream else "request"
                print(
                    f"{name} ({args.target}): {total / n:,.0f} instructions per {kind} ({n} at c={args.concurrency})"
                )
                if args.threads:
                    for dump, count in dumps.items():
                        if count:
                            print(f"    {dump}: {count / n:,.0f}")
        finally:
            proxy.stop()
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
