"""The bare passthrough floor: the least a Python aiohttp proxy can do, in its own process.

    python bench/floor.py --upstream http[s]://127.0.0.1:PORT [--cafile CA.pem] [--port 0]

Every POST is forwarded to the same path and query on the upstream with one shared
``aiohttp.ClientSession``; non-stream answers are read whole and returned, streams are
copied chunk by chunk. No auth, no routing, no translation, no JSON parsing: the proxy
is reported as a ratio to this. Prints ``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import ssl
import sys

import aiohttp
from aiohttp import web
from ready import until_signal

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
FORWARD = ("content-type", "x-bench-chunks", "x-bench-delay-ms", "authorization", "x-api-key")


async def forward(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k in FORWARD if (v := request.headers.get(k))}
    session = request.app[SESSION]
    async with session.post(request.app[UPSTREAM] + request.path_qs, data=body, headers=headers) as up:
        ctype = up.headers.get("Content-Type", "application/json")
        if not ctype.startswith("text/event-stream"):
            return web.Response(status=up.status, body=await up.read(), headers={"Content-Type": ctype})
        resp = web.StreamResponse(status=up.status, headers={"Content-Type": ctype})
        await resp.prepare(request)
        async for chunk in up.content.iter_any():
            await resp.write(chunk)
        await resp.write_eof()
        return resp


def create_app(upstream: str, cafile: str | None = None) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    tls = ssl.create_default_context(cafile=cafile) if cafile else True

    async def session_ctx(app: web.Application):
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None, ssl=tls)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
            app[SESSION] = session
            yield

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{tail:.*}", forward)
    return app


async def run_until_signal(app: web.Application, host: str, port: int) -> None:
    """Serve ``app``, print ``READY <port>``, stop cleanly on SIGINT or SIGTERM."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    try:
        await until_signal(runner.addresses[0][1])
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--cafile", default=None, help="CA (PEM) that an https upstream's certificate chains to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    import uvloop

    uvloop.run(run_until_signal(create_app(args.upstream, args.cafile), args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())
