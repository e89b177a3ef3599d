"""The per-channel OAuth maps: ``/oauth-excluded-models``, ``/oauth-model-alias`` and
``/oauth-request-scoped-errors`` (GET/PUT/PATCH/DELETE, CPA's bodies).

Values are cleaned by the config model itself (lower-cased channels, trimmed and
de-duplicated entries), so what is written is what the proxy will use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cliproxy.config import Config, ConfigDocument, from_validation
from cliproxy.management.config_edit import invalid_body, object_body, save
from cliproxy.management.keys_index import compact
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body

__all__ = ["OAUTH_MAPS", "ROUTES", "OAuthMap"]


@dataclass(frozen=True, slots=True)
class OAuthMap:
    """One map: its YAML key, the PATCH field holding the list, and what a key is called."""

    name: str
    items: str  # PATCH body field with the new list
    word: str  # "provider" or "channel": how errors and query parameters name a key
    entries_are_objects: bool

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")


OAUTH_MAPS: tuple[OAuthMap, ...] = (
    OAuthMap("oauth-excluded-models", "models", "provider", entries_are_objects=False),
    OAuthMap("oauth-model-alias", "aliases", "channel", entries_are_objects=True),
    OAuthMap("oauth-request-scoped-errors", "rules", "channel", entries_are_objects=True),
)

_ENTRY_KEEP = frozenset({"name", "alias"})


def _plain(spec: OAuthMap, config: Config) -> dict[str, list[Any]]:
    value: dict[str, list[Any]] = getattr(config, spec.attr)
    if not spec.entries_are_objects:
        return {k: list(v) for k, v in value.items()}
    return {k: [compact(e.yaml_dump(), _ENTRY_KEEP) for e in v] for k, v in value.items()}


def _cleaned(spec: OAuthMap, raw: dict[str, Any]) -> dict[str, list[Any]]:
    """``raw`` as the config model normalises it; 400 naming the bad key path."""
    kind = dict if spec.entries_are_objects else str
    if not all(isinstance(v, list) and all(isinstance(e, kind) for e in v) for v in raw.values()):
        raise invalid_body()
    try:
        config = Config.model_validate({spec.name: raw})
    except ValidationError as exc:
        raise ApiError(400, str(from_validation(exc, None))) from None
    return _plain(spec, config)


def _channel(spec: OAuthMap, source: dict[str, Any] | Any, fields: tuple[str, ...]) -> str:
    for field in fields:
        value = source.get(field)
        if isinstance(value, str) and value:
            return value.strip().lower()
    return ""


def _fields(spec: OAuthMap) -> tuple[str, ...]:
    return ("provider",) if spec.word == "provider" else ("channel", "provider")


def _raw_key(doc: ConfigDocument, spec: OAuthMap, channel: str) -> str | None:
    current = doc.get([spec.name])
    if not isinstance(current, dict):
        return None
    return next((k for k in current if str(k).strip().lower() == channel), None)


def _remove(doc: ConfigDocument, spec: OAuthMap, channel: str) -> None:
    key = _raw_key(doc, spec, channel)
    if key is None:
        raise ApiError(404, f"{spec.word} not found")
    doc.delete([spec.name, key])
    if not doc.get([spec.name]):
        doc.delete([spec.name])


def _getter(spec: OAuthMap) -> Callable[[Req], Any]:
    async def get(req: Req) -> Resp:
        return Resp(200, {spec.name: _plain(spec, req.service.config)})

    return get


def _putter(spec: OAuthMap) -> Callable[[Req], Any]:
    async def put(req: Req) -> Resp:
        try:
            body = json_body(req)
        except ApiError:
            raise invalid_body() from None
        if isinstance(body, dict) and isinstance(body.get("items"), dict):
            body = body["items"]
        if not isinstance(body, dict):
            raise invalid_body()
        value = _cleaned(spec, body)

        def edit(doc: ConfigDocument) -> None:
            if value:
                doc.set([spec.name], value)
            else:
                doc.delete([spec.name])

        return await save(req, edit)

    return put


def _patcher(spec: OAuthMap) -> Callable[[Req], Any]:
    async def patch(req: Req) -> Resp:
        body = object_body(req)
        if spec.word == "provider" and not isinstance(body.get("provider"), str):
            raise invalid_body()
        channel = _channel(spec, body, _fields(spec))
        if not channel:
            raise ApiError(400, f"invalid {spec.word}")
        entries = body.get(spec.items) or []
        new = _cleaned(spec, {channel: entries if isinstance(entries, list) else None}).get(channel, [])

        def edit(doc: ConfigDocument) -> None:
            if not new:
                _remove(doc, spec, channel)
                return
            doc.set([spec.name, _raw_key(doc, spec, channel) or channel], new)

        return await save(req, edit)

    return patch


def _deleter(spec: OAuthMap) -> Callable[[Req], Any]:
    async def delete(req: Req) -> Resp:
        channel = _channel(spec, req.query, _fields(spec))
        if not channel:
            raise ApiError(400, f"missing {spec.word}")

        def edit(doc: ConfigDocument) -> None:
            _remove(doc, spec, channel)

        return await save(req, edit)

    return delete


def _routes() -> list[Route]:
    routes = []
    for spec in OAUTH_MAPS:
        path = "/" + spec.name
        routes += [
            Route("GET", path, _getter(spec)),
            Route("PUT", path, _putter(spec)),
            Route("PATCH", path, _patcher(spec)),
            Route("DELETE", path, _deleter(spec)),
        ]
    return routes


ROUTES: list[Route] = _routes()
