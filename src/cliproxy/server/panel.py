"""``GET /management.html``: HTTP only; the rules live in ``cliproxy.management.panel``."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiohttp import web

from cliproxy.access import forwarded_remote, is_loopback_ip
from cliproxy.management.panel import PanelUpdater, panel_path
from cliproxy.providers.http import proxy_key
from cliproxy.server.context import SERVICE
from cliproxy.server.safe_mode import warning

__all__ = ["PANEL", "add_panel_route", "panel_handler"]

PANEL: web.AppKey[PanelUpdater] = web.AppKey("panel", PanelUpdater)

_ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Control panel unavailable</title></head>
<body><h1>Control panel unavailable</h1>
<p>The control panel page (management.html) is not cached and could not be downloaded.</p>
<p>Reason: {reason}</p>
<p>Place a management.html from a release of {repository} at <code>{path}</code>,
or retry in a moment. The management API under /v0/management works without it.</p>
</body></html>"""


_REMOTE_ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Control panel unavailable</title></head>
<body><h1>Control panel unavailable</h1>
<p>The control panel page is not available right now. Open it on the proxy's own machine
to see why.</p>
</body></html>"""


def _on_this_machine(request: web.Request) -> bool:
    """A caller on loopback, not forwarded for another client by a reverse proxy."""
    return is_loopback_ip(request.remote) and forwarded_remote(request.headers) is None


def add_panel_route(
    app: web.Application, handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
) -> None:
    """Register ``GET /management.html`` and the updater it uses (closed on cleanup)."""
    app[PANEL] = PanelUpdater()

    async def close(app: web.Application) -> None:
        await app[PANEL].close()

    app.on_cleanup.append(close)
    app.router.add_get("/management.html", handler or panel_handler)


async def panel_handler(request: web.Request) -> web.StreamResponse:
    setup = warning(request)  # safe mode: the setup page, unless asked for the panel itself
    if setup is not None:
        return setup
    service = request.app[SERVICE]
    settings = service.config.remote_management
    target = panel_path(service.config_path)
    if settings.disable_control_panel or target is None:
        raise web.HTTPNotFound()
    updater = request.app[PANEL]
    proxy = proxy_key("", service.config.proxy_url)
    repository = settings.panel_github_repository
    if not target.is_file():
        if not await updater.ensure(target, service.http, proxy, repository):
            if not _on_this_machine(request):  # no file path or network error for the world to read
                return web.Response(status=503, text=_REMOTE_ERROR_PAGE, content_type="text/html")
            page = _ERROR_PAGE.format(
                reason=html.escape(updater.last_error or "a download was attempted less than 30 seconds ago"),
                repository=html.escape(repository),
                path=html.escape(str(target)),
            )
            return web.Response(status=503, text=page, content_type="text/html")
    elif not settings.disable_auto_update_panel and updater.refresh_due():
        updater.refresh_in_background(target, service.http, proxy, repository)
    return web.FileResponse(target, headers={"Cache-Control": "no-cache"})
