"""Client API keys (``/api-keys``), their usage, the provider key lists (``keys_lists``)
and the per-channel OAuth maps (``keys_maps``).

``/api-keys`` bodies, as CPA: PUT takes the full list (an array, or ``{"items": [...]}``);
PATCH takes ``{"index", "value"}`` (replace) or ``{"old", "new"}`` (replace ``old``, or
append ``new`` when ``old`` is absent); DELETE takes ``?index=`` or ``?value=``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.config import ConfigDocument
from cliproxy.management.config_edit import invalid_body, object_body, save
from cliproxy.management.keys_lists import ROUTES as LIST_ROUTES
from cliproxy.management.keys_maps import ROUTES as MAP_ROUTES
from cliproxy.management.keys_usage import ROUTES as USAGE_ROUTES
from cliproxy.management.types import ApiError, Req, Resp, Route, json_body

__all__ = ["ROUTES"]

_KEYS = "api-keys"


def _keys(doc: ConfigDocument) -> list[Any]:
    keys = doc.get([_KEYS])
    return keys if isinstance(keys, list) else []


def _plain(entry: Any) -> str:
    """The plain key of an api-keys entry (a string, or a policy mapping's ``key``)."""
    if isinstance(entry, dict):
        return str(entry.get("key") or "")
    return entry if isinstance(entry, str) else ""


def _shown(keys: list[Any]) -> list[tuple[str, list[int]]]:
    """The keys ``GET /api-keys`` lists, in its order (trimmed, blank and hashed entries
    left out, each key once), with the file positions of the entries that hold each.

    The panel's ``index`` counts this list, not the file's entries: a hashed key or a
    repeated key before the one clicked would otherwise shift it onto another key."""
    shown: dict[str, list[int]] = {}
    for position, entry in enumerate(keys):
        if text := _plain(entry).strip():
            shown.setdefault(text, []).append(position)
    return list(shown.items())


def _rekey(doc: ConfigDocument, keys: list[Any], positions: list[int], value: str) -> None:
    """Give the entries at ``positions`` (one key, written several times) the key ``value``:
    the first keeps its place (and its policy), the repeats go, so the old key is gone."""
    first = positions[0]
    doc.set([_KEYS, first, "key"] if isinstance(keys[first], dict) else [_KEYS, first], value)
    for position in reversed(positions[1:]):
        doc.delete([_KEYS, position])


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


async def get_api_keys(req: Req) -> Resp:
    return Resp(200, {_KEYS: list(req.service.config.api_keys)})


async def put_api_keys(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError:
        raise invalid_body() from None
    if isinstance(body, dict) and _strings(body.get("items")) and body["items"]:
        body = body["items"]
    if not _strings(body):
        raise invalid_body()
    keys = list(body)

    def edit(doc: ConfigDocument) -> None:
        # the panel's list holds strings: a key with a policy (docs/keys.md) keeps it, and
        # hashed keys (which the list never shows) stay
        old = _keys(doc)
        policies = {str(e.get("key", "")).strip(): e for e in old if isinstance(e, dict) and e.get("key")}
        hashed = [e for e in old if isinstance(e, dict) and not e.get("key")]
        doc.set([_KEYS], [policies.get(k.strip(), k) for k in keys] + hashed)

    return await save(req, edit)


def _optional(body: dict[str, Any], field: str, kind: type) -> Any:
    value = body.get(field)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise invalid_body()
    return value


async def patch_api_keys(req: Req) -> Resp:
    body = object_body(req)
    index, value = _optional(body, "index", int), _optional(body, "value", str)
    old, new = _optional(body, "old", str), _optional(body, "new", str)
    if (index is None or value is None) and (old is None or new is None):
        raise ApiError(400, "missing fields")

    def edit(doc: ConfigDocument) -> None:
        keys = _keys(doc)
        shown = _shown(keys)
        if index is not None and value is not None and 0 <= index < len(shown):
            _rekey(doc, keys, shown[index][1], value)
        elif old is None or new is None:
            raise ApiError(400, "missing fields")
        elif (found := next((at for text, at in shown if text == old.strip()), None)) is not None:
            _rekey(doc, keys, found, new)
        else:
            doc.set([_KEYS, len(keys)], new)

    return await save(req, edit)


def _index(raw: str, size: int) -> int | None:
    try:
        index = int(raw)
    except ValueError:
        return None
    return index if 0 <= index < size else None


async def delete_api_keys(req: Req) -> Resp:
    raw_index, value = req.query.get("index", ""), req.query.get("value", "").strip()
    if not raw_index and not value:
        raise ApiError(400, "missing index or value")

    def edit(doc: ConfigDocument) -> None:
        keys = _keys(doc)
        shown = _shown(keys)
        index = _index(raw_index, len(shown)) if raw_index else None
        if index is not None:  # the key listed there, every entry that holds it
            for position in reversed(shown[index][1]):
                doc.delete([_KEYS, position])
            return
        if not value:
            raise ApiError(400, "missing index or value")
        for position in reversed(range(len(keys))):
            if _plain(keys[position]).strip() == value:
                doc.delete([_KEYS, position])

    return await save(req, edit)


ROUTES: list[Route] = [
    Route("GET", "/api-keys", get_api_keys),
    Route("PUT", "/api-keys", put_api_keys),
    Route("PATCH", "/api-keys", patch_api_keys),
    Route("DELETE", "/api-keys", delete_api_keys),
    *USAGE_ROUTES,
    *LIST_ROUTES,
    *MAP_ROUTES,
]
