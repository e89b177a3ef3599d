"""The benchmark's one table, its PASS/FAIL targets and bench/RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from scenarios import SCENARIOS, Scenario

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
STALL_MS = 1000.0  # an inter-chunk gap this long counts as a stall (chunks come every 20 ms)
HEADER = (
    "metric",
    "scenario",
    "c",
    "proxy",
    "direct",
    "floor",
    "proxy - direct",
    "proxy vs floor",
    "target",
    "result",
)


@dataclass
class Row:
    metric: str
    scenario: str
    c: str
    proxy: str
    direct: str
    floor: str
    added: str
    vs_floor: str
    target: str = ""
    ok: bool | None = None

    def cells(self) -> list[str]:
        result = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return [
            self.metric,
            self.scenario,
            self.c,
            self.proxy,
            self.direct,
            self.floor,
            self.added,
            self.vs_floor,
            self.target,
            result,
        ]


def _pair(r: dict, a: str, b: str) -> str:
    return f"{r[a]:.2f} / {r[b]:.2f}"


def _diff(x: dict, y: dict, a: str, b: str) -> str:
    return f"{x[a] - y[a]:+.2f} / {x[b] - y[b]:+.2f}"


def cost_us(results: dict, sc: Scenario) -> float:
    """Added wall time per request at c=16: 1/rps through the proxy minus 1/rps direct."""
    p, d = results[f"proxy|{sc.name}|16"], results[f"direct|{sc.upstream}|16"]
    return 1e6 / p["rps"] - 1e6 / d["rps"]


def nonstream_rows(results: dict, sc: Scenario, c: int) -> list[Row]:
    p, d, f = (
        results[f"proxy|{sc.name}|{c}"],
        results[f"direct|{sc.upstream}|{c}"],
        results[f"floor|{sc.upstream}|{c}"],
    )
    rps = Row(
        "req/s",
        sc.name,
        str(c),
        f"{p['rps']:.0f}",
        f"{d['rps']:.0f}",
        f"{f['rps']:.0f}",
        f"x{p['rps'] / d['rps']:.2f}",
        f"x{p['rps'] / f['rps']:.2f}",
    )
    lat = Row(
        "p50 / p99 ms",
        sc.name,
        str(c),
        _pair(p, "p50", "p99"),
        _pair(d, "p50", "p99"),
        _pair(f, "p50", "p99"),
        _diff(p, d, "p50", "p99"),
        _diff(p, f, "p50", "p99"),
    )
    if p["errors"]:
        rps.metric += f" ({p['errors']} errors)"
    if sc.passthrough and c == 1:
        lat.target = "+p50 <= 0.3, +p99 <= 1"
        lat.ok = p["p50"] - d["p50"] <= 0.3 and p["p99"] - d["p99"] <= 1.0
    if sc.passthrough and c == 16:
        rps.target = ">= 4000 and >= x0.8 floor"
        rps.ok = p["rps"] >= 4000 and p["rps"] >= 0.8 * f["rps"] and not p["errors"]
    return [rps, lat]


def cost_row(results: dict, sc: Scenario) -> Row:
    ref = next(s for s in SCENARIOS if s.name == sc.reference)
    mine, base = cost_us(results, sc), cost_us(results, ref)
    f = results[f"floor|{sc.upstream}|16"]
    floor = 1e6 / f["rps"] - 1e6 / results[f"direct|{sc.upstream}|16"]["rps"]
    ratio = mine / base if base > 0 else float("inf")
    return Row(
        "added us/req",
        sc.name,
        "16",
        f"{mine:.0f}",
        "0",
        f"{floor:.0f}",
        f"x{ratio:.2f} of {ref.name} ({base:.0f})",
        f"x{mine / floor:.2f}" if floor > 0 else "-",
        "<= x1.3 passthrough",
        ratio <= 1.3,
    )


def stream_row(results: dict, sc: Scenario) -> Row:
    p, d, f = (
        results[f"stream|proxy|{sc.name}"],
        results[f"stream|direct|{sc.upstream}"],
        results[f"stream|floor|{sc.upstream}"],
    )
    row = Row(
        "TTFB p50 / p99 ms",
        sc.name,
        "16",
        _pair(p, "ttfb_p50", "ttfb_p99"),
        _pair(d, "ttfb_p50", "ttfb_p99"),
        _pair(f, "ttfb_p50", "ttfb_p99"),
        _diff(p, d, "ttfb_p50", "ttfb_p99"),
        _diff(p, f, "ttfb_p50", "ttfb_p99"),
    )
    if p["errors"] or p["complete"] < p["requests"]:
        row.metric += f" ({p['errors']} errors, {p['requests'] - p['complete']} short)"
    return row


def many_rows(results: dict) -> list[Row]:
    p, d, f = results["many|proxy"], results["many|direct"], results["many|floor"]
    name = f"{SCENARIOS[0].name}, 50 x 20 ms"
    n = str(p["requests"] + p["errors"])
    done = Row(
        "streams complete",
        name,
        n,
        str(p["complete"]),
        str(d["complete"]),
        str(f["complete"]),
        "",
        "",
        "all complete",
        p["complete"] == int(n) and not p["errors"],
    )
    gap = Row(
        "max gap p99 / max ms",
        name,
        n,
        _pair(p, "gap_p99", "gap_max"),
        _pair(d, "gap_p99", "gap_max"),
        _pair(f, "gap_p99", "gap_max"),
        _diff(p, d, "gap_p99", "gap_max"),
        _diff(p, f, "gap_p99", "gap_max"),
        f"no stall (gap < {STALL_MS:.0f})",
        p["gap_max"] < STALL_MS,
    )
    dur = Row(
        "stream time p50 / p99 ms",
        name,
        n,
        _pair(p, "p50", "p99"),
        _pair(d, "p50", "p99"),
        _pair(f, "p50", "p99"),
        _diff(p, d, "p50", "p99"),
        _diff(p, f, "p50", "p99"),
    )
    ttfb = Row(
        "TTFB p50 / p99 ms (the 1000)",
        name,
        n,
        _pair(p, "ttfb_p50", "ttfb_p99"),
        _pair(d, "ttfb_p50", "ttfb_p99"),
        _pair(f, "ttfb_p50", "ttfb_p99"),
        _diff(p, d, "ttfb_p50", "ttfb_p99"),
        _diff(p, f, "ttfb_p50", "ttfb_p99"),
    )
    p, d, f = results["probe|proxy"], results["probe|direct"], results["probe|floor"]
    probe = Row(
        f"TTFB p50 / p99 ms (probe, {p['requests']} new streams)",
        name,
        "1",
        _pair(p, "ttfb_p50", "ttfb_p99"),
        _pair(d, "ttfb_p50", "ttfb_p99"),
        _pair(f, "ttfb_p50", "ttfb_p99"),
        _diff(p, d, "ttfb_p50", "ttfb_p99"),
        _diff(p, f, "ttfb_p50", "ttfb_p99"),
        "+p50 <= 1",
        p["ttfb_p50"] - d["ttfb_p50"] <= 1.0,
    )
    return [done, gap, dur, ttfb, probe]


def rss_rows(results: dict) -> list[Row]:
    idle, series = results["rss|idle"], results["rss|soak_series"]
    growth = series[-1] / series[0] - 1
    soak_s = results["rss|soak_seconds"]
    return [
        Row("RSS MB idle", "proxy", "", f"{idle:.1f}", "", "", "", "", "< 80", idle < 80),
        Row("RSS MB peak, load", "proxy", "", f"{results['rss|load']:.1f}", "", "", "", ""),
        Row("RSS MB peak, 1000 streams", "proxy", "", f"{results.get('rss|many', 0.0):.1f}", "", "", "", ""),
        Row(
            f"RSS MB soak {soak_s:.0f} s",
            "proxy",
            "",
            f"{series[0]:.1f} -> {series[-1]:.1f}",
            "",
            "",
            f"{growth * 100:+.1f}%",
            f"peak {results['rss|soak_peak']:.1f}",
            "growth < 10%",
            growth < 0.10,
        ),
    ]


def rows(results: dict) -> list[Row]:
    out: list[Row] = []
    for c in (1, 16, 64):
        for sc in SCENARIOS:
            out += nonstream_rows(results, sc, c)
    out += [cost_row(results, sc) for sc in SCENARIOS if not sc.passthrough]
    out += [stream_row(results, sc) for sc in SCENARIOS]
    return out + many_rows(results) + rss_rows(results)


def table(results: dict) -> str:
    body = [r.cells() for r in rows(results)]
    widths = [max(len(x) for x in col) for col in zip(HEADER, *body, strict=True)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def machine() -> dict[str, str]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in _read("/proc/cpuinfo").splitlines()
            if ln.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem = next(
        (int(ln.split()[1]) for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), 0
    )
    info = {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": f"{mem / 1024 / 1024:.1f} GiB",
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
    }
    for pkg in ("cliproxy", "aiohttp", "uvloop", "orjson"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = "not installed"
    return info


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
    except OSError:
        return "not installed"
    return (out.stdout or out.stderr).split("[")[0].strip() or "unknown"


NOTES = """\
How to read it: every figure is measured in this run against the same fake upstream.
"direct" calls the fake itself; "floor" is bench/floor.py, a bare aiohttp.web + aiohttp
client passthrough; "proxy" is cliproxy (one worker) with the config bench writes to
bench/out/proxy-config.yaml. "proxy - direct" is the proxy's added cost (for req/s, the
ratio); "proxy vs floor" compares with the bare passthrough. Latency percentiles come from
wrk (non-stream) or the async client (streams). "added us/req" is 1e6/rps(proxy) -
1e6/rps(direct) at c=16, the wall time each request adds on a saturated 2-core box; a
translation is compared with the passthrough of the same upstream (OpenAI -> Gemini with
passthrough OpenAI, the same client format). Streams: 20 chunks, 1 ms apart, 16 clients.
1,000 streams: 50 chunks 20 ms apart, all at once (connections opened over 0.5 s) from
one client process; a gap is the longest pause between two reads of one stream. That
client is itself saturated on 2 cores, so its TTFB is shown for information; the TTFB
target is checked with a probe: a second, light client process that opens short streams
(5 chunks) one after another while the 1,000 are running. RSS is the proxy process's VmRSS;
the soak (before the 1,000 streams) rotates all scenarios (stream and not, 16 clients)
and compares RSS after its first and its last 5 s segment.
"""


def targets(results: dict) -> list[str]:
    return [
        f"- {r.metric}, {r.scenario}{' c=' + r.c if r.c else ''}: {r.proxy} (direct {r.direct or '-'}, "
        f"added {r.added or '-'}, vs floor {r.vs_floor or '-'}); target {r.target}: "
        f"**{'PASS' if r.ok else 'FAIL'}**"
        for r in rows(results)
        if r.ok is not None
    ]


def write(results: dict, tbl: str, command: str, started: float, used_wrk: bool) -> Path:
    info = machine()
    before, after = results.get("loadavg|before"), results.get("loadavg|after")
    if before and after:
        info["load average (1/5/15 min)"] = (
            f"{'/'.join(f'{x:.1f}' for x in before)} at start, "
            f"{'/'.join(f'{x:.1f}' for x in after)} at end "
            "(above the core count: other work shared the CPUs)"
        )
    info["load generator"] = (
        f"{wrk_version()} (non-stream) + bench/load.py (streams)"
        if used_wrk
        else "bench/load.py (aiohttp) for everything"
    )
    lines = [
        "# cliproxy benchmark results",
        "",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}  ",
        f"Command: `{command}`",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in info.items()),
        "",
        "## Results",
        "",
        tbl,
        "",
        NOTES,
        "## Targets",
        "",
        *targets(results),
        "",
        "<details><summary>raw results (JSON)</summary>",
        "",
        "```json",
        json.dumps(results, indent=1, sort_keys=True, default=str),
        "```",
        "</details>",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    return RESULTS
