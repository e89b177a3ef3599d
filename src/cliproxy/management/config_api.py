"""Config endpoints: the whole config as JSON, config.yaml as text, the version check,
and the single-value switches (``config_scalars``)."""

from __future__ import annotations

import asyncio
from typing import Any

from cliproxy.config import ConfigDocument, hash_secret_in_place
from cliproxy.errors import ConfigError, ConfigSaveError
from cliproxy.management.config_scalars import ROUTES as SCALAR_ROUTES
from cliproxy.management.keys_index import compact
from cliproxy.management.types import Req, Resp, Route

__all__ = ["ROUTES", "config_json"]

# CPA tags these ``json:"-"``: they never leave the process through the management API.
_HIDDEN = ("host", "port", "auth-dir", "remote-management", "home")
# Sections whose Go types mark most fields ``omitempty``: empty fields are left out.
_SPARSE = (
    "gemini-api-key",
    "interactions-api-key",
    "codex-api-key",
    "xai-api-key",
    "claude-api-key",
    "vertex-api-key",
    "openai-compatibility",
    "oauth-model-alias",
    "oauth-request-scoped-errors",
)
_YAML_HEADERS = {
    "Content-Type": "application/yaml; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def config_json(config: Any) -> dict[str, Any]:
    """The config with CPA's JSON field names, minus what CPA hides."""
    data: dict[str, Any] = config.yaml_dump()
    for key in _HIDDEN:
        data.pop(key, None)
    for key in _SPARSE:
        if key in data:
            data[key] = compact(data[key])
    relay = data.get("codex", {}).get("live-media-relay", {})
    for server in relay.get("ice-servers") or ():
        server.pop("username", None)
        server.pop("credential", None)
    if unknown := config.routing.unknown_strategy:  # as written, as CPA shows it
        data["routing"]["strategy"] = unknown
    return data


async def get_config(req: Req) -> Resp:
    return Resp(200, config_json(req.service.config))


def _failure(status: int, code: str, message: str) -> Resp:
    return Resp(status, {"error": code, "message": message})


async def get_config_yaml(req: Req) -> Resp:
    path = req.service.config_path
    try:
        if path is None:
            raise FileNotFoundError
        data = path.read_bytes()
    except FileNotFoundError:
        return _failure(404, "not_found", "config file not found")
    except OSError as exc:
        return _failure(500, "read_failed", exc.strerror or "cannot read the config file")
    return Resp(200, raw=data, headers=dict(_YAML_HEADERS))


async def put_config_yaml(req: Req) -> Resp:
    """Replace the whole file; it is validated first and never written when invalid.

    A document without a single key (empty, blank, only comments, ``{}``, ``null``) is
    refused with 400: saved, it would drop every client key and credential and leave
    the proxy open. A config file deleted while the proxy runs is recreated from the
    body (it is the whole file)."""
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        return _failure(400, "invalid_yaml", "the body is not UTF-8 text")
    try:  # a large file takes a while to parse: not on the event loop
        doc = await asyncio.to_thread(ConfigDocument.from_text, text)
    except ConfigError as exc:
        if exc.path:  # parsed, but a value is refused: CPA's LoadConfigOptional answers 422
            return _failure(422, "invalid_config", str(exc))
        return _failure(400, "invalid_yaml", str(exc))
    if not doc.plain():
        return _failure(
            400,
            "invalid_config",
            "the document has no keys; send the whole config.yaml (an "
            "empty config would drop every key and credential)",
        )

    def replace(doc: ConfigDocument) -> None:
        doc.replace_text(text)  # the service saves and applies the document it handed us
        hash_secret_in_place(doc)

    try:
        await req.service.edit_config(replace, create=True)
    except ConfigSaveError as exc:  # CPA: write_failed
        return _failure(500, "write_failed", exc.message)
    except ConfigError as exc:
        return _failure(422, "invalid_config", str(exc))
    return Resp(200, {"ok": True, "changed": ["config"]})


ROUTES: list[Route] = [
    Route("GET", "/config", get_config),
    Route("GET", "/config.yaml", get_config_yaml),
    Route("PUT", "/config.yaml", put_config_yaml),
    *SCALAR_ROUTES,
]
