"""Provider key lists: ``GET/PUT/PATCH/DELETE`` on ``/gemini-api-key``,
``/interactions-api-key``, ``/claude-api-key``, ``/codex-api-key``, ``/xai-api-key``,
``/vertex-api-key`` and ``/openai-compatibility``, with CPA's bodies and answers.

Each list is described once (:class:`KeyList`); the handlers read that description,
never the list's name. PATCH and DELETE find their target inside the edit, in the file
as it is when the write lock is held, so concurrent writers see each other's changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cliproxy.config import ConfigDocument, from_validation
from cliproxy.config.providers import ClaudeKey, CodexKey, GeminiKey, OpenAICompatibility, VertexKey, XAIKey
from cliproxy.management.config_edit import invalid_body, object_body, save
from cliproxy.management.keys_fields import EMPTY, check_profile, clean_field, strip_panel_fields
from cliproxy.management.keys_index import COMPAT_LIST, compact, render
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body

__all__ = ["KEY_LISTS", "ROUTES", "KeyList"]

_COMMON = (
    "api-key",
    "weight",
    "prefix",
    "base-url",
    "proxy-url",
    "headers",
    "excluded-models",
    "disable-cooling",
    "request-retry",
    "request-scoped-errors",
)


def _no_key_no_base(entry: dict[str, Any]) -> bool:
    return not _text(entry, "api-key") and not _text(entry, "base-url")


def _no_base(entry: dict[str, Any]) -> bool:
    return not _text(entry, "base-url")


def _no_key(entry: dict[str, Any]) -> bool:
    return not _text(entry, "api-key")


def _never(entry: dict[str, Any]) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class KeyList:
    """One provider key list.

    ``gone`` tells when an entry stops being a credential (dropped on PUT, removed on
    PATCH); ``strict`` is the Gemini-style identity check (``?base-url`` narrows a
    match; an ambiguous or unknown key is an error rather than a no-op).
    """

    name: str
    model: type[Any]
    fields: frozenset[str]
    gone: Callable[[dict[str, Any]], bool] = _never
    strict: bool = False
    key_required: bool = False


KEY_LISTS: tuple[KeyList, ...] = (
    KeyList("gemini-api-key", GeminiKey, frozenset(_COMMON), _no_key_no_base, strict=True),
    KeyList("interactions-api-key", GeminiKey, frozenset(_COMMON), _no_key_no_base, strict=True),
    KeyList(
        "claude-api-key",
        ClaudeKey,
        frozenset((*_COMMON, "fingerprint-profile", "models", "rebuild-mid-system-message")),
    ),
    KeyList("codex-api-key", CodexKey, frozenset((*_COMMON, "alpha-search", "models")), _no_base),
    KeyList("xai-api-key", XAIKey, frozenset((*_COMMON, "priority", "websockets", "models")), _no_base),
    KeyList(
        "vertex-api-key",
        VertexKey,
        frozenset(f for f in (*_COMMON, "models") if f != "request-scoped-errors"),
        _no_key,
        key_required=True,
    ),
    KeyList(
        COMPAT_LIST,
        OpenAICompatibility,
        frozenset(
            (
                "name",
                "prefix",
                "disabled",
                "disable-cooling",
                "base-url",
                "api-key-entries",
                "models",
                "headers",
                "support-prompt-cache-key",
                "request-retry",
                "request-scoped-errors",
            )
        ),
        _no_base,
    ),
)


def _text(entry: dict[str, Any], field: str) -> str:
    value = entry.get(field)
    return value.strip() if isinstance(value, str) else ""


def _entries(doc: ConfigDocument, spec: KeyList) -> list[tuple[int, dict[str, Any]]]:
    """The entries the running config keeps, with their positions in the file.

    Indexes sent by the panel count what GET showed, which leaves out entries the
    config model drops (no base-url, no key, Gemini-style duplicates).
    """
    items = doc.get([spec.name])
    seen: set[tuple[str, ...]] = set()
    out = []
    for position, raw in enumerate(items if isinstance(items, list) else []):
        if not isinstance(raw, dict):
            continue
        try:
            entry = spec.model.model_validate(raw)
        except ValidationError:
            continue
        if spec.gone(entry.yaml_dump()) or (spec.strict and entry.dedup_id() in seen):
            continue
        if spec.strict:
            seen.add(entry.dedup_id())
        out.append((position, raw))
    return out


def _index(raw: Any, size: int) -> int | None:
    try:
        index = int(raw)
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < size else None


# -- GET / PUT


def _getter(spec: KeyList) -> Callable[[Req], Any]:
    async def get(req: Req) -> Resp:
        return Resp(200, {spec.name: render(req.service, spec.name)})

    return get


def _put_items(req: Req) -> list[Any]:
    try:
        body = json_body(req)
    except ApiError:
        raise invalid_body() from None
    if isinstance(body, dict) and isinstance(body.get("items"), list) and body["items"]:
        body = body["items"]
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise invalid_body()
    return body


def _stored(spec: KeyList, position: int, item: dict[str, Any]) -> dict[str, Any]:
    """A PUT entry validated and normalised, in the shape written to the file."""
    try:
        entry = spec.model.model_validate(strip_panel_fields(item))
    except ValidationError as exc:
        error = from_validation(exc, None)
        where = f"{spec.name}[{position}]" + (f".{error.path}" if error.path else "")
        raise ApiError(400, f"{where}: {error.reason}") from None
    known = {field.alias or name for name, field in spec.model.model_fields.items()}
    data = {k: v for k, v in entry.yaml_dump().items() if k in known}
    if "api-key-entries" in data:
        data["api-key-entries"] = [strip_panel_fields(e) for e in data["api-key-entries"]]
    if spec.model is ClaudeKey:
        data["fingerprint-profile"] = check_profile(
            str(item.get("fingerprint-profile") or ""), f"{spec.name}[{position}].fingerprint-profile"
        )
    return compact(data, keep=frozenset())


def _putter(spec: KeyList) -> Callable[[Req], Any]:
    async def put(req: Req) -> Resp:
        items = []
        for position, item in enumerate(_put_items(req)):
            if spec.key_required and not _text(item, "api-key"):
                raise ApiError(400, f"{spec.name}[{position}].api-key is required")
            stored = _stored(spec, position, item)
            if not spec.gone(stored):
                items.append(stored)

        def edit(doc: ConfigDocument) -> None:
            doc.set([spec.name], items)

        return await save(req, edit)

    return put


# -- PATCH


def _patch_target(
    spec: KeyList, entries: list[tuple[int, dict[str, Any]]], body: dict[str, Any], base: str | None
) -> int:
    """The file position of the entry a PATCH names by ``index``, ``match`` or ``name``."""
    raw = body.get("index")
    index = _index(raw, len(entries)) if isinstance(raw, int) and not isinstance(raw, bool) else None
    if index is not None:
        return entries[index][0]
    field, wanted = ("name", body.get("name")) if spec.name == COMPAT_LIST else ("api-key", body.get("match"))
    if not isinstance(wanted, str) or (spec.strict and not wanted.strip()):
        raise ApiError(404, "item not found")
    found = [p for p, e in entries if _matches(spec, e, field, wanted, base)]
    if spec.strict and len(found) > 1:
        raise ApiError(400, "multiple items match; index is required")
    if not found:
        raise ApiError(404, "item not found")
    return found[0]


def _matches(spec: KeyList, entry: dict[str, Any], field: str, wanted: str, base: str | None) -> bool:
    if _text(entry, field) != wanted.strip():
        return False
    return not spec.strict or base is None or _text(entry, "base-url") == base.strip()


def _patcher(spec: KeyList) -> Callable[[Req], Any]:
    async def patch(req: Req) -> Resp:
        body = object_body(req)
        value = body.get("value")
        if not isinstance(value, dict):
            raise invalid_body()
        changes = {
            f: clean_field(f, v)
            for f, v in value.items()
            if f in spec.fields and (v is not None or f in ("weight", "disable-cooling"))
        }
        base = req.query.get("base-url")

        def edit(doc: ConfigDocument) -> None:
            position = _patch_target(spec, _entries(doc, spec), body, base)
            patched = dict(doc.get([spec.name, position]))
            for field, new in changes.items():
                if new is EMPTY:
                    patched.pop(field, None)
                else:
                    patched[field] = new
            if spec.gone(patched):
                doc.delete([spec.name, position])
                return
            for field, new in changes.items():
                if new is EMPTY:
                    doc.delete([spec.name, position, field])  # False when it was not there
                else:
                    doc.set([spec.name, position, field], new)

        return await save(req, edit)

    return patch


# -- DELETE


def _by_key(
    spec: KeyList, entries: list[tuple[int, dict[str, Any]]], key: str, base: str | None
) -> list[int]:
    """File positions to delete for ``?api-key=`` (and maybe ``?base-url=``), with CPA's checks."""
    same_key = [(p, e) for p, e in entries if _text(e, "api-key") == key]
    if base is not None:
        found = [p for p, e in same_key if _text(e, "base-url") == base.strip()]
        if spec.strict and len(found) != 1:
            raise (
                ApiError(404, "item not found")
                if not found
                else ApiError(400, "multiple items match; index is required")
            )
        return found
    if len(same_key) > 1:
        raise ApiError(400, "multiple items match api-key; base-url is required")
    if spec.strict and not same_key:
        raise ApiError(404, "item not found")
    return [p for p, _ in same_key]


def _delete_targets(spec: KeyList, entries: list[tuple[int, dict[str, Any]]], query: Any) -> list[int]:
    if spec.name == COMPAT_LIST:
        name = query.get("name", "")
        if name:
            return [p for p, e in entries if e.get("name") == name]
    else:
        key = query.get("api-key", "").strip()
        if key:
            return _by_key(spec, entries, key, query.get("base-url"))
    index = _index(query.get("index"), len(entries))
    if index is not None:
        return [entries[index][0]]
    raise ApiError(400, "missing name or index" if spec.name == COMPAT_LIST else "missing api-key or index")


def _deleter(spec: KeyList) -> Callable[[Req], Any]:
    async def delete(req: Req) -> Resp:
        def edit(doc: ConfigDocument) -> None:
            for position in sorted(_delete_targets(spec, _entries(doc, spec), req.query), reverse=True):
                doc.delete([spec.name, position])

        return await save(req, edit)

    return delete


def _routes() -> list[Route]:
    routes = []
    for spec in KEY_LISTS:
        path = "/" + spec.name
        routes += [
            Route("GET", path, _getter(spec)),
            Route("PUT", path, _putter(spec)),
            Route("PATCH", path, _patcher(spec)),
            Route("DELETE", path, _deleter(spec)),
        ]
    return routes


ROUTES: list[Route] = _routes()
