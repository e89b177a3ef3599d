"""What the issue-20 routing features cost when they are off: passthrough req/s and CPU.

    python bench/features_off.py [--seconds 8] [--concurrency 16] [--rounds 2]
                                 [--iterations 200000] [--no-wrk]

The features: routing explain, quota steering, half-open probes, fair concurrency
(``max-concurrency``) and ``cliproxy record``. Starts the fake upstream (bench/upstream.py)
and two proxies (``python -m cliproxy``, one worker each): "off" with the default bench
config, and "on" whose ``routing`` turns each routing feature on in a harmless way
(``explain: true``, ``quota-steering: 90``, ``probe.enabled``, a ``max-concurrency`` that
never queues). Record stays off in both: it writes one file per request. Each round drives
both, one after the other, with the same passthrough OpenAI non-stream load (wrk when
installed, else bench/load.py); req/s and whole-process CPU per request are printed (noisy
on a shared machine; the on-proxy's figures are informative).

The verdict times, in-process on the real objects (a ``Service`` built from the off
proxy's config, its ``Pipeline``, ``Pool``, concurrency ``Gate`` and a ``Recorder``'s
``RequestTrace``), each feature's off-path checks as one passthrough request meets them,
over ``--iterations`` with ``time.process_time`` (the least of five, minus an empty loop),
against the off proxy's CPU per request (target: each under 2 %). The checks mirror the
source lines named in ``CHECKS``; each loop also counts the checks that found a feature
on, and fails when one did.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import OUT, Proc, load_cpu, start_fake, start_proxy
from run import spec
from scenarios import MODELS, SCENARIOS

from cliproxy.config.loader import load_config
from cliproxy.credentials import sources
from cliproxy.credentials.explain import NOTES, note_attempt
from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.service import Service
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.recording import RECORD_DIR_ENV
from cliproxy.usage.trace import RequestTrace

TARGET = 0.02
REPEATS = 5
STREAM_CHUNKS = 50  # the record check a stream pays per chunk, for a 50-chunk stream
ON_ROUTING = """routing:
  explain: true
  quota-steering: 90
  probe: {enabled: true}
  max-concurrency: {openai-compatibility: 100000}
"""
# feature -> where its off-path checks are (what one passthrough request meets)
CHECKS = {
    "routing explain": "Pipeline.run `explain is not None`, Pool.pick `NOTES.get()`, note_attempt() x1",
    "quota steering": "Pool.pick and Pipeline._attempt `pool.steering and ...` (x2)",
    "half-open probes": "none on success; Pool.mark_failure `on_cool is None` on a failure",
    "fair concurrency": "Pipeline._round `cred.max_concurrency or concurrency.kinds` (x1)",
    "record": "RequestTrace init, upstream_chunks, upstream_body `chunks`, Recorder.finished `capture` (x4)",
    "record, 50-chunk stream": f"`self.chunks is not None` per client chunk (x{STREAM_CHUNKS}, a stream)",
}

Timer = Callable[[int], int]  # runs n iterations; returns how many checks found a feature on


# ---------------------------------------------------------------------- the micro part


def _objects(config_path: Path) -> tuple[Service, Credential, Recorder, RequestTrace]:
    """The real objects the proxy builds from ``config_path``, and a request's trace."""
    config = load_config(config_path)
    service = Service(config, watch=False)
    service.pool.replace(sources.from_config(config))
    cred = next(c for c in service.pool.credentials() if c.provider.startswith("openai-compatible"))
    rec = Recorder()
    rec.sync(config, management=False)
    trace = rec.begin(
        method="POST",
        url="/v1/chat/completions",
        headers={},
        body=b"{}",
        endpoint="POST /v1/chat/completions",
        fmt=Format.OPENAI,
        alias=MODELS["openai"][1],
        api_key="bench-key",
        client_ip="127.0.0.1",
    )
    trace.upstream_request("POST", "http://up/v1/chat/completions", {}, b"{}", cred, cred.provider, "m")
    return service, cred, rec, trace


def _timers(service: Service, cred: Credential, rec: Recorder, trace: RequestTrace) -> dict[str, Timer]:
    """One loop per feature: its off-path checks of one request, as the source writes them."""
    pipe, pool = service.pipeline, service.pool
    tier = (cred, cred)
    model, status, action = MODELS["openai"][0], 200, "generate"
    until, now = 0.0, 1.0  # a failure that did not cool: the probe hook's test is all that runs

    def empty(n: int) -> int:
        on = 0
        for _ in range(n):
            pass
        return on

    def explain(n: int) -> int:
        on = 0
        for _ in range(n):
            if pipe.explain is not None:  # Pipeline.run
                on += 1
            if NOTES.get() is not None:  # Pool.pick
                on += 1
            note_attempt(cred.id, cred.provider, model)  # Pipeline._with_credential
        return on

    def steering(n: int) -> int:
        on = 0
        for _ in range(n):
            if pool.steering and len(tier) > 1:  # Pool.pick
                on += 1
            if pipe.pool.steering and status < 400:  # Pipeline._attempt
                on += 1
        return on

    def probe(n: int) -> int:  # per failure (a request that succeeds meets none)
        on = 0
        for _ in range(n):
            if pool.on_cool is not None and until > now:  # Pool.mark_failure
                on += 1
        return on

    def concurrency(n: int) -> int:
        on = 0
        for _ in range(n):
            if (cred.max_concurrency or pipe.concurrency.kinds) and action != "count":  # Pipeline._round
                on += 1
        return on

    def record(n: int) -> int:
        on = 0
        for _ in range(n):
            chunks = None if rec.capture is None else []  # RequestTrace.__init__
            if chunks is not None:
                on += 1
            if trace.chunks is not None:  # RequestTrace.upstream_chunks
                on += 1
            if trace.full or status >= 400 or trace.chunks is not None:  # RequestTrace.upstream_body
                on += 1
            if rec.capture is not None:  # Recorder.finished
                on += 1
        return on

    def record_chunk(n: int) -> int:
        on = 0
        for _ in range(n):
            if trace.chunks is not None:  # RequestTrace._chunk, once per client chunk
                on += 1
        return on

    return {
        "": empty,
        "routing explain": explain,
        "quota steering": steering,
        "half-open probes": probe,
        "fair concurrency": concurrency,
        "record": record,
        "record, 50-chunk stream": record_chunk,
    }


def micro_ns(config_path: Path, iterations: int) -> dict[str, float]:
    """ns per request of each feature's off-path checks (per failure for the probes, per
    stream for the chunk check), the empty loop's time taken off; the least of REPEATS."""
    timers = _timers(*_objects(config_path))
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(REPEATS):  # interleaved: the machine's drift hits every loop alike
        for name, timer in timers.items():
            started = time.process_time()
            found = timer(iterations)
            took = (time.process_time() - started) / iterations * 1e9
            if found:
                raise SystemExit(f"FAIL: {name}: {found} checks found the feature on in the off config")
            best[name] = min(best[name], took)
    base = best.pop("")
    out = {name: max(0.0, ns - base) for name, ns in best.items()}
    out["record, 50-chunk stream"] *= STREAM_CHUNKS
    return out


def check_on_config(config_path: Path) -> None:
    """The on proxy's config really turns each routing feature on."""
    routing = load_config(config_path).routing
    assert routing.explain and routing.quota_steering == 90 and routing.probe.enabled, routing
    assert routing.max_concurrency == {"openai-compatibility": 100000}, routing.max_concurrency


# ---------------------------------------------------------------------- the report


def table(
    args: argparse.Namespace,
    rps: dict[str, float],
    cpu_us: dict[str, float],
    ns: dict[str, float],
    passthrough_us: float,
) -> tuple[str, bool]:
    lines = [
        f"## Load: passthrough OpenAI, non-stream, c={args.concurrency}, {args.seconds:g} s x {args.rounds}",
        "",
        "| proxy | req/s | CPU us/request |",
        "|---|---:|---:|",
    ]
    for label in rps:
        lines.append(f"| {label} | {rps[label]:.0f} | {cpu_us[label]:.0f} |")
    off, on = list(rps)
    lines += [
        "",
        f"on vs off: req/s {(rps[on] / rps[off] - 1) * 100:+.1f} %, CPU/request"
        f" {(cpu_us[on] / cpu_us[off] - 1) * 100:+.1f} % (whole process, noisy; the on-cost, informative)",
        "",
        f"## Off-path checks, in-process ({args.iterations} iterations, least of {REPEATS}, empty loop taken off)",
        "",
        f"against the off proxy's {passthrough_us:.0f} us CPU per passthrough request; target each"
        f" < {TARGET * 100:.0f} %",
        "",
        "| feature | off-path checks | ns/request | % of passthrough |",
        "|---|---|---:|---:|",
    ]
    ok = True
    for name, value in ns.items():
        share = value / (passthrough_us * 1000)
        ok = ok and share < TARGET
        unit = " (per failure)" if name == "half-open probes" else ""
        lines.append(f"| {name} | {CHECKS[name]} | {value:.0f}{unit} | {share * 100:.4f} % |")
    lines += ["", "PASS: each feature's off cost < 2 %" if ok else "FAIL: a feature's off cost is >= 2 %"]
    return "\n".join(lines), ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--no-wrk", action="store_true")
    args = parser.parse_args()
    os.environ.pop(RECORD_DIR_ENV, None)  # record off in both proxies and in-process
    OUT.mkdir(exist_ok=True)
    sc = SCENARIOS[0]  # passthrough OpenAI
    procs: list[Proc] = []
    labels = {
        "off": "features off (default config)",
        "on": "features on (explain, steering 90, probe, max-conc.)",
    }
    rps: dict[str, list[float]] = {k: [] for k in labels}
    cpu: dict[str, list[float]] = {k: [] for k in labels}
    try:
        fake = start_fake()
        procs.append(fake)
        off, off_dir = start_proxy(fake.url, "features-off")
        procs.append(off)
        on, on_dir = start_proxy(fake.url, "features-on", ON_ROUTING)
        procs.append(on)
        check_on_config(on_dir / "config.yaml")
        timing = {"concurrency": args.concurrency, "duration": args.seconds, "warmup": 1.0}
        for r in range(args.rounds):
            for key, proc in (("off", off), ("on", on)):
                got, per = load_cpu(proc, spec(proc.url, sc.proxy_request(False), **timing), not args.no_wrk)
                rps[key].append(got["rps"])
                cpu[key].append(per)
                print(
                    f"round {r + 1} features {key:>3}: {got['rps']:8.0f} req/s, {per * 1e6:6.0f} us CPU/request"
                    f" ({got['errors']} errors)",
                    flush=True,
                )
                if got["errors"]:
                    print("FAIL: errors under load:", got.get("first_error", ""))
                    sys.exit(1)
    finally:
        for proc in reversed(procs):
            proc.stop()
    best_rps = {labels[k]: max(v) for k, v in rps.items()}
    best_cpu = {labels[k]: min(v) * 1e6 for k, v in cpu.items()}
    passthrough_us = best_cpu[labels["off"]]
    ns = micro_ns(off_dir / "config.yaml", args.iterations)
    text, ok = table(args, best_rps, best_cpu, ns, passthrough_us)
    print()
    print(text)
    command = " ".join(["python bench/features_off.py", *sys.argv[1:]])
    header = (
        "# What the issue-20 features cost when off\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}\n\n`{command}`\n\n"
    )
    (OUT / "features_off.md").write_text(header + text + "\n")
    print(f"\nwritten to {OUT / 'features_off.md'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
