"""Header names reach plugins in Go's canonical form through a running proxy, on both
server engines, as CPA hands them (net/http canonicalizes what it reads; its HTTP client
what an upstream answers): a plugin that looks up ``Authorization`` or ``X-User`` (a Go
plugin's ``Header.Get``, a map lookup of the canonical key) finds a client's lower-case
``authorization`` / ``x-user``. Query names stay as the client sent them. An executor's
answer header merges with the proxy's whatever its case (one ``Content-Type``: on a whole
answer the proxy's JSON type, on a stream of the executor's own bytes the executor's)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests.plugins.plugin_dir import plugins_yaml, write_python
from tests.plugins.test_flow_python import HEADER

DOOR = (
    HEADER
    + """
class Door(Plugin, FrontendAuthProvider):
    name = "door"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    identifier = "door"; exclusive = True
    async def authenticate(self, req):
        # exact-key lookups, as a Go plugin's req.Header.Get does them
        if req.headers.get("Authorization") == ["Bearer let-me-in"] and req.headers.get("X-User"):
            return FrontendAuthResponse(authenticated=True, principal=req.headers["X-User"][0])
        return None
plugin = Door()
"""
)

ECHO = (
    HEADER
    + """
SEEN = []
CHAT = {"id": "c", "object": "chat.completion", "created": 1, "model": "echo-h",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}

class Echo(Plugin, ModelRouter, Executor):
    name = "echo"; version = "1"; author = "t"; github_repository = "https://example.com/e"
    identifier = "echo"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "echo-h" else None
    async def execute(self, req):
        upstream = await self.host.http.do("GET", __UPSTREAM__, {}, b"")
        SEEN.append({"headers": req.headers, "query": req.query, "upstream": upstream.headers})
        return ExecutorResponse(payload=json.dumps(CHAT).encode(),
                                headers={"content-type": ["application/json; charset=utf-8"]})
    async def execute_stream(self, req):
        async def chunks():
            c = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "echo-h",
                 "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}
            yield ("data: " + json.dumps(c) + "\\n\\n").encode()
            yield b"data: [DONE]\\n\\n"
        return ExecutorStream(chunks(), {"content-type": ["text/event-stream; charset=utf-8"]})
plugin = Echo()
"""
)


async def raw_post(
    base: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, list[tuple[str, str]], str]:
    """A POST written line by line (every header as given); (status, header lines, body)."""
    url = urlsplit(base)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(url.hostname, url.port), 5)
    lines = [f"POST {target} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers] + ["Connection: close", "", ""]
    writer.write("\r\n".join(lines).encode() + body)
    try:
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *fields = head.decode().split("\r\n")
    pairs = [(k.strip(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
    return int(status_line.split()[1]), pairs, rest.decode(errors="replace")


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    """An HTTP server answering with lower-case header names (as HTTP/2 peers send them)."""

    async def handle(_req: web.Request) -> web.Response:
        return web.Response(text="{}", headers={"x-upstream-thing": "1", "x-upstream-Thing": "2"})

    app = web.Application()
    app.router.add_get("/u", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/u"
    finally:
        await runner.cleanup()


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_plugins_see_canonical_header_names(start_proxy, tmp_path, upstream, engine):
    pdir = write_python(tmp_path, {"door": DOOR, "echo": ECHO.replace("__UPSTREAM__", repr(upstream))})
    proxy = await start_proxy(
        'api-keys: ["sk-unused"]\n' + plugins_yaml(pdir, {"door": {}, "echo": {}}), engine=engine
    )
    headers = [  # each line as given (aiohttp's client would fold the two X-A into one)
        ("authorization", "Bearer let-me-in"),
        ("x-user", "alice"),
        ("x-a", "1"),
        ("X-A", "2"),
        ("content-type", "application/json"),
    ]
    body = b'{"model": "echo-h", "messages": [{"role": "user", "content": "hi"}]}'
    status, got, text = await raw_post(proxy.url, "/v1/chat/completions?Key=v&key=w", headers, body)
    types = [v for k, v in got if k.lower() == "content-type"]
    assert status == 200, text
    assert types == ["application/json"]  # the proxy's, once: not a second, lower-case one

    echo = next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_echo")).SEEN
    seen = echo[-1]
    sent = seen["headers"]
    assert sent["Authorization"] == ["Bearer let-me-in"] and sent["X-User"] == ["alice"]
    assert sent["X-A"] == ["1", "2"]
    assert not [k for k in sent if k != k.title() and k.lower() in ("x-a", "x-user", "authorization")]
    assert seen["query"] == {"Key": ["v"], "key": ["w"]}
    assert seen["upstream"]["X-Upstream-Thing"] == ["1", "2"]  # host.http.do's answer, canonical


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_streaming_executors_content_type_replaces_the_proxys(
    start_proxy, tmp_path, upstream, engine
):
    pdir = write_python(tmp_path, {"echo": ECHO.replace("__UPSTREAM__", repr(upstream))})
    proxy = await start_proxy('api-keys: ["sk-k"]\n' + plugins_yaml(pdir, {"echo": {}}), engine=engine)
    body = b'{"model": "echo-h", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.url}/v1/chat/completions",
            data=body,
            headers={"authorization": "Bearer sk-k", "content-type": "application/json"},
        ) as resp,
    ):
        text = await resp.text()
        types = [v for k, v in resp.raw_headers if k.lower() == b"content-type"]
    assert resp.status == 200 and "[DONE]" in text, text
    assert types == [b"text/event-stream; charset=utf-8"]


PEEK = (
    HEADER
    + """
SEEN = []
class Peek(Plugin, ResponseInterceptor):
    name = "peek"; version = "1"; author = "t"; github_repository = "https://example.com/p"
    async def intercept_response(self, req):
        SEEN.append(req.response_headers)
        return ResponseInterceptResult(headers={"x-upstream-id": ["by-plugin"]})
plugin = Peek()
"""
)


@pytest.fixture
async def lower_upstream() -> AsyncIterator[str]:
    """A Chat Completions upstream naming its headers in lower case (as many servers do)."""

    async def handle(_req: web.Request) -> web.Response:
        body = {
            "id": "c", "object": "chat.completion", "created": 1, "model": "m1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        }  # fmt: skip
        resp = web.json_response(body, headers={"x-upstream-id": "u1"})
        resp.headers.popall("Content-Type")
        resp.headers["content-type"] = "application/json"
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def test_a_response_interceptor_sees_one_content_type_and_replaces_a_lower_case_header(
    start_proxy, tmp_path, lower_upstream
):
    """The upstream's ``content-type`` and the proxy's ``Content-Type`` reach the plugin as
    one ``Content-Type`` (the proxy's), not one key holding both; the plugin's
    ``x-upstream-id`` replaces the upstream's."""
    pdir = write_python(tmp_path, {"peek": PEEK})
    compat = (
        f'openai-compatibility:\n  - name: up\n    base-url: "{lower_upstream}"\n'
        '    api-key-entries:\n      - api-key: "sk-up"\n    models:\n      - name: "m1"\n        alias: "m1"\n'
    )
    proxy = await start_proxy('api-keys: ["sk-k"]\n' + compat + plugins_yaml(pdir, {"peek": {}}))
    body = b'{"model": "m1", "messages": [{"role": "user", "content": "hi"}]}'
    status, got, text = await raw_post(
        proxy.url,
        "/v1/chat/completions",
        [("authorization", "Bearer sk-k"), ("content-type", "application/json")],
        body,
    )
    assert status == 200, text
    seen = next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_peek")).SEEN[-1]
    assert len(seen["Content-Type"]) == 1 and seen["X-Upstream-Id"] == ["u1"]
    assert not [k for k in seen if k.lower() in ("content-type", "x-upstream-id") and k != k.title()]
    assert [v for k, v in got if k.lower() == "x-upstream-id"] == ["by-plugin"]
    assert len([v for k, v in got if k.lower() == "content-type"]) == 1
