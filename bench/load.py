"""The load generator, always in its own process: wrk when installed, else an async client.

    python bench/load.py '{"url": ..., "headers": {...}, "body": "...", "concurrency": 16,
                           "duration": 3, "warmup": 0.5}'

prints one JSON object: requests, errors, rps and latency percentiles in ms; for streams
(``"stream": true``) also time to first byte, the largest gap between two reads of a
stream, and how many streams completed with at least ``min_events`` SSE events.
A spec with ``"per_worker": N`` makes each of ``concurrency`` workers send exactly N
requests instead of running for ``duration`` (the 1,000-streams check). ``run_wrk``
drives wrk for non-stream throughput; ``run`` picks wrk or this client.
``"cpu_pid": PID`` adds ``cpu_us``: the CPU time (user + system) that process used over the
measured part of the run, per recorded request. ``"cafile"`` is the CA to trust for https.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from procs import cpu_seconds

WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"p50\\":%d,\\"p90\\":%d,"
    .. "\\"p99\\":%d,\\"max\\":%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Recorder:
    def __init__(self, stream: bool, min_events: int) -> None:
        self.stream, self.min_events = stream, min_events
        self.latencies: list[float] = []
        self.ttfb: list[float] = []
        self.gaps: list[float] = []  # the largest gap of each stream
        self.errors = 0
        self.complete = 0
        self.first_error = ""

    def summary(self, elapsed: float) -> dict:
        ms = [x * 1000 for x in self.latencies]
        out = {
            "requests": len(ms),
            "errors": self.errors,
            "rps": len(ms) / elapsed if elapsed else 0.0,
            "p50": pct(ms, 50),
            "p90": pct(ms, 90),
            "p99": pct(ms, 99),
            "max": max(ms, default=float("nan")),
            "client": "aiohttp",
            "first_error": self.first_error,
        }
        if self.stream:
            ttfb = [x * 1000 for x in self.ttfb]
            gaps = [x * 1000 for x in self.gaps]
            out |= {
                "ttfb_p50": pct(ttfb, 50),
                "ttfb_p99": pct(ttfb, 99),
                "ttfb_max": max(ttfb, default=0.0),
                "gap_p99": pct(gaps, 99),
                "gap_max": max(gaps, default=0.0),
                "complete": self.complete,
            }
        return out


async def one(session: aiohttp.ClientSession, spec: dict, rec: Recorder, record: bool) -> None:
    start = time.perf_counter()
    first = last = 0.0
    gap = 0.0
    events = 0
    try:
        async with session.post(spec["url"], data=spec["body"].encode(), headers=spec["headers"]) as resp:
            if not rec.stream:
                await resp.read()
            else:
                async for chunk in resp.content.iter_any():
                    now = time.perf_counter()
                    if not first:
                        first = now
                    elif now - last > gap:
                        gap = now - last
                    last = now
                    events += chunk.count(b"\n\n") + chunk.count(b"\r\n\r\n")
            ok = resp.status == 200
            if not ok and not rec.first_error:
                rec.first_error = f"HTTP {resp.status}"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        ok = False
        rec.first_error = rec.first_error or repr(exc)
    if not record:
        return
    if not ok:
        rec.errors += 1
        return
    rec.latencies.append(time.perf_counter() - start)
    if rec.stream:
        rec.ttfb.append((first or time.perf_counter()) - start)
        rec.gaps.append(gap)
        rec.complete += events >= rec.min_events


async def worker(session: aiohttp.ClientSession, spec: dict, rec: Recorder, t0: float, delay: float) -> None:
    if delay:
        await asyncio.sleep(delay)
    if "per_worker" in spec:
        for _ in range(spec["per_worker"]):
            await one(session, spec, rec, True)
        return
    warm_end = t0 + spec.get("warmup", 0.0)
    end = warm_end + spec["duration"]
    while (now := time.perf_counter()) < end:
        await one(session, spec, rec, now >= warm_end)


async def drive(spec: dict) -> dict:
    rec = Recorder(spec.get("stream", False), spec.get("min_events", 1))
    conc = spec["concurrency"]
    ramp = spec.get("ramp", 0.0)
    pid = spec.get("cpu_pid")
    cpu0: list[float] = []
    tls = ssl.create_default_context(cafile=spec["cafile"]) if spec.get("cafile") else True
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, ssl=tls)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 120))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        t0 = time.perf_counter()
        if pid:  # CPU from the end of the warm-up (recorded requests start after it) to the last answer
            warm = 0.0 if "per_worker" in spec else spec.get("warmup", 0.0)
            asyncio.get_running_loop().call_later(warm, lambda: cpu0.append(cpu_seconds(pid)))
        await asyncio.gather(*(worker(session, spec, rec, t0, ramp * i / conc) for i in range(conc)))
        elapsed = time.perf_counter() - t0 - spec.get("warmup", 0.0)
    out = rec.summary(elapsed)
    if pid and cpu0 and out["requests"]:
        out["cpu_us"] = (cpu_seconds(pid) - cpu0[0]) * 1e6 / out["requests"]
    return out


def start_client(spec: dict) -> subprocess.Popen:
    """The async client, started in a fresh process; ``finish`` collects its result. The
    spec goes through a pipe, not the command line: an argument holds 128 KB at most on
    Linux, less than a long agentic request's body."""
    proc = subprocess.Popen(
        [sys.executable, __file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdin, proc.stdin = proc.stdin, None  # (closed here: communicate() must not flush it)
    assert stdin is not None
    with stdin:  # read whole before the client starts: it runs on while the caller works
        stdin.write(json.dumps(spec))
    return proc


def finish(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"load client failed: {err[-2000:]}")
    return json.loads(out)


def run_client(spec: dict) -> dict:
    """The async client, in a fresh process, run to its end."""
    return finish(
        start_client(spec), spec.get("duration", 0) + spec.get("warmup", 0) + spec.get("timeout", 120) + 30
    )


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _lua(spec: dict) -> str:
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in spec["headers"].items())
    return f'wrk.method = "POST"\nwrk.body = [==[{spec["body"]}]==]\n{headers}{WRK_DONE}'


def run_wrk(spec: dict) -> dict:
    """Non-stream throughput and latency with wrk (one thread, so it takes little CPU)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_lua(spec))
    script = Path(f.name)
    conc = str(spec["concurrency"])
    base = [wrk_path() or "wrk", "-t1", "-c", conc, "-s", str(script), "--timeout", "10s"]
    try:
        if spec.get("warmup"):
            subprocess.run(
                [*base, "-d", f"{max(1, round(spec['warmup']))}s", spec["url"]],
                capture_output=True,
                check=True,
                timeout=60,
            )
        secs = max(1, round(spec["duration"]))
        pid = spec.get("cpu_pid")
        cpu0 = cpu_seconds(pid) if pid else 0.0
        done = subprocess.run(
            [*base, "-d", f"{secs}s", spec["url"]],
            capture_output=True,
            text=True,
            check=True,
            timeout=secs + 60,
        )
        cpu = cpu_seconds(pid) - cpu0 if pid else 0.0
    finally:
        script.unlink()
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    ok = raw["requests"] - raw["errors"]
    extra = {"cpu_us": cpu * 1e6 / ok} if pid and ok else {}
    return extra | {
        "requests": raw["requests"],
        "errors": raw["errors"],
        "rps": ok / (raw["duration_us"] / 1e6),
        "p50": raw["p50"] / 1000,
        "p90": raw["p90"] / 1000,
        "p99": raw["p99"] / 1000,
        "max": raw["max"] / 1000,
        "client": "wrk",
    }


def run(spec: dict, use_wrk: bool = True) -> dict:
    """wrk for non-stream runs when installed; the async client otherwise and for streams."""
    if use_wrk and not spec.get("stream") and "per_worker" not in spec and wrk_path():
        return run_wrk(spec)
    return run_client(spec)


def main() -> None:
    import uvloop

    print(json.dumps(uvloop.run(drive(json.loads(sys.stdin.read())))))


if __name__ == "__main__":
    main()
