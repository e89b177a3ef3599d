"""Profile mode: the proxy under load, sampled by py-spy or pyinstrument.

    python bench/run.py --profile "passthrough OpenAI" [--concurrency 16] [--seconds 15]
                        [--stream] [--profile-tool py-spy|pyinstrument] [--profile-format speedscope]

py-spy (``record``, Python frames only, no ``--native``) attaches to the proxy after a
warm-up and writes bench/out/profile-<scenario>-c<N>.<ext> (speedscope JSON, flamegraph SVG or
raw collapsed stacks); pyinstrument writes an HTML report. For py-spy's speedscope and
raw output the top functions by own and by total time are printed too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import load
from procs import OUT, Procs
from scenarios import Scenario

TOP = 15


def _stem(sc: Scenario, args) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", sc.name.lower()).strip("-")
    return f"profile-{slug}-c{args.concurrency}{'-stream' if args.stream else ''}"


def _out_path(sc: Scenario, args) -> Path:
    if args.profile_tool == "pyinstrument":
        ext = "html"
    else:
        ext = {"speedscope": "speedscope.json", "flamegraph": "svg", "raw": "txt"}[args.profile_format]
    return OUT / f"{_stem(sc, args)}.{ext}"


def _spy(pid: int, seconds: float, fmt: str, out: Path) -> subprocess.Popen:
    """py-spy attached to the running proxy (so startup and imports stay out of the profile)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [
        spy,
        "record",
        "--pid",
        str(pid),
        "--rate",
        "250",
        "--duration",
        str(round(seconds)),
        "--format",
        fmt,
        "-o",
        str(out),
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run(sc: Scenario, args) -> int:
    OUT.mkdir(exist_ok=True)
    out = _out_path(sc, args)
    pyinstrument = args.profile_tool == "pyinstrument"
    prefix = [sys.executable, "-m", "pyinstrument", "-r", "html", "-o", str(out), "-m", "cliproxy"]
    with Procs(profile=prefix if pyinstrument else None, python_m=not pyinstrument) as p:
        req = sc.proxy_request(args.stream)
        spec = {
            "url": p.proxy.url + req.path,
            "headers": req.headers,
            "body": req.body.decode(),
            "concurrency": args.concurrency,
            "duration": 2.0,
            "stream": args.stream,
            "min_events": 20,
        }
        load.run(spec, not args.no_wrk)  # warm-up, not profiled
        spy = None if pyinstrument else _spy(p.proxy.pid, args.seconds, args.profile_format, out)
        time.sleep(0.5)
        result = load.run({**spec, "duration": args.seconds}, not args.no_wrk)
        if spy is not None:
            _, err = spy.communicate(timeout=args.seconds + 60)
            if spy.returncode:
                print(f"py-spy failed: {err.decode(errors='replace')[-1000:]}", file=sys.stderr)
    print(
        f"{sc.name} c={args.concurrency}{' stream' if args.stream else ''}: {result['rps']:.0f} req/s, "
        f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms (while sampled)"
    )
    print(f"profile written to {out}")
    if out.exists() and out.suffix in (".json", ".txt"):
        print(summarize(out))
    return 0


# -- aggregation


def stacks(path: Path) -> Counter[tuple[str, ...]]:
    """Sample counts per stack (root first) from py-spy raw or speedscope output."""
    counts: Counter[tuple[str, ...]] = Counter()
    if path.suffix == ".txt":
        for line in path.read_text().splitlines():
            frames, _, n = line.rpartition(" ")
            if frames:
                counts[tuple(frames.split(";"))] += int(n)
        return counts
    doc = json.loads(path.read_text())
    names = [_frame_name(f) for f in doc["shared"]["frames"]]
    for prof in doc["profiles"]:
        for sample, weight in zip(prof["samples"], prof["weights"], strict=True):
            counts[tuple(names[i] for i in sample)] += weight
    return counts


def _frame_name(frame: dict) -> str:
    file = frame.get("file", "")
    short = "/".join(Path(file).parts[-2:]) if file else "?"
    return f"{frame['name']} ({short}:{frame.get('line', 0)})"


def summarize(path: Path, top: int = TOP) -> str:
    counts = stacks(path)
    total = sum(counts.values()) or 1
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for stack, n in counts.items():
        if stack:
            own[_strip_line(stack[-1])] += n
        for name in {_strip_line(f) for f in stack}:
            incl[name] += n
    unit = "s sampled" if path.suffix == ".json" else "samples"
    lines = [f"{total:.0f} {unit} (active time only). Top {top} by own time:"]
    lines += [f"  {n / total * 100:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append(f"Top {top} by total time (function and what it calls; event-loop roots left out):")
    below = [(name, n) for name, n in incl.most_common() if n < 0.95 * total]
    lines += [f"  {n / total * 100:5.1f}%  {name}" for name, n in below[:top]]
    return "\n".join(lines)


def _strip_line(frame: str) -> str:
    """``name (file.py:123)`` -> ``name (file.py)``: one entry per function, not per line."""
    head, sep, tail = frame.rpartition(":")
    return f"{head})" if sep and tail.rstrip(")").isdigit() else frame
