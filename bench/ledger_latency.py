"""What the usage ledger's writer thread does to the event loop's latency.

    python bench/ledger_latency.py [--rate 4500] [--seconds 8] [--rounds 3]

An event loop (uvloop) reads timestamped pings a second process sends over a socket pair
at ``--rate`` a second, adds one ledger row per ping (as ``Recorder.finished`` does per
request) and records how late each ping is read. Once with no writer running (rows gather
in memory) and once with the real SQLite writer thread, in turns, ``--rounds`` times: the
difference in the late tail (p99, p99.9) is what the writer's hold on the GIL costs a
request. At c=1 through the proxy this showed as the added p99 (0.35 ms ledger off, 0.97 ms
on, before the writer yielded between statements: see ``ROWS_PER_STATEMENT`` in
``cliproxy.usage.ledger_store``).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import SqliteStore

SENDER = r"""
import socket, struct, sys, time
s = socket.socket(fileno=int(sys.argv[1]))
rate, secs = int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + secs
due = time.monotonic()
while due < end:
    while time.monotonic() < due:
        pass
    s.send(struct.pack("d", time.monotonic()))
    due += 1.0 / rate
"""


def _row(i: int) -> tuple[object, ...]:
    return (  # ledger.ROW_COLUMNS: no uid (the writer gives it)
        time.time(), f"req-{i}", "k1", "sk-...abcd", "a1b2c3", "acct@example.com", "openai",
        "/v1/chat/completions", "gpt-4o", "gpt-4o-mini", 200, 0, 0, 12, 34, 0, 0, 0, 46, 3, 0, 1, "",
    )  # fmt: skip


class _Reader(asyncio.Protocol):
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.late: list[float] = []
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buf += data
        while len(self.buf) >= 8:
            (sent,) = struct.unpack("d", self.buf[:8])
            self.buf = self.buf[8:]
            self.late.append(now - sent)
            self.ledger.add(_row(len(self.late)))


async def _round(writer: bool, rate: int, seconds: float) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="ledger-latency-"))
    ledger = Ledger(SqliteStore(folder / "usage.sqlite"))
    if writer:
        ledger.start()
    ours, theirs = socket.socketpair()
    sender = subprocess.Popen(
        [sys.executable, "-c", SENDER, str(theirs.fileno()), str(rate), str(seconds)],
        pass_fds=[theirs.fileno()],
    )
    theirs.close()
    loop = asyncio.get_running_loop()
    transport, reader = await loop.create_connection(lambda: _Reader(ledger), sock=ours)
    try:
        await asyncio.to_thread(sender.wait)
        await asyncio.sleep(0.1)
    finally:
        transport.close()
        if writer:
            ledger.flush()
            ledger.close()
    return sorted(reader.late[rate:])  # the first second: warm-up


def _q(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1e3


async def _main(args: argparse.Namespace) -> None:
    got: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for r in range(args.rounds):
        for writer in (False, True):
            late = await _round(writer, args.rate, args.seconds)
            got[writer].append((_q(late, 0.5), _q(late, 0.99), _q(late, 0.999)))
            print(f"round {r + 1} writer {'on ' if writer else 'off'}: late ms p50 / p99 / p99.9 "
                  + " / ".join(f"{v:.3f}" for v in got[writer][-1]), flush=True)  # fmt: skip
    for writer, rows in got.items():
        medians = [statistics.median(row[i] for row in rows) for i in range(3)]
        print(f"median writer {'on ' if writer else 'off'}: " + " / ".join(f"{v:.3f}" for v in medians))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=4500, help="rows (pings) a second")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    uvloop.install()
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
