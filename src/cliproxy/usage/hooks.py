"""Where the server meets the recorder: find it, and open a trace for one request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cliproxy.usage.mask import mask_query
from cliproxy.usage.recorder import Recorder

if TYPE_CHECKING:
    from aiohttp import web

    from cliproxy.pipeline import Call
    from cliproxy.usage.trace import RequestTrace

__all__ = ["begin_trace", "recorder_of"]


def recorder_of(service: Any) -> Recorder:
    """The service's recorder, created on first use and kept in step with its config."""
    rec: Recorder | None = getattr(service, "recorder", None)
    if rec is None:
        rec = Recorder(service.config_path)
        rec.translations = service.pipeline.translations
        service.recorder = rec
    config = service.config
    if rec.config is not config:
        rec.sync(config, management=service.management.enabled(config))
    return rec


async def begin_trace(request: web.Request, call: Call) -> RequestTrace | None:
    """A trace for this generation request, or ``None`` when nothing records."""
    from cliproxy.server.context import PRINCIPAL_KEY, SERVICE

    rec = recorder_of(request.app[SERVICE])
    if not rec.active:
        return None
    principal = request.get(PRINCIPAL_KEY)
    query = mask_query(request.query_string)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    return rec.begin(
        method=request.method,
        url=request.path + ("?" + query if query else ""),
        headers=request.headers,
        body=await request.read(),
        endpoint=f"{request.method} {route}",
        fmt=call.format,
        alias=call.model,
        api_key=(principal.key or "") if principal is not None else "",
        client_ip=request.remote or "",
    )
