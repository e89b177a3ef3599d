"""Endpoints of the plugin group: ``/plugins``, ``/plugins/{id}/config``, ``/plugins/{id}/enabled``,
``DELETE /plugins/{id}``."""

from __future__ import annotations

from cliproxy.errors import ConfigError
from cliproxy.management.plugins import AdminError, PluginAdmin
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body

__all__ = ["ROUTES"]


async def _run(req: Req, fn: str, *args: object) -> Resp:
    admin = PluginAdmin(req.service)
    try:
        result = getattr(admin, fn)(*args)
        if hasattr(result, "__await__"):
            result = await result
    except AdminError as exc:
        raise ApiError(exc.status, exc.message) from exc
    except ConfigError as exc:
        raise ApiError(400, exc.message) from exc
    return Resp(200, result)


async def list_plugins(req: Req) -> Resp:
    return await _run(req, "listing")


async def get_config(req: Req) -> Resp:
    return await _run(req, "config_of", req.params["id"])


async def put_config(req: Req) -> Resp:
    return await _run(req, "put_config", req.params["id"], json_body(req))


async def patch_config(req: Req) -> Resp:
    return await _run(req, "patch_config", req.params["id"], json_body(req))


async def set_enabled(req: Req) -> Resp:
    return await _run(req, "set_enabled", req.params["id"], json_body(req))


async def delete_plugin(req: Req) -> Resp:
    return await _run(req, "delete", req.params["id"])


ROUTES = [
    Route("GET", "/plugins", list_plugins),
    Route("GET", "/plugins/{id}/config", get_config),
    Route("PUT", "/plugins/{id}/config", put_config),
    Route("PATCH", "/plugins/{id}/config", patch_config),
    Route("PATCH", "/plugins/{id}/enabled", set_enabled),
    Route("PUT", "/plugins/{id}/enabled", set_enabled),
    Route("DELETE", "/plugins/{id}", delete_plugin),
]
