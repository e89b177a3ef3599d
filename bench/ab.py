"""Interleaved A/B of proxy variants: what a change costs a request, measured side by side.

    python bench/ab.py NAME=REV[+YAML] NAME=REV[+YAML] ... [--scenario "passthrough OpenAI"]
                       [--concurrency 16] [--rounds 6] [--seconds 5] [--warmup 1]

Each variant is a cliproxy at git revision ``REV`` (checked out into a temporary worktree
whose ``src/`` the proxy imports first), ``.`` (the working tree as it is) or a folder holding
a ``cliproxy`` package (imported first as it is: a compiled build, say), with ``YAML``
appended to the bench config when given, e.g.::

    python bench/ab.py base=HEAD same=HEAD new=. 'off=.+usage-ledger: {enabled: false}'

All variants run at once against one fake upstream; each round drives every one of them
in turn with the same non-stream load (wrk when installed, else bench/load.py), the order
rotated from round to round, so the machine's drift hits all of them alike. Per variant it
prints the medians over the rounds: req/s, CPU per request of the whole process, of its
main thread (the event loop: what bounds one worker's req/s) and of its other threads (the
usage ledger's writer, the config watcher), of its child processes (a writer process, a
plugin's: their CPU is the proxy's cost too, and ``us/req`` includes it), and p50 and p99
latency.
CPU is read per thread from ``/proc/PID/task``, and per live descendant process from its
``/proc/PID/stat``, around the measured part of each round (the warm-up is not counted; a
child that exits within a round takes its CPU with it).

Why this and not two ``run.py`` runs: on a shared 2-core machine one run's req/s ratio
against the floor moved from x1.83 to x2.19 between runs of the same code. Interleaved,
three variants of one code (``a=. b=. c=HEAD``, six rounds of 5 s) read 67.6, 67.7 and
67.1 us of main-thread CPU a request on a quiet machine; on a busier one, later, two of
them read 72.6 and 70.6. So run the baseline twice (``base=HEAD same=HEAD new=.``): the
two baselines' gap is that run's noise, and a difference smaller than it is not one.
Short runs are not enough: two rounds of 2 s put two variants of one code 6 us apart.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from procs import MAIN, ROOT, Proc, _stat, _thread_cpu, descendants, start_fake, start_proxy, thread_seconds
from run import spec
from scenarios import SCENARIOS


@dataclass
class Variant:
    """One proxy under test: a name, a git revision ("." for the working tree), extra YAML."""

    name: str
    rev: str
    extra: str = ""
    rounds: list[dict[str, float]] = field(default_factory=list)


def parse_variant(text: str) -> Variant:
    """``NAME=REV`` or ``NAME=REV+YAML`` (the first ``+`` ends the revision)."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise ValueError(f"{text!r}: expected NAME=REV or NAME=REV+YAML")
    rev, plus, extra = rest.partition("+")
    if not rev:
        raise ValueError(f"{text!r}: no revision (use . for the working tree)")
    return Variant(name, rev, (extra + "\n") if plus and extra else "")


CHILD = "child:"  # cpu_of's name prefix for a descendant process (all its threads)


def cpu_of(pid: int) -> dict[str, float]:
    """:func:`procs.thread_seconds` of ``pid`` and, as ``child:PID``, the CPU seconds of
    each live process under it (all of its threads together)."""
    out = thread_seconds(pid)
    for child in descendants(pid):
        if (fields := _stat(child)) is not None:
            out[f"{CHILD}{child}"] = _thread_cpu(fields)
    return out


def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Microseconds of CPU a request: ``main``, ``others`` (every other thread, including
    those that started or ended in between), ``children`` (the descendant processes, one
    started in between counted whole) and ``total`` (all three)."""
    if requests <= 0:
        raise ValueError("no request was answered")
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    main = spent.get(MAIN, 0.0)
    children = sum(v for name, v in spent.items() if name.startswith(CHILD))
    others = sum(v for name, v in spent.items() if name != MAIN and not name.startswith(CHILD))
    return {
        "main": main / requests * 1e6,
        "others": others / requests * 1e6,
        "children": children / requests * 1e6,
        "total": (main + others + children) / requests * 1e6,
    }


def summary(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds."""
    if not rounds:
        return {}
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def rotated(items: Sequence[Variant], round_no: int) -> list[Variant]:
    """The running order of a round: the list turned by one more place each round."""
    k = round_no % len(items)
    return [*items[k:], *items[:k]]


def table(variants: Sequence[Variant]) -> str:
    head = f"{'variant':<12} {'req/s':>8} {'us/req':>8} {'main':>8} {'others':>8} {'children':>8} {'p50 ms':>8} {'p99 ms':>8}"
    lines = [head]
    for v in variants:
        s = summary(v.rounds)
        lines.append(
            f"{v.name:<12} {s['rps']:>8.0f} {s['total']:>8.1f} {s['main']:>8.1f} {s['others']:>8.1f} "
            f"{s['children']:>8.1f} {s['p50']:>8.3f} {s['p99']:>8.3f}"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def checkouts(variants: Sequence[Variant]) -> Iterator[dict[str, str]]:
    """A temporary worktree for each revision other than ".": revision -> its ``src``."""
    made: list[Path] = []
    paths: dict[str, str] = {}
    try:
        for rev in dict.fromkeys(v.rev for v in variants if v.rev != "."):
            if Path(rev, "cliproxy").is_dir():  # a src folder as it is (a build of it, say)
                paths[rev] = str(Path(rev).resolve())
                continue
            where = Path(tempfile.mkdtemp(prefix="cliproxy-ab-"))
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(where), rev], check=True
            )
            made.append(where)
            paths[rev] = str(where / "src")
        yield paths
    finally:
        for where in made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", metavar="NAME=REV[+YAML]")
    parser.add_argument("--scenario", default="passthrough OpenAI")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        variants = [parse_variant(v) for v in args.variants]
    except ValueError as exc:
        parser.error(str(exc))
    if len({v.name for v in variants}) != len(variants):
        parser.error("variant names must differ")

    scenarios = {s.name: s for s in SCENARIOS}
    if args.scenario not in scenarios:
        parser.error(f"--scenario: one of {', '.join(scenarios)}")
    req = scenarios[args.scenario].proxy_request(False)
    use_wrk = load.wrk_path() is not None
    with checkouts(variants) as paths:
        fake = start_fake()
        procs: dict[str, Proc] = {}
        try:
            for v in variants:  # a revision's proxy imports its checkout's src first
                env = {"PYTHONPATH": paths[v.rev]} if v.rev != "." else None
                procs[v.name] = start_proxy(fake.url, f"ab-{v.name}", v.extra, env=env)[0]
            for round_no in range(args.rounds):
                for v in rotated(variants, round_no):
                    proc = procs[v.name]
                    load.run(
                        spec(proc.url, req, concurrency=args.concurrency, duration=args.warmup, warmup=0),
                        use_wrk,
                    )
                    before = cpu_of(proc.pid)
                    got = load.run(
                        spec(proc.url, req, concurrency=args.concurrency, duration=args.seconds, warmup=0),
                        use_wrk,
                    )
                    cpu = per_request(before, cpu_of(proc.pid), int(got["requests"]))
                    v.rounds.append({"rps": got["rps"], "p50": got["p50"], "p99": got["p99"], **cpu})
                    errors = f", {got['errors']} errors" if got.get("errors") else ""
                    print(
                        f"round {round_no + 1} {v.name}: {got['rps']:.0f} req/s, {cpu['total']:.1f} us/req "
                        f"(main {cpu['main']:.1f}){errors}",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            for proc in procs.values():
                proc.stop()
            fake.stop()
    print(f"{args.scenario}, c={args.concurrency}, {args.rounds} rounds of {args.seconds:g} s, medians:")
    print(table(variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
