"""The benchmark regression gate: ``python bench/run.py --check [--write-baseline]``.

A short run (about a minute and a half on 2 cores): the fake, both floors and cliproxy in
their own processes; non-stream passthrough OpenAI and Claude -> OpenAI at c=16 and
50-chunk streams, in ``ROUNDS`` rounds; each round measures every target back to back, so
its ratios pair measurements seconds apart, and each ratio's median over the rounds is
kept (one round disturbed by other work does not decide). Only ratios measured in the same run are
compared, never absolute numbers: proxy vs floor req/s, added us/req vs the floors and a
translation vs the passthrough, stream TTFB vs the floors, CPU per request and per stream
vs the protocol floor. ``--check`` exits 1 naming every ratio that is more than
``TOLERANCE`` worse than bench/baseline.json; ``--write-baseline`` writes that file.

A ratio that fails is measured again before it is reported: ``CONFIRM_ROUNDS`` more rounds
on the same processes, and the verdict is the median over all of them. Some ratios move
far from round to round (the stream TTFB one: 0.74 to 1.54 within one run, 2026-12-05), so
five rounds' median may stray past the band on a quiet machine; a regression is still there
after ten. The baseline is the median of ``BASELINE_ROUNDS``, not of one short run's five,
so that a lucky run does not set a band the proxy cannot hold (the stream TTFB ratio was
committed at 0.76 and then measured 0.89 and 1.04 with nothing changed).

``compare`` is the pure comparison and ``check`` the verdict with its re-measurement
(tests/test_bench_gate.py).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASELINE = Path(__file__).resolve().parent / "baseline.json"
TOLERANCE = 0.15
ROUNDS = 5
CONFIRM_ROUNDS = 5  # more rounds before a failing ratio is reported
BASELINE_ROUNDS = 15
# a ratio whose rounds spread widely gets a wider band of its own (``tolerances``): this many
# standard errors of the difference between the baseline's median and a verdict's, at most
# MAX_TOLERANCE
CONFIDENCE = 2.5
MAX_TOLERANCE = 0.5
DURATION, WARMUP = 1.0, 0.5
CHUNKS = 50
HIGHER, LOWER = "higher", "lower"
Rounds = list[dict[str, dict]]  # each round: target -> its load result


def other_cpu(baseline: dict[str, Any], cpu: str) -> str | None:
    """A warning when the baseline was measured on another CPU model than ``cpu`` (None when
    the same, or when the baseline does not say). The ratios against the protocol floor
    move with the CPU: the floor is mostly C, the proxy mostly Python, and the same code
    read CPU per request x3.56 the protocol floor's on an AMD EPYC and x5.35 on an Intel
    Xeon (2026-12-05), its ratios against the aiohttp floor unchanged."""
    recorded = baseline.get("cpu")
    if not recorded or recorded == cpu:
        return None
    return (
        f"the baseline was measured on {recorded}, this machine is {cpu}: the ratios against the "
        "protocol floor move with the CPU, so a FAIL here may be the machine. Compare revisions "
        "on this machine with bench/ab.py (base=REV same=REV new=.), or write a baseline from "
        "the old revision here (--write-baseline in its checkout)"
    )


def compare(baseline: dict[str, Any], current: dict[str, float], tolerance: float = TOLERANCE) -> list[str]:
    """The ratios of ``current`` that are more than ``tolerance`` worse than ``baseline``.

    ``baseline`` is ``{"metrics": {name: {"value": v, "better": "higher"|"lower"}}}``, a
    metric's own ``"tolerance"`` (:func:`tolerances`) in place of ``tolerance``. A "higher"
    ratio fails below ``v * (1 - tolerance)``; a "lower" one fails above
    ``v / (1 - tolerance)`` (its reciprocal fell by more than ``tolerance``). A baseline
    metric the run did not measure fails too; metrics only in ``current`` are ignored."""
    failures = []
    for name, entry in sorted(baseline.get("metrics", {}).items()):
        base, better = float(entry["value"]), entry.get("better", HIGHER)
        band = float(entry.get("tolerance", tolerance))
        if name not in current or current[name] != current[name]:  # missing or NaN
            failures.append(f"{name}: not measured (baseline {base:.3f})")
            continue
        now = float(current[name])
        if better == HIGHER:
            limit = base * (1 - band)
            bad = now < limit
        else:
            limit = base / (1 - band)
            bad = now > limit
        if bad:
            change = (now / base - 1) * 100 if base else float("inf")
            failures.append(
                f"{name}: {now:.3f} vs baseline {base:.3f} ({change:+.0f}%; {better} is better, "
                f"limit {limit:.3f})"
            )
    return failures


def ratios(res: dict[str, dict]) -> dict[str, tuple[float, str]]:
    """The gate's ratios from one round's result of each target: name -> (value, better)."""
    d, f, pf = res["direct"], res["floor"], res["pfloor"]
    pt, tr = res["proxy|passthrough OpenAI"], res["proxy|Claude -> OpenAI"]
    sd, sf, spf = res["stream|direct"], res["stream|floor"], res["stream|pfloor"]
    spt, str_ = res["stream|proxy|passthrough OpenAI"], res["stream|proxy|Claude -> OpenAI"]

    def added(x: dict) -> float:
        return 1e6 / x["rps"] - 1e6 / d["rps"]

    def cpu(x: dict) -> float:
        return x.get("cpu_us", float("nan"))

    return {
        "req/s proxy / floor (passthrough OpenAI, c=16)": (pt["rps"] / f["rps"], HIGHER),
        "req/s proxy / protocol floor (passthrough OpenAI, c=16)": (pt["rps"] / pf["rps"], HIGHER),
        "added us/req proxy / floor (passthrough OpenAI)": (added(pt) / added(f), LOWER),
        "added us/req proxy / protocol floor (passthrough OpenAI)": (added(pt) / added(pf), LOWER),
        "added us/req Claude -> OpenAI / passthrough OpenAI": (added(tr) / added(pt), LOWER),
        "stream TTFB p50 proxy / floor (passthrough OpenAI)": (spt["ttfb_p50"] / sf["ttfb_p50"], LOWER),
        "stream TTFB p50 proxy / direct (passthrough OpenAI)": (spt["ttfb_p50"] / sd["ttfb_p50"], LOWER),
        "CPU us/req proxy / protocol floor (passthrough OpenAI)": (cpu(pt) / cpu(pf), LOWER),
        "CPU us/req proxy / protocol floor (Claude -> OpenAI)": (cpu(tr) / cpu(pf), LOWER),
        f"CPU us/stream proxy / protocol floor ({CHUNKS} chunks, passthrough OpenAI)": (
            cpu(spt) / cpu(spf),
            LOWER,
        ),
        f"CPU us/stream proxy / protocol floor ({CHUNKS} chunks, Claude -> OpenAI)": (
            cpu(str_) / cpu(spf),
            LOWER,
        ),
    }


def tolerances(rounds: Rounds, verdict_rounds: int = 0) -> dict[str, float]:
    """The ratios whose spread over ``rounds`` (a baseline's) calls for a band wider than
    ``TOLERANCE``, with that band: ``CONFIDENCE`` standard errors of the difference between
    the median of these rounds and that of a verdict's ``verdict_rounds`` (default: a
    confirmed one, ``ROUNDS + CONFIRM_ROUNDS``), at most ``MAX_TOLERANCE``. The spread is
    robust (the interquartile range: one disturbed round does not widen it), relative to
    the median. Measured 2026-12-05 over ten rounds: the stream TTFB ratios' interquartile
    range was 36-43 % of their median, the CPU per request one's 6 %."""
    verdict = verdict_rounds or ROUNDS + CONFIRM_ROUNDS
    per_round = [ratios(r) for r in rounds]
    out: dict[str, float] = {}
    if len(per_round) < 4:
        return out
    for name, (_, better) in per_round[0].items():
        values = [r[name][0] for r in per_round]
        mid = statistics.median(values)
        if not mid > 0:
            continue
        q1, _, q3 = statistics.quantiles(values, n=4)
        sigma = (q3 - q1) / 1.349 / mid  # a normal spread's sigma, relative
        # the standard error of a median is about 1.2533 sigma / sqrt(n)
        rise = CONFIDENCE * 1.2533 * sigma * math.sqrt(1 / len(values) + 1 / verdict)
        band = min(MAX_TOLERANCE, rise / (1 + rise) if better == LOWER else rise)
        if band > TOLERANCE:
            out[name] = round(band, 3)
    return out


def median_ratios(rounds: Rounds) -> dict[str, tuple[float, str]]:
    """Each ratio of every round, then its median over the rounds."""
    per_round = [ratios(r) for r in rounds]
    return {
        name: (statistics.median(r[name][0] for r in per_round), better)
        for name, (_, better) in per_round[0].items()
    }


def check(
    baseline: dict[str, Any], more_rounds: Callable[[int], Rounds], tolerance: float = TOLERANCE
) -> tuple[list[str], Rounds]:
    """The failures of ``ROUNDS`` rounds (``more_rounds(n)`` measures ``n`` more), each
    failing ratio measured again: with any failure, ``CONFIRM_ROUNDS`` more rounds are taken
    and the failures are those of the median over all. Returns them and every round."""
    rounds = more_rounds(ROUNDS)
    failures = compare(baseline, _values(rounds), tolerance)
    if failures:
        rounds = rounds + more_rounds(CONFIRM_ROUNDS)
        failures = compare(baseline, _values(rounds), tolerance)
    return failures, rounds


def _values(rounds: Rounds) -> dict[str, float]:
    return {name: v for name, (v, _) in median_ratios(rounds).items()}


@contextmanager
def measuring(use_wrk: bool) -> Iterator[Callable[[int], Rounds]]:
    """The processes started; yields a function that measures ``n`` more rounds over every
    target (each round's results, a round's targets back to back)."""
    import load
    from procs import Procs
    from run import log, spec, stream_headers
    from scenarios import BY_NAME, upstream_request

    pt, tr = BY_NAME["passthrough OpenAI"], BY_NAME["Claude -> OpenAI"]
    timing = {"concurrency": 16, "duration": DURATION, "warmup": WARMUP}
    stream = timing | {"stream": True, "min_events": CHUNKS}
    with Procs() as p:
        time.sleep(0.5)
        plan = [
            ("direct", p.fake, upstream_request("openai", False), timing),
            ("floor", p.floor, upstream_request("openai", False), timing),
            ("pfloor", p.pfloor, upstream_request("openai", False), timing),
            (f"proxy|{pt.name}", p.proxy, pt.proxy_request(False), timing),
            (f"proxy|{tr.name}", p.proxy, tr.proxy_request(False), timing),
        ]
        for target, proc, req in (
            ("stream|direct", p.fake, upstream_request("openai", True)),
            ("stream|floor", p.floor, upstream_request("openai", True)),
            ("stream|pfloor", p.pfloor, upstream_request("openai", True)),
            (f"stream|proxy|{pt.name}", p.proxy, pt.proxy_request(True)),
            (f"stream|proxy|{tr.name}", p.proxy, tr.proxy_request(True)),
        ):
            plan.append((target, proc, stream_headers(req, CHUNKS, 1), stream))
        done = planned = 0

        def more(n: int) -> Rounds:
            nonlocal done, planned
            if planned:
                log(f"a ratio failed: {n} more rounds before the verdict")
            planned += n
            rounds: Rounds = []
            for _ in range(n):
                done += 1
                log(f"check round {done}/{planned}")
                rounds.append({})
                for target, proc, req, extra in plan:
                    result = load.run(spec(proc.url, req, **extra, cpu_pid=proc.pid), use_wrk)
                    if result["errors"]:
                        raise SystemExit(
                            f"check: {target} answered {result['errors']} errors: {result['first_error']}"
                        )
                    rounds[-1][target] = result
            return rounds

        yield more


def main(write: bool, use_wrk: bool = True) -> int:
    from report import machine

    started = time.time()
    load_before = os.getloadavg()
    cpu = machine()["CPU"]
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    if not write and baseline is None:
        print(f"no {BASELINE}: run python bench/run.py --write-baseline first", file=sys.stderr)
        return 2
    note = other_cpu(baseline, cpu) if baseline is not None and not write else None
    if note is not None:
        print(f"WARNING: {note}", file=sys.stderr)
    with measuring(use_wrk) as more:
        if write or baseline is None:
            failures, rounds = [], more(BASELINE_ROUNDS)
        else:
            failures, rounds = check(baseline, more, float(baseline.get("tolerance", TOLERANCE)))
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "check.json").write_text(json.dumps(rounds, indent=1, sort_keys=True))
    values = median_ratios(rounds)
    cores = os.cpu_count() or 1
    if load_before[0] > cores:  # the last minute: what shares the CPUs with this run
        print(
            f"WARNING: load average {load_before[0]:.1f} > {cores} cores at the start: other work "
            "shares the CPUs and the ratios are noisy; rerun on an idle machine before trusting a FAIL",
            file=sys.stderr,
        )
    width = max(map(len, values))
    for name, (v, better) in values.items():
        print(f"  {name:{width}s} {v:8.3f}  ({better} is better)")
    if write:
        doc = {
            "about": "bench/gate.py ratios (proxy vs floors in the same run); python bench/run.py --check",
            "tolerance": TOLERANCE,
            "rounds": len(rounds),
            "recorded": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
            "cpu": cpu,
            "loadavg": {"before": load_before, "after": os.getloadavg()},
            "metrics": {name: {"value": round(v, 4), "better": b} for name, (v, b) in values.items()},
        }
        for name, band in tolerances(rounds).items():  # the noisy ratios' own bands
            doc["metrics"][name]["tolerance"] = band
        BASELINE.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {BASELINE} in {time.time() - started:.0f} s")
        return 0
    assert baseline is not None
    for line in failures:
        print(f"FAIL {line}")
    if failures and note is not None:
        print(f"(the baseline's CPU differs: {note})")
    verdict = "FAIL" if failures else "PASS"
    print(
        f"check {verdict}: {len(failures)} of {len(baseline.get('metrics', {}))} ratios regressed "
        f"past their band ({TOLERANCE:.0%} unless the baseline gives one; median of {len(rounds)} rounds; {time.time() - started:.0f} s, "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    return 1 if failures else 0
