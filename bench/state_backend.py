"""One worker on the memory state backend against one on Redis (issue 18: <= 10% fewer req/s).

    python bench/state_backend.py [--seconds 5] [--rounds 2] [--concurrency 64] [--no-wrk]

Starts the fake upstream, a Redis (no persistence) and two proxies, ``state: memory`` and
``state: {backend: redis}``, and drives non-stream passthrough OpenAI at them in
alternating rounds (so the machine's drift hits both); prints the best req/s of each and
their ratio. Writes bench/out/state_backend.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from procs import OUT, Proc, start_fake, start_proxy
from run import spec
from scenarios import SCENARIOS
from workers import start_redis

BENCH = Path(__file__).resolve().parent


def _proxy(fake_url: str, name: str, state: str) -> Proc:
    return start_proxy(fake_url, f"state-{name}", f"usage-ledger: {{enabled: false}}\n{state}")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-wrk", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    sc = SCENARIOS[0]  # passthrough OpenAI: the cheapest request, so state costs show most
    procs: list[Proc] = []
    redis, url = start_redis()
    try:
        fake = start_fake()
        procs.append(fake)
        memory = _proxy(fake.url, "memory", "")
        procs.append(memory)
        shared = _proxy(fake.url, "redis", f"state: {{backend: redis, url: '{url}', prefix: 'bench:'}}\n")
        procs.append(shared)
        timing = {"concurrency": args.concurrency, "duration": args.seconds, "warmup": 1.0}
        best = {"memory": 0.0, "redis": 0.0}
        for r in range(args.rounds):
            for name, proc in (("memory", memory), ("redis", shared)):
                got = load.run(spec(proc.url, sc.proxy_request(False), **timing), not args.no_wrk)
                best[name] = max(best[name], got["rps"])
                print(
                    f"round {r + 1} {name:6}  {got['rps']:8.0f} req/s  ({got.get('errors', 0)} errors)",
                    flush=True,
                )
        ratio = best["redis"] / best["memory"] if best["memory"] else 0.0
        lines = [
            f"# state backend bench ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)",
            "",
            f"command: python bench/state_backend.py {' '.join(sys.argv[1:])}",
            "",
            "| measurement | value | target |",
            "|---|---|---|",
            f"| memory, c={args.concurrency}, best req/s | {best['memory']:.0f} | |",
            f"| redis, c={args.concurrency}, best req/s | {best['redis']:.0f} | |",
            f"| ratio redis / memory | {ratio:.2f} | >= 0.90 |",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        (OUT / "state_backend.md").write_text(text)
    finally:
        for proc in procs:
            proc.stop()
        redis.kill()
        redis.wait(timeout=10)


if __name__ == "__main__":
    main()
