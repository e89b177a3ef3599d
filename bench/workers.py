"""``workers: 2`` against ``workers: 1``, and 1,000 streams on two workers.

    python bench/workers.py [--seconds 10] [--rounds 2] [--concurrency 64] [--memory] [--no-wrk]

Starts the fake upstream (bench/upstream.py), the bare floor (bench/floor.py), a Redis
(``redis-server`` on a random 127.0.0.1 port, no persistence) and two proxies on it
(``state: {backend: redis}``): one with ``workers: 1``, one with ``workers: 2``. Then:

1. non-stream passthrough OpenAI at c=64 against each proxy, rounds alternating so the
   machine's drift hits both; the ratio of the best req/s of each (issue 18: >= 1.5x);
2. 1,000 concurrent slow streams (50 events, 20 ms apart) through the two-worker proxy and
   through the floor; while they run, one client opens short streams back to back: its time
   to first byte is a new stream's (issue 18: within 2x of the floor's); every one of the
   1,000 must complete.

``--memory`` runs the proxies on the memory state backend instead, with the refusal lifted
(``CLIPROXY_WORKERS_MEMORY_STATE=1``): the supervisor's raw scaling without Redis round trips.
The load generator, the fake and the floor share the machine's cores with the proxies.
The table goes to stdout and bench/out/workers.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from procs import OUT, Proc, _wait_http, free_port
from run import MANY, PROBE, spec, stream_headers
from scenarios import SCENARIOS, proxy_config

from cliproxy.server.workers import MEMORY_OVERRIDE_ENV

BENCH = Path(__file__).resolve().parent


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is not installed (apt-get install redis-server), or pass --memory")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("redis-server did not start")


def start_proxy(fake_url: str, workers: int, state: str) -> Proc:
    folder = OUT / f"workers-{workers}"
    (folder / "auths").mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "config.yaml"
    config.write_text(
        proxy_config(fake_url, port, str(folder / "auths"))
        + f"workers: {workers}\nusage-ledger: {{enabled: false}}\n{state}"
    )
    proc = Proc(
        f"workers-{workers}",
        [sys.executable, "-m", "cliproxy", "--config", str(config)],
        port,
        folder / "proxy.log",
    )
    proc.wait_ready("/healthz")
    deadline = time.monotonic() + 30  # every worker up, not only the first
    while len(re.findall(r"listening on", proc.log.read_text(errors="replace"))) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name}: not every worker started; see {proc.log}")
        time.sleep(0.1)
    return proc


def worker_pids(proc: Proc) -> list[int]:
    """The pids the supervisor logged for its workers (the latest one of each slot)."""
    found: dict[str, int] = {}
    for slot, pid in re.findall(r"worker (\d+) started \(pid (\d+)\)", proc.log.read_text(errors="replace")):
        found[slot] = int(pid)
    return list(found.values()) or [proc.pid]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def many_streams(target: Proc, probe_target: Proc, req_many: object, req_probe: object) -> tuple[dict, dict]:
    extra = {
        "concurrency": MANY["concurrency"],
        "per_worker": 1,
        "stream": True,
        "ramp": MANY["ramp"],
        "min_events": MANY["chunks"],
        "timeout": 120,
    }
    probe = {"concurrency": 1, "duration": PROBE["duration"], "stream": True, "min_events": PROBE["chunks"]}
    many = load.start_client(
        spec(target.url, stream_headers(req_many, MANY["chunks"], MANY["delay_ms"]), **extra)  # type: ignore[arg-type]
    )
    time.sleep(PROBE["after"])
    probed = load.run_client(spec(probe_target.url, stream_headers(req_probe, PROBE["chunks"], 0), **probe))  # type: ignore[arg-type]
    return load.finish(many), probed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--memory", action="store_true", help="memory state backend (refusal lifted)")
    parser.add_argument("--no-wrk", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    sc = SCENARIOS[0]  # passthrough OpenAI
    procs: list[Proc] = []
    redis: subprocess.Popen[bytes] | None = None
    try:
        if args.memory:
            os.environ[MEMORY_OVERRIDE_ENV] = "1"
            state, backend = "", "memory (refusal lifted for the bench)"
        else:
            redis, url = start_redis()
            state, backend = f"state: {{backend: redis, url: '{url}', prefix: 'bench:'}}\n", "redis"
        port = free_port()
        fake = Proc(
            "fake", [sys.executable, str(BENCH / "upstream.py"), "--port", str(port)], port, OUT / "fake.log"
        )
        procs.append(fake)
        _wait_http(fake)
        port = free_port()
        floor = Proc(
            "floor",
            [sys.executable, str(BENCH / "floor.py"), "--upstream", fake.url, "--port", str(port)],
            port,
            OUT / "floor.log",
        )
        procs.append(floor)
        _wait_http(floor)
        one = start_proxy(fake.url, 1, state)
        procs.append(one)
        two = start_proxy(fake.url, 2, state)
        procs.append(two)

        timing = {"concurrency": args.concurrency, "duration": args.seconds, "warmup": 1.0}
        best = {1: 0.0, 2: 0.0}
        errors = {1: 0, 2: 0}
        for r in range(args.rounds):
            for n, proc in ((1, one), (2, two)):
                pids = worker_pids(proc)
                before = [cpu_seconds(pid) for pid in pids]
                got = load.run(spec(proc.url, sc.proxy_request(False), **timing), not args.no_wrk)
                used = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
                shares = " + ".join(f"{u:.1f}" for u in used)
                best[n] = max(best[n], got["rps"])
                errors[n] += got.get("errors", 0)
                print(
                    f"round {r + 1} workers: {n}  {got['rps']:8.0f} req/s  ({got.get('errors', 0)} errors)"
                    f"  CPU s per worker: {shares}",
                    flush=True,
                )
        ratio = best[2] / best[1] if best[1] else 0.0

        floor_many, floor_probe = many_streams(floor, floor, sc.direct_request(True), sc.direct_request(True))
        proxy_many, proxy_probe = many_streams(two, two, sc.proxy_request(True), sc.proxy_request(True))
        ttfb_ratio = proxy_probe["ttfb_p50"] / floor_probe["ttfb_p50"] if floor_probe["ttfb_p50"] else 0.0
        all_done = proxy_many["complete"] == MANY["concurrency"] and proxy_many["errors"] == 0

        lines = [
            f"# workers bench ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, state: {backend})",
            "",
            f"command: python bench/workers.py {' '.join(sys.argv[1:])}",
            "",
            "| measurement | value | target |",
            "|---|---|---|",
            f"| workers: 1, c={args.concurrency}, best req/s | {best[1]:.0f} ({errors[1]} errors) | |",
            f"| workers: 2, c={args.concurrency}, best req/s | {best[2]:.0f} ({errors[2]} errors) | |",
            f"| ratio workers 2 / 1 | {ratio:.2f}x | >= 1.5x |",
            f"| {MANY['concurrency']} streams via workers: 2: complete / errors | "
            f"{proxy_many['complete']} / {proxy_many['errors']} | all complete |",
            f"| {MANY['concurrency']} streams via floor: complete / errors | "
            f"{floor_many['complete']} / {floor_many['errors']} | |",
            f"| new stream TTFB p50 / p99 during them, floor | {floor_probe['ttfb_p50']:.1f} / "
            f"{floor_probe['ttfb_p99']:.1f} ms | |",
            f"| new stream TTFB p50 / p99 during them, workers: 2 | {proxy_probe['ttfb_p50']:.1f} / "
            f"{proxy_probe['ttfb_p99']:.1f} ms | |",
            f"| TTFB ratio (p50) proxy / floor | {ttfb_ratio:.2f}x | <= 2x |",
        ]
        text = "\n".join(lines) + "\n"
        (OUT / "workers.md").write_text(text)
        print("\n" + text)
        ok = ratio >= 1.5 and all_done and ttfb_ratio <= 2.0
        print("PASS" if ok else "FAIL (see the table)")
        sys.exit(0 if ok else 1)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)


if __name__ == "__main__":
    main()
