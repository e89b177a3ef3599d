"""Request and response types of the ``/v0/management`` endpoint table.

Endpoint modules (``management/*_api.py``) hold plain async handlers of a :class:`Req`
that return a :class:`Resp` (or raise :class:`ApiError`); each module lists its
:class:`Route` entries in ``ROUTES``. No aiohttp here: ``cliproxy.server.management``
mounts the table as an aiohttp sub-application and adapts requests and answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.formats.validate import check_depth
from cliproxy.management.ports import ManagementService
from cliproxy.management.sessions import LoginSessions

__all__ = ["NAME_MAX", "ApiError", "Handler", "Req", "Resp", "Route", "bare_name", "json_body", "json_depth"]

NAME_MAX = 240
"""Longest file name (UTF-8 bytes) a route accepts: the file system's 255 less the
decoration of the temporary file an atomic write goes through."""


@dataclass(slots=True)
class Req:
    service: ManagementService
    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    logins: LoginSessions  # plugin web logins open on this management application
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
    """``pattern``: a path below ``/v0/management``; a ``{name}`` segment captures one
    path segment into ``Req.params``."""

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


def bare_name(name: str) -> bool:
    """Whether ``name`` may name a file in one of the proxy's own folders: one path
    component, no control character (a NUL, or a CR/LF that would end up in a
    Content-Disposition header), not too long for the file system."""
    if not name or name in (".", "..") or len(name.encode("utf-8", "surrogatepass")) > NAME_MAX:
        return False
    return "/" not in name and "\\" not in name and all(ch >= " " and ch != "\x7f" for ch in name)
