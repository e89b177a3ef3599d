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
STALL_MS = 1000.0
STREAM_CHUNKS = (
    50  # run.STREAM["chunks"]  # an inter-chunk gap this long counts as a stall (chunks come every 20 ms)
)
HEADER = (
    "metric",
    "scenario",
    "c",
    "proxy",
    "direct",
    "floor",
    "protocol floor",
    "proxy - direct",
    "proxy vs floor",
    "proxy vs protocol floor",
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
    pfloor: str = ""
    vs_pfloor: str = ""

    def cells(self) -> list[str]:
        result = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return [
            self.metric,
            self.scenario,
            self.c,
            self.proxy,
            self.direct,
            self.floor,
            self.pfloor,
            self.added,
            self.vs_floor,
            self.vs_pfloor,
            self.target,
            result,
        ]


def _pair(r: dict, a: str, b: str) -> str:
    return f"{r[a]:.2f} / {r[b]:.2f}"


def _diff(x: dict, y: dict, a: str, b: str) -> str:
    return f"{x[a] - y[a]:+.2f} / {x[b] - y[b]:+.2f}"


def _pairs(p: dict, d: dict, f: dict, pf: dict, a: str, b: str) -> dict[str, str]:
    """The proxy / direct / floor / protocol floor cells of a two-number row."""
    return {
        "proxy": _pair(p, a, b),
        "direct": _pair(d, a, b),
        "floor": _pair(f, a, b),
        "pfloor": _pair(pf, a, b),
        "added": _diff(p, d, a, b),
        "vs_floor": _diff(p, f, a, b),
        "vs_pfloor": _diff(p, pf, a, b),
    }


def _three(results: dict, key: str, kind: str) -> tuple[dict, dict, dict]:
    """direct, floor and protocol floor results of one measurement (``key`` has {t} for the target)."""
    d, f, pf = (results[key.format(t=t, kind=kind)] for t in ("direct", "floor", "pfloor"))
    return d, f, pf


def cost_us(results: dict, sc: Scenario, pre: str = "") -> float:
    """Added wall time per request at c=16: 1/rps through the proxy minus 1/rps direct."""
    p, d = results[f"{pre}proxy|{sc.name}|16"], results[f"{pre}direct|{sc.upstream}|16"]
    return 1e6 / p["rps"] - 1e6 / d["rps"]


def nonstream_rows(results: dict, sc: Scenario, c: int, pre: str = "") -> list[Row]:
    p = results[f"{pre}proxy|{sc.name}|{c}"]
    d, f, pf = _three(results, pre + "{t}|{kind}|" + str(c), sc.upstream)
    rps = Row(
        "req/s",
        sc.name,
        str(c),
        f"{p['rps']:.0f}",
        f"{d['rps']:.0f}",
        f"{f['rps']:.0f}",
        f"x{p['rps'] / d['rps']:.2f}",
        f"x{p['rps'] / f['rps']:.2f}",
        pfloor=f"{pf['rps']:.0f}",
        vs_pfloor=f"x{p['rps'] / pf['rps']:.2f}",
    )
    lat = Row("p50 / p99 ms", sc.name, str(c), **_pairs(p, d, f, pf, "p50", "p99"))  # type: ignore[arg-type]
    if p["errors"]:
        rps.metric += f" ({p['errors']} errors)"
    if sc.passthrough and c == 1 and not pre:
        lat.target = "+p50 <= 0.12, +p99 <= 1"
        lat.ok = p["p50"] - d["p50"] <= 0.12 and p["p99"] - d["p99"] <= 1.0
    if sc.passthrough and c == 16 and not pre:
        rps.target = ">= 4000 and >= x0.8 floor"
        rps.ok = p["rps"] >= 4000 and p["rps"] >= 0.8 * f["rps"] and not p["errors"]
    return [rps, lat]


def _ratio(a: float | None, b: float | None) -> str:
    return f"x{a / b:.2f}" if a is not None and b else "-"


def cpu_row(metric: str, p: dict, d: dict, f: dict, pf: dict, name: str, c: str) -> Row:
    """CPU time per request (or stream) of each process: the proxy's, the floors' (and the fake's)."""
    cpu = [x.get("cpu_us") for x in (p, d, f, pf)]
    cell = ["-" if x is None else f"{x:.0f}" for x in cpu]
    return Row(
        metric,
        name,
        c,
        cell[0],
        cell[1],
        cell[2],
        "",
        _ratio(cpu[0], cpu[2]),
        pfloor=cell[3],
        vs_pfloor=_ratio(cpu[0], cpu[3]),
    )


def cost_row(results: dict, sc: Scenario, pre: str = "") -> Row:
    ref = next(s for s in SCENARIOS if s.name == sc.reference)
    mine, base = cost_us(results, sc, pre), cost_us(results, ref, pre)
    d, f, pf = _three(results, pre + "{t}|{kind}|16", sc.upstream)
    floor = 1e6 / f["rps"] - 1e6 / d["rps"]
    pfloor = 1e6 / pf["rps"] - 1e6 / d["rps"]
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
        "" if pre else "<= x1.3 passthrough",
        None if pre else ratio <= 1.3,
        pfloor=f"{pfloor:.0f}",
        vs_pfloor=f"x{mine / pfloor:.2f}" if pfloor > 0 else "-",
    )


def stream_row(results: dict, sc: Scenario, pre: str = "") -> Row:
    p = results[f"{pre}stream|proxy|{sc.name}"]
    d, f, pf = _three(results, pre + "stream|{t}|{kind}", sc.upstream)
    row = Row("TTFB p50 / p99 ms", sc.name, "16", **_pairs(p, d, f, pf, "ttfb_p50", "ttfb_p99"))  # type: ignore[arg-type]
    if p["errors"] or p["complete"] < p["requests"]:
        row.metric += f" ({p['errors']} errors, {p['requests'] - p['complete']} short)"
    return row


def stream_cpu_row(results: dict, sc: Scenario, pre: str = "") -> Row:
    p = results[f"{pre}stream|proxy|{sc.name}"]
    d, f, pf = _three(results, pre + "stream|{t}|{kind}", sc.upstream)
    return cpu_row(f"CPU us/stream ({STREAM_CHUNKS} chunks)", p, d, f, pf, sc.name, "16")


def many_rows(results: dict) -> list[Row]:
    p, d, f = results["many|proxy"], results["many|direct"], results["many|floor"]
    pf = results["many|pfloor"]
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
        pfloor=str(pf["complete"]),
    )
    gap = Row(
        "max gap p99 / max ms",
        name,
        n,
        **_pairs(p, d, f, pf, "gap_p99", "gap_max"),
        target=f"no stall (gap < {STALL_MS:.0f})",
        ok=p["gap_max"] < STALL_MS,
    )
    dur = Row("stream time p50 / p99 ms", name, n, **_pairs(p, d, f, pf, "p50", "p99"))  # type: ignore[arg-type]
    ttfb = Row(
        "TTFB p50 / p99 ms (the 1000)",
        name,
        n,
        **_pairs(p, d, f, pf, "ttfb_p50", "ttfb_p99"),  # type: ignore[arg-type]
    )
    cpu = cpu_row("CPU us/stream (the 1000)", p, d, f, pf, name, n)
    p, d, f = results["probe|proxy"], results["probe|direct"], results["probe|floor"]
    pf = results["probe|pfloor"]
    probe = Row(
        f"TTFB p50 / p99 ms (probe, {p['requests']} new streams)",
        name,
        "1",
        **_pairs(p, d, f, pf, "ttfb_p50", "ttfb_p99"),
        target="+p50 <= 1",
        ok=p["ttfb_p50"] - d["ttfb_p50"] <= 1.0,
    )
    # issue 21's form of the same target: a new stream's TTFB within 2x the aiohttp floor's
    probe_floor = Row(
        "TTFB p50 / p99 ms (probe) vs floor",
        name,
        "1",
        **_pairs(p, d, f, pf, "ttfb_p50", "ttfb_p99"),
        target="p50 <= x2 floor",
        ok=p["ttfb_p50"] <= 2 * f["ttfb_p50"],
    )
    return [done, gap, dur, ttfb, cpu, probe, probe_floor]


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


def cpu_rows(results: dict, pre: str = "") -> list[Row]:
    out = []
    for sc in SCENARIOS:
        p = results[f"{pre}proxy|{sc.name}|16"]
        d, f, pf = _three(results, pre + "{t}|{kind}|16", sc.upstream)
        out.append(cpu_row("CPU us/req", p, d, f, pf, sc.name, "16"))
    return out + [stream_cpu_row(results, sc, pre) for sc in SCENARIOS]


def tls_rows(results: dict) -> list[Row]:
    """The same comparisons with the fake behind HTTPS (c=16 only); marked "TLS"."""
    if "tls:proxy|passthrough OpenAI|16" not in results:
        return []
    out: list[Row] = []
    for sc in SCENARIOS:
        out += nonstream_rows(results, sc, 16, "tls:")
    out += [cost_row(results, sc, "tls:") for sc in SCENARIOS if not sc.passthrough]
    out += [stream_row(results, sc, "tls:") for sc in SCENARIOS]
    out += cpu_rows(results, "tls:")
    for row in out:
        row.metric = "TLS " + row.metric
    return out


def rows(results: dict) -> list[Row]:
    out: list[Row] = []
    for c in (1, 16, 64):
        for sc in SCENARIOS:
            out += nonstream_rows(results, sc, c)
    out += [cost_row(results, sc) for sc in SCENARIOS if not sc.passthrough]
    out += [stream_row(results, sc) for sc in SCENARIOS]
    out += cpu_rows(results)
    return out + many_rows(results) + rss_rows(results) + tls_rows(results)


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
client passthrough; "protocol floor" is bench/floor_protocol.py, a bare asyncio.Protocol +
httptools passthrough with a keep-alive pool of raw upstream connections (the least a Python
proxy can do); "proxy" is cliproxy (one worker) with the config bench writes to
bench/out/proxy-config.yaml. "proxy - direct" is the proxy's added cost (for req/s, the
ratio); "proxy vs floor" / "proxy vs protocol floor" compare with the bare passthroughs.
Latency percentiles come from wrk (non-stream) or the async client (streams); at c=1 and
c=16 every target is measured in three short rounds back to back and each figure is the
median of the rounds (one round's drift on a shared machine is as large as the added time). "added us/req"
is 1e6/rps(proxy) - 1e6/rps(direct) at c=16, the wall time each request adds on a saturated
2-core box; a translation is compared with the passthrough of the same upstream (OpenAI ->
Gemini with passthrough OpenAI, the same client format). "CPU us/req" and "CPU us/stream" are
the user + system CPU time of each process (/proc/PID/stat) over the measured part of a run,
divided by the requests answered in it ("direct": the fake's own). Streams: 50 chunks, 1 ms
apart, 16 clients. 1,000 streams: 50 chunks 20 ms apart, all at once (connections opened
over 0.5 s) from one client process; a gap is the longest pause between two reads of one
stream. That client is itself saturated on 2 cores, so its TTFB is shown for information;
the TTFB target is checked with a probe: a second, light client process that opens short
streams (5 chunks) one after another while the 1,000 are running. RSS is the proxy
process's VmRSS; the soak (before the 1,000 streams) rotates all scenarios (stream and not,
16 clients) and compares RSS after its first and its last 5 s segment. "TLS" rows repeat
the c=16 and stream measurements with the fake behind HTTPS (a CA and a 127.0.0.1
certificate made at run time by bench/tlscert.py): the floors trust the CA with --cafile,
cliproxy through SSL_CERT_FILE (it has no per-credential CA setting); connections are kept
alive, so the handshake is paid once per pooled connection.
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
        cores = os.cpu_count() or 1
        busy = max(before[0], after[0]) > cores  # the 1-minute figures: the run itself, not before it
        info["load average (1/5/15 min)"] = (
            f"{'/'.join(f'{x:.1f}' for x in before)} at start, "
            f"{'/'.join(f'{x:.1f}' for x in after)} at end"
            + (
                f" (**above the {cores} cores: other work shared the CPUs; absolute figures are low "
                "and noisy, compare the ratios measured in this run only**)"
                if busy
                else ""
            )
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
