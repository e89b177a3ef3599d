"""The ``/v0/management`` endpoint table.

Each endpoint module (``management/*_api.py``) exposes ``ROUTES``: a list of
``Route(method, pattern, handler)``. A pattern is a path below ``/v0/management`` where a
``{name}`` segment captures one path segment. Handlers are plain async functions of a
``Req`` (service, path params, query, body) that return a ``Resp``; no aiohttp here, the
server module adapts. Endpoint modules are listed once in ``MODULES``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.errors import ConfigFileMissingError, RequestError
from cliproxy.formats.validate import check_depth

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["MODULES", "ApiError", "Req", "Resp", "Route", "dispatch", "json_body", "json_depth"]

MODULES: tuple[str, ...] = (
    "cliproxy.management.plugins_api",
    "cliproxy.management.config_api",
    "cliproxy.management.keys_api",
    "cliproxy.management.auth_files_api",
    "cliproxy.management.ops_api",
    "cliproxy.management.logs_api",
)


@dataclass(slots=True)
class Req:
    service: Service
    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    remote: str = ""


@dataclass(slots=True)
class Resp:
    status: int = 200
    data: Any = None  # JSON-serialisable; ignored when ``raw`` is set
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        return self.raw if self.raw is not None else orjson.dumps(self.data)


class ApiError(Exception):
    """An error answer: ``{"error": message}`` with ``status`` (CPA's shape)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Req], Awaitable[Resp]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler


def json_body(req: Req) -> Any:
    """The request body as JSON (``None`` when empty); ``ApiError(400)`` when invalid."""
    if not req.body.strip():
        return None
    try:
        value = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"invalid JSON body: {exc}") from exc
    json_depth(req.body, value)
    return value


def json_depth(raw: bytes, value: Any) -> None:
    """``ApiError(400)`` for JSON nested deeper than the proxy can write back."""
    try:
        check_depth(raw, value)
    except RequestError as exc:
        raise ApiError(400, exc.message) from None


_table: list[tuple[str, re.Pattern[str], Handler]] | None = None


def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for seg in pattern.strip("/").split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            parts.append(f"(?P<{seg[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$")


def _routes() -> list[tuple[str, re.Pattern[str], Handler]]:
    global _table
    if _table is None:
        table = []
        for name in MODULES:
            for route in importlib.import_module(name).ROUTES:
                table.append((route.method, _compile(route.pattern), route.handler))
        _table = table
    return _table


def reserved() -> set[tuple[str, str]]:
    """(method, pattern) of every native route, for plugin-route conflict checks."""
    return {(m, "/v0/management" + p.pattern.replace("\\", "").strip("^$")) for m, p, _ in _routes()}


async def dispatch(req: Req) -> Resp | None:
    """The native endpoint's answer, or ``None`` when no native route matches."""
    path = req.path.removeprefix("/v0/management")
    if (
        req.method == "GET"
        and path.endswith("-auth-url")
        and path.count("/") == 1
        and not any(rx.match(path) for _, rx, _ in _routes())
    ):
        from cliproxy.management.ops_api import plugin_auth_url

        req.params = {"provider": path[1 : -len("-auth-url")]}
        try:
            return await plugin_auth_url(req)
        except ApiError as exc:
            return Resp(exc.status, {"error": exc.message})
    allowed = False
    for method, rx, handler in _routes():
        m = rx.match(path)
        if m is None:
            continue
        allowed = True
        if method == req.method:
            req.params = m.groupdict()
            try:
                return await handler(req)
            except ApiError as exc:
                return Resp(exc.status, {"error": exc.message})
            except ConfigFileMissingError as exc:  # any config write, whichever endpoint
                return Resp(exc.status, {"error": exc.message})
    if allowed:
        return Resp(405, {"error": f"method {req.method} not allowed on {req.path}"})
    return None
