"""What Claude Code's TLS hello costs: the impersonating client vs aiohttp, per request.

    python bench/impersonate_cost.py [--seconds 5] [--concurrency 1,16]

Starts a small HTTPS upstream (aiohttp, self-signed certificate, its own process) that
answers ``POST /v1/messages`` with a 300-byte JSON message, or a 20-event SSE stream with
``?stream=1``. Then, in this process, drives it with each client, both through the
``UpstreamClient`` protocol: ``HttpClient`` (aiohttp, the default) and
``ImpersonatingClient`` (curl_cffi, the Claude Code profile). For each client and
concurrency it prints requests/s and the CPU time this process spent per request
(``time.process_time``: curl's C work runs in this thread too). Connections are pooled
in both, so the TLS handshake is paid once per connection, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import orjson  # noqa: E402
from aiohttp import connector as aiohttp_connector  # noqa: E402
from aiohttp import web  # noqa: E402
from tests.fakes.tls import Cert, make_cert  # noqa: E402

from cliproxy.providers.http import HttpClient  # noqa: E402
from cliproxy.providers.impersonate import CLAUDE_CODE, ImpersonatingClient  # noqa: E402

MESSAGE = orjson.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "x" * 120}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }
)
EVENT = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}\n\n'
REQUEST = orjson.dumps(
    {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
)
HEADERS = {"Content-Type": "application/json", "x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}


async def _messages(request: web.Request) -> web.StreamResponse:
    await request.read()
    if "stream" not in request.query:
        return web.Response(body=MESSAGE, content_type="application/json")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for _ in range(20):
        await resp.write(EVENT)
    await resp.write_eof()
    return resp


def _serve(cert: Cert, port_q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", _messages)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=cert.server_context(), backlog=1024)
        await site.start()
        port_q.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def _drive(client: object, url: str, seconds: float, concurrency: int) -> tuple[int, float, float]:
    done = 0
    stop_at = 0.0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            resp = await client.request("POST", url, headers=HEADERS, body=REQUEST)  # type: ignore[attr-defined]
            async for _ in resp.chunks():
                pass
            resp.release()
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}")
            done += 1

    stop_at = time.perf_counter() + 0.5  # warm up: connections and TLS sessions
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    stop_at = wall0 + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - wall0, time.process_time() - cpu0


async def _run(port: int, cert: Cert, seconds: float, levels: list[int]) -> None:
    # aiohttp's verifying context is built at import: make it trust the fake's certificate
    aiohttp_connector._SSL_CONTEXT_VERIFIED.load_verify_locations(str(cert.cert))
    print(f"{'client':<14}{'body':<8}{'conc':>5}{'req/s':>10}{'CPU us/req':>12}")
    for kind in ("whole", "stream"):
        url = f"https://localhost:{port}/v1/messages" + ("?stream=1" if kind == "stream" else "")
        for name in ("aiohttp", "curl_cffi"):
            for conc in levels:
                client: HttpClient | ImpersonatingClient = (
                    HttpClient()
                    if name == "aiohttp"
                    else ImpersonatingClient(CLAUDE_CODE, verify=str(cert.cert))
                )
                try:
                    n, wall, cpu = await _drive(client, url, seconds, conc)
                finally:
                    await client.close()
                print(f"{name:<14}{kind:<8}{conc:>5}{n / wall:>10.0f}{cpu / n * 1e6:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        cert = make_cert(Path(tmp))
        port_q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        server = multiprocessing.Process(target=_serve, args=(cert, port_q), daemon=True)
        server.start()
        try:
            port = port_q.get(timeout=30)
            asyncio.run(_run(port, cert, args.seconds, levels))
        finally:
            server.terminate()
            server.join(5)


if __name__ == "__main__":
    main()
