"""Safe mode's setup page (CPA ``internal/safemode``): while ``api-keys`` holds a template
key from CPA's example config, ``GET /`` and ``GET /management.html`` show a page naming the
keys to replace, with a link that opens the control panel anyway
(``/management.html?safe-mode=configure``). The proxy routes' 403 is
:func:`cliproxy.server.middleware.screen`'s."""

from __future__ import annotations

import html

from aiohttp import web

from cliproxy.server.context import SERVICE

__all__ = ["CONFIGURE_URL", "warning"]

CONFIGURE_URL = "/management.html?safe-mode=configure"

_HEAD = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Example API key detected</title><style>"
    "body{margin:0;font-family:Arial,sans-serif;background:#f6f8fa;color:#1f2328}"
    ".wrap{max-width:760px;margin:12vh auto;padding:0 24px}"
    ".panel{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:28px}"
    "code{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:2px 5px}"
    ".button{display:inline-block;border-radius:6px;background:#0969da;color:#fff;"
    "text-decoration:none;font-weight:600;padding:10px 16px}"
    '</style></head><body><main class="wrap"><section class="panel">'
    "<h1>Example API key detected</h1><p>Proxy API endpoints are disabled because the "
    "top-level <code>api-keys</code> configuration still contains template values.</p>"
)


def page(keys: list[str]) -> str:
    """The setup page: the template keys found (escaped) and the link to the panel."""
    items = "".join(f"<li><code>{html.escape(key)}</code></li>" for key in keys)
    listed = f"<p>Replace these values before using the proxy:</p><ul>{items}</ul>" if keys else ""
    return (
        _HEAD
        + listed
        + "<p>Set strong random API keys, then retry the proxy endpoint.</p>"
        + f'<p><a class="button" href="{html.escape(CONFIGURE_URL)}">Open Management</a></p>'
        + "</section></main></body></html>"
    )


def warning(request: web.Request) -> web.Response | None:
    """The setup page when safe mode is on and the request does not ask for the panel
    itself (``?safe-mode=configure``); ``None`` otherwise."""
    access = request.app[SERVICE].access
    if not access.safe_mode or request.query.get("safe-mode") == "configure":
        return None
    headers = {"Cache-Control": "no-store"}
    if request.method == "HEAD":
        return web.Response(status=200, headers={**headers, "Content-Type": "text/html; charset=utf-8"})
    return web.Response(text=page(list(access.example_keys)), content_type="text/html", headers=headers)
