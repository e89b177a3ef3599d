"""The Responses WebSocket scenario: events per second and the proxy's added latency per
event, over the WebSocket and over SSE, against one fake Codex upstream.

    python bench/ws.py --quick          # ~1 minute: 5 s per run
    python bench/ws.py                  # 15 s per run
    python bench/ws.py --serve-upstream --port N   # (internal) the fake upstream process

Three processes: the fake Codex upstream (this file, ``--serve-upstream``: ``POST
/backend-api/codex/responses`` streams SSE, ``GET`` the same path is its WebSocket; each
turn is ``response.created``, ``--events`` text deltas, ``response.completed``), the real
proxy (``python -m cliproxy``) and the client (this process). Runs, each with
``--concurrency`` sockets/connections doing turns back to back:

- ``sse direct``: POST to the fake;        ``sse proxy``: POST /v1/responses (Codex over SSE)
- ``ws direct``: the fake's WebSocket;     ``ws proxy``: GET /v1/responses as a WebSocket,
  Codex over its WebSocket (``websockets: true``), one kept upstream socket per client socket
- ``ws proxy, sse upstream``: the client on the WebSocket, Codex over SSE

Per run: turns/s, events/s, mean time to the first event and to the last, and for the
proxied runs the added latency per turn and per event against the direct run of the
same transport. Results are printed and appended to ``bench/out/ws.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from procs import OUT, Proc, free_port  # noqa: E402

KEY = "sk-bench"
PATH = "/backend-api/codex/responses"


# ---------------------------------------------------------------- the fake upstream


def _events(model: str, n: int) -> list[bytes]:
    rid = "resp_bench"
    response = {"id": rid, "object": "response", "model": model, "status": "in_progress", "output": []}
    out = [orjson.dumps({"type": "response.created", "sequence_number": 0, "response": response})]
    for i in range(n):
        delta = {
            "type": "response.output_text.delta",
            "sequence_number": i + 1,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": f"tok{i} ",
        }
        out.append(orjson.dumps(delta))
    text = "".join(f"tok{i} " for i in range(n))
    item = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {"input_tokens": 10, "output_tokens": n, "total_tokens": 10 + n}
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    out.append(orjson.dumps({"type": "response.completed", "sequence_number": n + 1, "response": done}))
    return out


def serve_upstream(port: int, n: int) -> None:
    cache: dict[str, list[bytes]] = {}

    def events(model: str) -> list[bytes]:
        if model not in cache:
            cache[model] = _events(model, n)
        return cache[model]

    async def sse(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for data in events(body.get("model", "m")):
            kind = orjson.loads(data)["type"].encode()
            await resp.write(b"event: " + kind + b"\ndata: " + data + b"\n\n")
        await resp.write_eof()
        return resp

    async def ws(request: web.Request) -> web.StreamResponse:
        sock = web.WebSocketResponse(max_msg_size=0, compress=False)
        await sock.prepare(request)
        async for msg in sock:
            if msg.type is aiohttp.WSMsgType.TEXT:
                body = orjson.loads(msg.data)
                for data in events(body.get("model", "m")):
                    await sock.send_frame(data, aiohttp.WSMsgType.TEXT)
        return sock

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post(PATH, sse)
    app.router.add_get(PATH, ws)
    app.router.add_get("/", lambda r: web.Response(text="ok"))
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ---------------------------------------------------------------- the client


@dataclass
class Result:
    name: str
    turns: int
    events: int
    seconds: float
    first: list[float]
    last: list[float]

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


def _turn_body(model: str) -> dict[str, object]:
    """The same short conversation every turn. It holds an assistant message, so on a
    socket each turn replaces the transcript instead of growing it (CPA's rule), and every
    run measures the same request."""
    assistant = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    turns = [{"role": "user", "content": "bench"}, assistant, {"role": "user", "content": "again"}]
    return {"model": model, "input": turns, "stream": True}


async def _sse_worker(
    session: aiohttp.ClientSession, url: str, model: str, until: float, res: Result
) -> None:
    body = orjson.dumps(_turn_body(model))
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    while time.monotonic() < until:
        t0 = time.perf_counter()
        first = 0.0
        count = 0
        async with session.post(url, data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            buf = b""
            async for chunk in resp.content.iter_any():
                if not first:
                    first = time.perf_counter() - t0
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    if b"data: " in frame:
                        count += 1
        res.first.append(first)
        res.last.append(time.perf_counter() - t0)
        res.turns += 1
        res.events += count


async def _ws_worker(session: aiohttp.ClientSession, url: str, model: str, until: float, res: Result) -> None:
    message = json.dumps({"type": "response.create", **_turn_body(model)})
    async with session.ws_connect(url, headers={"Authorization": f"Bearer {KEY}"}, max_msg_size=0) as ws:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            first = 0.0
            count = 0
            await ws.send_str(message)
            while True:
                msg = await ws.receive(timeout=60)
                assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
                if not first:
                    first = time.perf_counter() - t0
                count += 1
                kind = orjson.loads(msg.data)["type"]
                if kind in ("response.completed", "response.failed", "error"):
                    assert kind == "response.completed", msg.data
                    break
            res.first.append(first)
            res.last.append(time.perf_counter() - t0)
            res.turns += 1
            res.events += count


async def run(name: str, kind: str, url: str, model: str, seconds: float, concurrency: int) -> Result:
    res = Result(name, 0, 0, 0.0, [], [])
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        worker = _sse_worker if kind == "sse" else _ws_worker
        warm_until = time.monotonic() + min(1.0, seconds / 5)  # connections, pools, caches
        await asyncio.gather(
            *(
                worker(session, url, model, warm_until, Result("", 0, 0, 0, [], []))
                for _ in range(concurrency)
            )
        )
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(worker(session, url, model, until, res) for _ in range(concurrency)))
        res.seconds = time.monotonic() - started
    return res


def proxy_config(fake: str, port: int, auth_dir: str) -> str:
    return f"""host: "127.0.0.1"
port: {port}
auth-dir: "{auth_dir}"
api-keys: ["{KEY}"]
request-log: false
usage-statistics-enabled: false
codex-api-key:
  - api-key: "sk-up-ws"
    base-url: "{fake}/backend-api/codex"
    websockets: true
    models: [{{name: "gpt-5.4", alias: "ws-model"}}]
  - api-key: "sk-up-sse"
    base-url: "{fake}/backend-api/codex"
    models: [{{name: "gpt-5.4", alias: "sse-model"}}]
"""


def _ms(values: list[float]) -> float:
    return statistics.fmean(values) * 1000 if values else float("nan")


async def bench(args: argparse.Namespace) -> str:
    OUT.mkdir(exist_ok=True)
    fake_port = free_port()
    fake = Proc(
        "ws-fake",
        [
            sys.executable,
            str(BENCH / "ws.py"),
            "--serve-upstream",
            "--port",
            str(fake_port),
            "--events",
            str(args.events),
        ],
        fake_port,
        OUT / "ws-fake.log",
    )
    proxy = None
    try:
        fake.wait_ready("/")
        port = free_port()
        (OUT / "auths-ws").mkdir(exist_ok=True)
        config = OUT / "ws-proxy-config.yaml"
        config.write_text(proxy_config(fake.url, port, str(OUT / "auths-ws")))
        proxy = Proc(
            "ws-proxy",
            [sys.executable, "-m", "cliproxy", "--config", str(config)],
            port,
            OUT / "ws-proxy.log",
        )
        proxy.wait_ready("/healthz")
        ws_fake = fake.url.replace("http://", "ws://") + PATH
        ws_proxy = proxy.url.replace("http://", "ws://") + "/v1/responses"
        runs = [
            ("sse direct", "sse", fake.url + PATH, "gpt-5.4"),
            ("sse proxy", "sse", proxy.url + "/v1/responses", "sse-model"),
            ("ws direct", "ws", ws_fake, "gpt-5.4"),
            ("ws proxy", "ws", ws_proxy, "ws-model"),
            ("ws proxy, sse upstream", "ws", ws_proxy, "sse-model"),
        ]
        results = {}
        for name, kind, url, model in runs:
            results[name] = await run(name, kind, url, model, args.seconds, args.concurrency)
            print(f"  {name}: {results[name].turns} turns", file=sys.stderr)
    finally:
        if proxy is not None:
            proxy.stop()
        fake.stop()
    base = {"sse proxy": "sse direct", "ws proxy": "ws direct", "ws proxy, sse upstream": "sse direct"}
    lines = [
        f"## Responses WebSocket: {args.events + 2} events per turn, {args.concurrency} concurrent, {args.seconds:g} s per run",
        "",
        "| run | turns/s | events/s | first event ms | whole turn ms | added per turn ms | added per event ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        added_turn = added_event = ""
        if name in base:
            ref = results[base[name]]
            delta = _ms(res.last) - _ms(ref.last)
            added_turn = f"{delta:.2f}"
            added_event = f"{delta / (args.events + 2):.3f}"
        lines.append(
            f"| {name} | {res.turns_per_s:.0f} | {res.events_per_s:.0f} | {_ms(res.first):.2f} | "
            f"{_ms(res.last):.2f} | {added_turn} | {added_event} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per run")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--events", type=int, default=50, help="text deltas per turn")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.port, args.events)
        return
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 15.0
    table = asyncio.run(bench(args))
    print(table)
    with (OUT / "ws.md").open("a") as f:
        f.write(f"\n<!-- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv)} -->\n{table}\n")


if __name__ == "__main__":
    main()
