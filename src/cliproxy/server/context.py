"""Typed application keys and the per-request client format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cliproxy.access import Principal
from cliproxy.formats import Format

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["FORMAT_KEY", "PRINCIPAL_KEY", "SERVICE", "client_format"]

SERVICE: web.AppKey[Service] = web.AppKey("service")

# request-scoped values
FORMAT_KEY: web.RequestKey[Format] = web.RequestKey("format", Format)
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def _models_list_format(request: web.Request) -> Format:
    h = request.headers
    if "x-goog-api-key" in h or "x-goog-api-client" in h:
        return Format.GEMINI
    if "anthropic-version" in h or h.get("User-Agent", "").startswith("claude-cli"):
        return Format.CLAUDE
    return Format.OPENAI


def client_format(request: web.Request) -> Format:
    """The wire format the caller speaks, from the path (and headers for model lists)."""
    cached = request.get(FORMAT_KEY)
    if cached is not None:
        return cached
    path = request.path
    if path.startswith("/v1/messages"):
        fmt = Format.CLAUDE
    elif path.startswith("/v1beta"):
        fmt = Format.GEMINI
    elif path.startswith(("/v1/responses", "/backend-api/codex")):
        fmt = Format.RESPONSES
    elif path.startswith("/v1/models"):
        fmt = Format.GEMINI if ":" in path.rpartition("/")[2] else _models_list_format(request)
    else:
        fmt = Format.OPENAI
    request[FORMAT_KEY] = fmt
    return fmt
