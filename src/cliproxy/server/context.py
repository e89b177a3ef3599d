"""Typed application keys and the per-request client format."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from cliproxy.access import Principal
from cliproxy.formats import Format

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["CORS_KEY", "FORMAT_KEY", "PRINCIPAL_KEY", "SERVICE", "client_format", "format_for_path"]

SERVICE: web.AppKey[Service] = web.AppKey("service")

# request-scoped values
FORMAT_KEY: web.RequestKey[Format] = web.RequestKey("format", Format)
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
# the CORS headers this request's answer carries (absent: none), set by the middleware
CORS_KEY: web.RequestKey[dict[str, str]] = web.RequestKey("cors", dict)


def _models_list_format(h: Mapping[str, str]) -> Format:
    if "x-goog-api-key" in h or "x-goog-api-client" in h:
        return Format.GEMINI
    if "anthropic-version" in h or h.get("User-Agent", "").startswith("claude-cli"):
        return Format.CLAUDE
    return Format.OPENAI


def format_for_path(path: str, headers: Mapping[str, str] | None = None) -> Format:
    """The wire format a path speaks; model lists also look at the request ``headers``."""
    if path.startswith("/v1/messages"):
        return Format.CLAUDE
    if path.startswith(("/v1beta/interactions", "/v1/interactions")):
        return Format.INTERACTIONS
    if path.startswith("/v1beta"):
        return Format.GEMINI
    if path.startswith(("/v1/responses", "/backend-api/codex")):
        return Format.RESPONSES
    if path.startswith("/v1/models"):
        if ":" in path.rpartition("/")[2]:
            return Format.GEMINI
        return Format.OPENAI if headers is None else _models_list_format(headers)
    return Format.OPENAI


def client_format(request: web.Request) -> Format:
    """The wire format the caller speaks, from the path (and headers for model lists)."""
    cached = request.get(FORMAT_KEY)
    if cached is not None:
        return cached
    fmt = request[FORMAT_KEY] = format_for_path(request.path, request.headers)
    return fmt
