"""cliproxy benchmark: the proxy's added cost over calling a fast fake upstream directly.

    python bench/run.py [--quick] [--soak-seconds N]
    python bench/run.py --profile SCENARIO [--profile-tool py-spy|pyinstrument]

    python bench/run.py --check [--write-baseline]

Starts the fake upstream (bench/upstream.py), the two passthrough floors (bench/floor.py:
aiohttp; bench/floor_protocol.py: asyncio.Protocol + httptools) and the real cliproxy
(``python -m cliproxy``, one worker), each in its own process, drives them from a separate
load process (wrk if installed, else bench/load.py), then does the same again with the fake
behind TLS (``--no-tls`` skips that), prints one table and writes bench/RESULTS.md.
``--quick`` shortens every run and the soak (30 s); the full run takes about 25 minutes.
``--check`` is the regression gate (bench/gate.py): a short run whose ratios are compared
with bench/baseline.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
import report
from procs import Proc, Procs
from scenarios import SCENARIOS, Request, Scenario, find, upstream_request

CONCURRENCY = (1, 16, 64)
STREAM = {"chunks": 50, "delay_ms": 1, "concurrency": 16}
MANY = {"chunks": 50, "delay_ms": 20, "concurrency": 1000, "ramp": 0.5}
# rounds of every target, back to back (median per figure), by concurrency: at c=1 and at
# c=16, where the must-show ratios are read, one round's drift is as large as the effect
ROUNDS = {1: 3, 16: 3}
PROBE = {"chunks": 5, "after": 0.5, "duration": 2.0}  # one client, streams back to back, while MANY runs


class Settings:
    def __init__(self, quick: bool, soak: float, use_wrk: bool, tls: bool = True) -> None:
        self.quick, self.soak, self.use_wrk, self.tls = quick, soak, use_wrk, tls
        self.duration = 2.0 if quick else 10.0
        self.warmup = 0.5 if quick else 2.0


class RssSampler:
    """The proxy's largest RSS while a block runs (sampled every 100 ms)."""

    def __init__(self, proc: Proc) -> None:
        self.proc, self.peak = proc, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.proc.rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def spec(base_url: str, req: Request, **extra: object) -> dict:
    return {"url": base_url + req.path, "headers": req.headers, "body": req.body.decode(), **extra}


def drive(url: str, req: Request, args: argparse.Namespace, n: int, log_file: object) -> int:
    """About ``n`` requests of ``req`` to ``url`` with ``bench/load.py`` at ``args.concurrency``
    (streams with ``args.chunks`` events when ``args.stream``); how many went. A failed
    request stops the bench, naming ``log_file``."""
    got = load.run(
        spec(
            url,
            req,
            concurrency=args.concurrency,
            per_worker=max(1, n // args.concurrency),
            stream=args.stream,
            min_events=args.chunks if args.stream else 1,
        ),
        False,
    )
    if got.get("errors"):
        raise SystemExit(f"{got['errors']} request(s) failed; see {log_file}")
    return int(got["requests"])


def stream_headers(req: Request, chunks: int, delay_ms: float) -> Request:
    headers = {**req.headers, "x-bench-chunks": str(chunks), "x-bench-delay-ms": str(delay_ms)}
    return Request(req.path, headers, req.body)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def targets(p: Procs) -> tuple[tuple[str, Proc], ...]:
    """What the proxy is compared with: the fake itself and the two floors."""
    return (("direct", p.fake), ("floor", p.floor), ("pfloor", p.pfloor))


def measure(proc: Proc, req: Request, timing: dict, use_wrk: bool, ca: str | None) -> dict:
    """One load run against ``proc``, with its CPU time per request."""
    extra = {"cpu_pid": proc.pid} | ({"cafile": ca} if ca else {})
    return load.run(spec(proc.url, req, **timing, **extra), use_wrk)


def nonstream(
    p: Procs,
    s: Settings,
    results: dict,
    conc: tuple[int, ...] = CONCURRENCY,
    scenarios: list[Scenario] = SCENARIOS,
    pre: str = "",
) -> None:
    kinds = dict.fromkeys(sc.upstream for sc in scenarios)
    for c in conc:
        # c=1 latency is a few hundred microseconds, the size of this machine's drift between
        # one run and the next (CPU idle states, neighbours), and c=16's req/s and CPU moved
        # 20 % between runs minutes apart: several short rounds that each measure every
        # target back to back, and the median of each figure over the rounds
        rounds = ROUNDS.get(c, 1)
        timing = {"concurrency": c, "duration": s.duration / rounds, "warmup": s.warmup}
        runs: dict[str, list[dict]] = {}
        for r in range(rounds):
            tag = f" round {r + 1}/{rounds}" if rounds > 1 else ""
            for kind in kinds:
                req = upstream_request(kind, False)
                for target, proc in targets(p):
                    log(f"{pre}non-stream {target} {kind} c={c}{tag}")
                    key = f"{pre}{target}|{kind}|{c}"
                    runs.setdefault(key, []).append(measure(proc, req, timing, s.use_wrk, p.ca))
            for sc in scenarios:
                log(f"{pre}non-stream proxy {sc.name} c={c}{tag}")
                req = sc.proxy_request(False)
                key = f"{pre}proxy|{sc.name}|{c}"
                runs.setdefault(key, []).append(measure(p.proxy, req, timing, s.use_wrk, p.ca))
        for key, got in runs.items():
            results[key] = median_run(got)


def median_run(runs: list[dict]) -> dict:
    """One result from several runs of the same load: each number the runs' median (the
    last run's value for anything else); ``rounds`` says how many there were."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[-1])
    for k, v in out.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = statistics.median(run[k] for run in runs)
    out["rounds"] = len(runs)
    return out


def streams(
    p: Procs, s: Settings, results: dict, scenarios: list[Scenario] = SCENARIOS, pre: str = ""
) -> None:
    timing = {
        "concurrency": STREAM["concurrency"],
        "duration": s.duration,
        "warmup": s.warmup,
        "stream": True,
        "min_events": STREAM["chunks"],
    }
    shape = (STREAM["chunks"], STREAM["delay_ms"])
    for kind in dict.fromkeys(sc.upstream for sc in scenarios):
        req = stream_headers(upstream_request(kind, True), *shape)
        for target, proc in targets(p):
            log(f"{pre}stream {target} {kind}")
            results[f"{pre}stream|{target}|{kind}"] = measure(proc, req, timing, False, p.ca)
    for sc in scenarios:
        log(f"{pre}stream proxy {sc.name}")
        req = stream_headers(sc.proxy_request(True), *shape)
        results[f"{pre}stream|proxy|{sc.name}"] = measure(p.proxy, req, timing, False, p.ca)


def many_streams(p: Procs, results: dict) -> None:
    """1,000 slow streams at once; a separate light client probes TTFB while they run."""
    sc = SCENARIOS[0]
    extra = {
        "concurrency": MANY["concurrency"],
        "per_worker": 1,
        "stream": True,
        "ramp": MANY["ramp"],
        "min_events": MANY["chunks"],
        "timeout": 120,
    }
    probe = {"concurrency": 1, "duration": PROBE["duration"], "stream": True, "min_events": PROBE["chunks"]}
    calls = [(target, proc, sc.direct_request(True)) for target, proc in targets(p)]
    calls.append(("proxy", p.proxy, sc.proxy_request(True)))
    for target, proc, req in calls:
        log(f"{MANY['concurrency']} streams {target}")
        with RssSampler(p.proxy) as rss:
            many = load.start_client(
                spec(
                    proc.url,
                    stream_headers(req, int(MANY["chunks"]), MANY["delay_ms"]),
                    **extra,
                    cpu_pid=proc.pid,
                )
            )
            time.sleep(PROBE["after"])
            results[f"probe|{target}"] = load.run_client(
                spec(proc.url, stream_headers(req, int(PROBE["chunks"]), 0), **probe)
            )
            results[f"many|{target}"] = load.finish(many)
        if target == "proxy":
            results["rss|many"] = rss.peak


def soak(p: Procs, s: Settings, results: dict) -> None:
    """Rotate every scenario, stream and not, for ``s.soak`` seconds; RSS before and after."""
    segment = 5.0
    series: list[float] = []
    log(f"soak {s.soak:.0f} s")
    start = time.monotonic()
    i = 0
    with RssSampler(p.proxy) as rss:
        while i < 2 or time.monotonic() - start < s.soak:
            sc = SCENARIOS[i % len(SCENARIOS)]
            stream = (i // len(SCENARIOS)) % 2 == 1
            req = sc.proxy_request(stream)
            if stream:
                req = stream_headers(req, STREAM["chunks"], 0)
            extra = {"concurrency": 16, "duration": segment, "stream": stream, "min_events": STREAM["chunks"]}
            load.run(spec(p.proxy.url, req, **extra), s.use_wrk)
            series.append(p.proxy.rss_mb())
            i += 1
    results["rss|soak_series"] = series
    results["rss|soak_peak"] = rss.peak
    results["rss|soak_seconds"] = time.monotonic() - start


def benchmark(s: Settings) -> dict:
    results: dict = {}
    with Procs() as p:
        time.sleep(1.0)
        results["rss|idle"] = p.proxy.rss_mb()
        with RssSampler(p.proxy) as rss:
            nonstream(p, s, results)
            streams(p, s, results)
        results["rss|load"] = rss.peak
        soak(p, s, results)
        many_streams(p, results)
    if s.tls:
        with Procs(tls=True) as p:
            time.sleep(1.0)
            nonstream(p, s, results, (16,), pre="tls:")
            streams(p, s, results, pre="tls:")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs and a 30 s soak (a few minutes in all)")
    ap.add_argument("--soak-seconds", type=float, default=None, help="soak length (default 600, quick 30)")
    ap.add_argument("--no-wrk", action="store_true", help="use the async client even when wrk is installed")
    ap.add_argument("--no-tls", action="store_true", help="skip the TLS-upstream scenario")
    ap.add_argument("--check", action="store_true", help="regression gate: short run vs bench/baseline.json")
    ap.add_argument("--write-baseline", action="store_true", help="with --check: write bench/baseline.json")
    ap.add_argument("--profile", metavar="SCENARIO", help="profile the proxy under load in one scenario")
    ap.add_argument("--profile-tool", choices=("py-spy", "pyinstrument"), default="py-spy")
    ap.add_argument(
        "--profile-format",
        choices=("speedscope", "flamegraph", "raw"),
        default="speedscope",
        help="py-spy output format (flamegraph is an SVG)",
    )
    ap.add_argument("--concurrency", type=int, default=16, help="profile mode: concurrent clients")
    ap.add_argument("--seconds", type=float, default=15.0, help="profile mode: load duration")
    ap.add_argument("--stream", action="store_true", help="profile mode: streaming requests")
    args = ap.parse_args(argv)
    if args.profile:
        import profiling

        return profiling.run(find(args.profile), args)
    if args.check or args.write_baseline:
        import gate

        return gate.main(args.write_baseline, not args.no_wrk)
    soak_s = args.soak_seconds if args.soak_seconds is not None else (30.0 if args.quick else 600.0)
    settings = Settings(args.quick, soak_s, not args.no_wrk, not args.no_tls)
    started = time.time()
    load_before = os.getloadavg()
    results = benchmark(settings)
    results["loadavg|before"], results["loadavg|after"] = load_before, os.getloadavg()
    command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    table = report.table(results)
    print(table)
    path = report.write(results, table, command.strip(), started, settings.use_wrk and bool(load.wrk_path()))
    log(f"wrote {path} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
