"""``/v0/management`` and plugin resources: HTTP only; the rules live in
``cliproxy.management`` and ``cliproxy.plugins.surface``."""

from __future__ import annotations

import orjson
from aiohttp import web

from cliproxy.errors import ConfigError
from cliproxy.management.plugins import AdminError, PluginAdmin
from cliproxy.plugins.surface import handle_management
from cliproxy.server.context import SERVICE

__all__ = ["management_handler", "resource_handler"]


def _json(status: int, data: object) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def management_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    gate = service.management
    if not gate.enabled(service.config):
        raise web.HTTPNotFound()
    denied = gate.check(service.config, request.remote, request.headers)
    if denied is not None:
        return _json(denied.status, {"error": denied.message})
    native = await _native(request)
    if native is not None:
        return native
    rec = service.plugin_routes.routes.get((request.method, request.path))
    if rec is not None:
        reply = await handle_management(service.plugins, rec, method=request.method, path=request.path,
                                        headers=request.headers, query=request.query, body=await request.read())
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    return _json(501, {"error": f"management endpoint {request.method} {request.path} is not implemented "
                                "in cliproxy yet"})


async def resource_handler(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    plugin_id = request.match_info["plugin_id"]
    path = "/" + request.match_info["tail"]
    rec = service.plugin_routes.resources.get((plugin_id, path))
    if rec is None or service.plugins.get(plugin_id) is None:
        raise web.HTTPNotFound()
    reply = await handle_management(service.plugins, rec, method="GET", path=path, headers=request.headers,
                                    query=request.query, body=b"")
    return web.Response(status=reply.status, body=reply.body, headers=reply.headers)


async def _body(request: web.Request) -> object:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, f"invalid JSON body: {exc}") from exc


async def _native(request: web.Request) -> web.Response | None:
    """CPA's native management endpoints that are built (the plugin group)."""
    admin = PluginAdmin(request.app[SERVICE])
    parts = request.path.removeprefix("/v0/management/").strip("/").split("/")
    method = request.method
    try:
        if parts == ["plugins"] and method == "GET":
            return _json(200, admin.listing())
        if len(parts) == 3 and parts[0] == "plugins" and parts[2] == "config":
            if method == "GET":
                return _json(200, admin.config_of(parts[1]))
            if method == "PUT":
                return _json(200, await admin.put_config(parts[1], await _body(request)))
            if method == "PATCH":
                return _json(200, await admin.patch_config(parts[1], await _body(request)))
        if len(parts) == 3 and parts[0] == "plugins" and parts[2] == "enabled" and method in ("PATCH", "PUT"):
            return _json(200, await admin.set_enabled(parts[1], await _body(request)))
        if len(parts) == 2 and parts[0] == "plugins" and method == "DELETE":
            return _json(200, await admin.delete(parts[1]))
    except AdminError as exc:
        return _json(exc.status, {"error": exc.message})
    except ConfigError as exc:
        return _json(400, {"error": exc.message})
    return None
