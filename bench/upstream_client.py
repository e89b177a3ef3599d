"""CPU per upstream request: aiohttp's client vs the protocol-level client (``fasthttp``).

    python bench/upstream_client.py [--requests 3000] [--concurrency 8] [--chunks 20] [--tls]

Starts ``bench/upstream.py`` (the benchmark's fake upstream) in its own process, so only
the client's work is measured here, then sends the same requests through
``HttpClient(upstream_http="aiohttp")`` and ``HttpClient(upstream_http="fast")``: whole
Chat Completions answers and SSE streams of ``--chunks`` events, read to the end.
Reports process CPU microseconds per request and requests per wall second, best of
``--rounds`` (after a warm-up round).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cliproxy.providers.http import HttpClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
STREAM = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
HEADERS = {"Authorization": "Bearer k", "Content-Type": "application/json"}


def start_upstream(chunks: int, tls: tuple[str, str] | None) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, str(HERE / "upstream.py"), "--port", "0", "--chunks", str(chunks)]
    if tls is not None:
        cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "READY":
        proc.kill()
        raise SystemExit("the fake upstream did not start")
    return proc, int(line[1])


async def one(http: HttpClient, url: str, stream: bool) -> None:
    resp = await http.request("POST", url, headers=HEADERS, body=STREAM if stream else BODY)
    try:
        if stream:
            async for _ in resp.chunks():
                pass
        else:
            await resp.read()
    finally:
        resp.release()


async def run(http: HttpClient, url: str, n: int, concurrency: int, stream: bool) -> tuple[float, float]:
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            await one(http, url, stream)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / n * 1e6, n / wall


async def main(args: argparse.Namespace, url: str) -> None:
    from cliproxy.providers.http import HttpClient  # after SSL_CERT_FILE is set: aiohttp reads it on import

    print(f"{'client':8} {'kind':7} {'cpu us/req':>11} {'req/s':>8}")
    for kind in ("aiohttp", "fast"):
        http = HttpClient(upstream_http=kind)
        try:
            for stream in (False, True):
                await run(http, url, max(200, args.requests // 10), args.concurrency, stream)  # warm-up
                best = min(
                    [
                        await run(http, url, args.requests, args.concurrency, stream)
                        for _ in range(args.rounds)
                    ]
                )
                print(f"{kind:8} {'stream' if stream else 'whole':7} {best[0]:11.1f} {best[1]:8.0f}")
        finally:
            await http.close()


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tls", action="store_true", help="HTTPS upstream (a throwaway certificate)")
    args = parser.parse_args()
    tls: tuple[str, str] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.tls:
            sys.path.insert(0, str(HERE.parent))
            from tests.fakes.tls import make_cert

            cert = make_cert(Path(tmp))
            tls = (str(cert.cert), str(cert.key))
            os.environ["SSL_CERT_FILE"] = tls[0]  # both clients trust it as they trust any CA
        proc, port = start_upstream(args.chunks, tls)
        scheme = "https" if tls else "http"
        host = "localhost" if tls else "127.0.0.1"
        try:
            asyncio.run(main(args, f"{scheme}://{host}:{port}/v1/chat/completions"))
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    cli()
