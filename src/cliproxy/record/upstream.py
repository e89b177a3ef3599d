"""The recorded upstream: an aiohttp server that answers each upstream request from a
recording.

A request is matched to a recorded exchange of the current recording by method, path and
the digest of its (scrubbed) body; failing that by method and path; failing that by order.
Streams are written back chunk by chunk, ``pace`` times their recorded gaps apart
(0: no waiting). What did not match, and what was recorded but never asked for, is kept
for the replay's report.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
from aiohttp import web

from cliproxy.record.diff import Difference, diff_json, parse_body

__all__ = ["Exchange", "RecordedUpstream", "digest"]

# headers the server sets itself (or that no longer describe the body it sends)
_DROP = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "connection", "date", "server", "keep-alive"}
)


def digest(method: str, path: str, body: Any) -> str:
    raw = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if not isinstance(body, str) else body.encode()
    return hashlib.sha256(method.upper().encode() + b" " + unquote(path).encode() + b"\n" + raw).hexdigest()


@dataclass(slots=True)
class Exchange:
    index: int
    method: str
    path: str
    body: Any
    response: Mapping[str, Any]
    digest: str = ""
    used: bool = False

    @classmethod
    def of(cls, index: int, recorded: Mapping[str, Any]) -> Exchange:
        req = recorded.get("request") or {}
        method = str(req.get("method") or "POST").upper()
        path = unquote(urlsplit(str(req.get("url") or "")).path)
        body = req.get("body")
        return cls(index, method, path, body, recorded.get("response") or {}, digest(method, path, body))


@dataclass(slots=True)
class RecordedUpstream:
    pace: float = 0.0
    port: int = 0
    exchanges: list[Exchange] = field(default_factory=list)
    problems: list[Difference] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    url: str = ""

    def load(self, upstream: list[Mapping[str, Any]]) -> None:
        """Answer from these exchanges (one recording's ``upstream`` list) from now on."""
        self.exchanges = [Exchange.of(i, ex) for i, ex in enumerate(upstream) if ex.get("response")]
        self.problems = []

    def leftovers(self) -> list[Difference]:
        """Recorded upstream calls the replay never made."""
        return [
            Difference(f"upstream[{ex.index}]", f"{ex.method} {ex.path}", "no such call")
            for ex in self.exchanges
            if not ex.used
        ]

    async def start(self, host: str = "127.0.0.1") -> str:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _pick(self, method: str, path: str, body: Any) -> Exchange | None:
        key = digest(method, path, body)
        free = [ex for ex in self.exchanges if not ex.used]
        for test in (
            lambda ex: ex.digest == key,
            lambda ex: ex.method == method and ex.path == path,
            lambda ex: True,
        ):
            for ex in free:
                if test(ex):
                    return ex
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method.upper(), unquote(request.rel_url.raw_path)
        body = parse_body(await request.read())
        ex = self._pick(method, path, body)
        if ex is None:
            self.problems.append(Difference("upstream", "no further call", f"{method} {path}"))
            return web.json_response(
                {"error": {"message": f"replay: no recorded answer for {method} {path}"}}, status=501
            )
        ex.used = True
        where = f"upstream[{ex.index}].request"
        if (ex.method, ex.path) != (method, path):
            self.problems.append(Difference(where, f"{ex.method} {ex.path}", f"{method} {path}"))
        self.problems += diff_json(ex.body, body, f"{where}.body")
        return await self._answer(request, ex.response)

    async def _answer(self, request: web.Request, recorded: Mapping[str, Any]) -> web.StreamResponse:
        status = int(recorded.get("status") or 200)
        headers = {k: str(v) for k, v in (recorded.get("headers") or {}).items() if k.lower() not in _DROP}
        chunks = recorded.get("chunks")
        if chunks is None:
            body = recorded.get("body")
            data = b"" if body is None else body.encode() if isinstance(body, str) else orjson.dumps(body)
            return web.Response(status=status, body=data, headers=headers)
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        for chunk in chunks:
            gap = float(chunk.get("gap_ms") or 0) / 1000 * self.pace
            if gap > 0:
                await asyncio.sleep(gap)
            await resp.write(str(chunk.get("data", "")).encode())
        await resp.write_eof()
        return resp
