"""What plugins add to the proxy's surface: frontend authentication and
management routes / resources.

Frontend auth (CPA): every active frontend-auth plugin is an access provider beside the
config's API keys; an *exclusive* one (highest priority, then lowest id) becomes the
only provider, so built-in keys stop working while it is active. Management routes are
collected with ``management.register`` after each config apply: exact paths under
``/v0/management`` (authenticated) and GET resources under
``/v0/resource/plugins/<id>/`` (unauthenticated); conflicts with native routes or with
a higher-priority plugin are skipped. Both are served by ``management.handle``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.callbacks import ScopeContext
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.rules import call_scoped, plain_headers, wire_headers, wire_query

__all__ = [
    "ManagementTable",
    "PluginReply",
    "authenticate",
    "escape_json_body",
    "frontend_providers",
    "handle_management",
    "html_escape",
]

log = logging.getLogger(__name__)

MANAGEMENT_BASE = "/v0/management"
RESOURCE_BASE = "/v0/resource/plugins"
_FAILURES = (PluginError, PluginCrashed, asyncio.TimeoutError)


async def frontend_providers(host: PluginHost) -> tuple[tuple[Record, ...], bool]:
    """(providers, exclusive): the frontend-auth plugins that authenticate requests. Like
    CPA, only those that name an identifier: one answering none is not a provider (nor
    exclusive), and one that crashes asked for it is fused."""
    recs = tuple(
        [
            r
            for r in host.active("frontend_auth_provider")
            if await host.identifier(r, abi.FRONTEND_AUTH_IDENTIFIER)
        ]
    )
    exclusive = [r for r in recs if r.has("frontend_auth_provider_exclusive")]
    if exclusive:
        return (exclusive[0],), True
    return recs, False


async def authenticate(
    host: PluginHost,
    recs: tuple[Record, ...],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
) -> str | None:
    """The principal of the first plugin that authenticates the request, else ``None``."""
    for rec in recs:
        params = {
            "Method": method,
            "Path": path,
            "Headers": wire_headers(headers),
            "Query": wire_query(query),
            "Body": b64encode(body),
        }
        try:
            result = await host.call(rec, abi.FRONTEND_AUTH_AUTHENTICATE, params)
        except _FAILURES as exc:
            log.warning("frontend auth %s failed: %s", rec.id, exc)
            continue
        if isinstance(result, dict) and ci_get(result, "Authenticated"):
            principal = str(ci_get(result, "Principal", "") or "")
            return principal or f"plugin:{rec.id}"
    return None


@dataclass(slots=True)
class PluginReply:
    status: int
    headers: dict[str, str]
    body: bytes


class ManagementTable:
    """The plugin routes and resources of the current snapshot."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Record] = {}
        self.resources: dict[tuple[str, str], Record] = {}  # (plugin id, path)
        self.menus: dict[str, list[dict[str, str]]] = {}

    async def rebuild(self, host: PluginHost, reserved: set[tuple[str, str]]) -> None:
        routes: dict[tuple[str, str], Record] = {}
        resources: dict[tuple[str, str], Record] = {}
        menus: dict[str, list[dict[str, str]]] = {}
        for rec in host.active("management_api"):
            params = {
                "Plugin": rec.metadata,
                "BasePath": MANAGEMENT_BASE,
                "ResourceBasePath": f"{RESOURCE_BASE}/{rec.id}",
            }
            try:
                result = await host.call(rec, abi.MANAGEMENT_REGISTER, params)
            except _FAILURES as exc:
                log.warning("plugin %s: management.register failed: %s", rec.id, exc)
                continue
            result = result if isinstance(result, dict) else {}
            for route in ci_get(result, "routes") or []:
                method = str(ci_get(route, "Method", "") or "GET").upper()
                path = _route_path(str(ci_get(route, "Path", "") or ""))
                if path is None:
                    continue
                if method == "GET" and ci_get(route, "Menu"):  # CPA: a GET route with a menu is a resource
                    self._resource(resources, menus, rec, route)
                    continue
                key = (method, path)
                if key in reserved or key in routes:
                    log.warning(
                        "plugin %s: management route %s %s conflicts and is skipped", rec.id, method, path
                    )
                    continue
                routes[key] = rec
            for res in ci_get(result, "resources") or []:
                self._resource(resources, menus, rec, res)
        self.routes, self.resources, self.menus = routes, resources, menus

    @staticmethod
    def _resource(
        resources: dict[tuple[str, str], Record],
        menus: dict[str, list[dict[str, str]]],
        rec: Record,
        res: Any,
    ) -> None:
        path = "/" + str(ci_get(res, "Path", "") or "").strip().lstrip("/")
        if ".." in path or any(c.isspace() for c in path):
            return
        resources.setdefault((rec.id, path), rec)
        menu = str(ci_get(res, "Menu", "") or "")
        if menu:
            menus.setdefault(rec.id, []).append(
                {
                    "path": f"{RESOURCE_BASE}/{rec.id}{path}",
                    "menu": menu,
                    "description": str(ci_get(res, "Description", "") or ""),
                }
            )


def _route_path(path: str) -> str | None:
    path = path.strip()
    if not path or any(c in path for c in ":*") or any(c.isspace() for c in path):
        return None
    if not path.startswith("/"):
        path = f"{MANAGEMENT_BASE}/{path}"
    elif not path.startswith(MANAGEMENT_BASE + "/"):
        path = MANAGEMENT_BASE + path
    return path


async def handle_management(
    host: PluginHost,
    rec: Record,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
) -> PluginReply:
    """``management.handle``: errors answer 502, a status of 0 means 200 (CPA). ``path``
    is the request's full path (``/v0/management/...`` or ``/v0/resource/plugins/<id>/...``);
    JSON answers of management routes (not resources) have their strings HTML-escaped."""
    params = {
        "Method": method,
        "Path": path,
        "Headers": wire_headers(headers),
        "Query": wire_query(query),
        "Body": b64encode(body),
    }
    try:
        result = await call_scoped(host, rec, abi.MANAGEMENT_HANDLE, params, ScopeContext())
    except _FAILURES as exc:
        return PluginReply(
            502,
            {"Content-Type": "application/json"},
            b'{"error":"plugin management handler failed"}'
            if not isinstance(exc, PluginError)
            else b'{"error":' + _json_str(exc.message) + b"}",
        )
    result = result if isinstance(result, dict) else {}
    status = int(ci_get(result, "StatusCode", 0) or 0) or 200
    headers = plain_headers(ci_get(result, "Headers"))
    body = b64decode(ci_get(result, "Body"))
    if not path.startswith(RESOURCE_BASE + "/"):
        body = escape_json_body(body, headers)
    return PluginReply(status, headers, body)


def escape_json_body(body: bytes, headers: Mapping[str, str]) -> bytes:
    """HTML-escape every string of a JSON management answer, as CPA does for plugin routes
    (the panel renders them), when the content type says JSON or the body starts like it."""
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    media = ctype.split(";", 1)[0].strip().lower()
    stripped = body.strip()
    if not (media == "application/json" or media.endswith("+json") or stripped[:1] in (b"{", b"[")):
        return body
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps(_escape(value))


# Go's html.EscapeString, which CPA applies to every plugin-supplied string a panel shows
_ESCAPES = str.maketrans({"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;"})


def html_escape(text: str) -> str:
    """``text`` escaped as Go's ``html.EscapeString`` escapes it (``&#39;``, ``&#34;``)."""
    return text.translate(_ESCAPES)


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return html_escape(value)
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _json_str(text: str) -> bytes:

    return orjson.dumps(text)
