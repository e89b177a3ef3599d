"""``/v0/management`` and plugin resources: HTTP only; the rules live in
``cliproxy.management`` and ``cliproxy.plugins.surface``."""

from __future__ import annotations

import orjson
from aiohttp import web

from cliproxy.management.api import Req, dispatch
from cliproxy.management.ops_build import build_headers
from cliproxy.plugins.surface import handle_management
from cliproxy.server.context import SERVICE

__all__ = ["management_handler", "resource_handler"]


def _json(status: int, data: object) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(data), content_type="application/json", headers=build_headers()
    )


async def management_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    gate = service.management
    if not gate.enabled(service.config):
        raise web.HTTPNotFound()
    denied = await gate.check(service.config, request.remote, request.headers)
    if denied is not None:
        return _json(denied.status, {"error": denied.message})
    native = await _native(request)
    if native is not None:
        return native
    rec = service.plugin_routes.routes.get((request.method, request.path))
    if rec is not None:
        reply = await handle_management(
            service.plugins,
            rec,
            method=request.method,
            path=request.path,
            headers=request.headers,
            query=request.query,
            body=await request.read(),
        )
        return web.Response(
            status=reply.status, body=reply.body, headers={**reply.headers, **build_headers()}
        )
    return _json(
        501,
        {"error": f"management endpoint {request.method} {request.path} is not implemented in cliproxy yet"},
    )


async def resource_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    plugin_id = request.match_info["plugin_id"]
    path = "/" + request.match_info["tail"]
    rec = service.plugin_routes.resources.get((plugin_id, path))
    if rec is None or service.plugins.get(plugin_id) is None:
        raise web.HTTPNotFound()
    reply = await handle_management(
        service.plugins, rec, method="GET", path=path, headers=request.headers, query=request.query, body=b""
    )
    return web.Response(status=reply.status, body=reply.body, headers=reply.headers)


async def _native(request: web.Request) -> web.Response | None:
    """A built native management endpoint's answer, or ``None``."""
    req = Req(
        request.app[SERVICE],
        request.method,
        request.path,
        {},
        request.query,
        request.headers,
        await request.read(),
        request.remote or "",
    )
    resp = await dispatch(req)
    if resp is None:
        return None
    headers = {"Content-Type": "application/json", **resp.headers, **build_headers()}
    return web.Response(status=resp.status, body=resp.body(), headers=headers)
