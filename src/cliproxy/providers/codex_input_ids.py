"""Input item ids as the Codex backend takes them (CPA ``helps.SanitizeCodexInputItemIDs``).

A Responses history carried over from another backend (xAI's Grok, a gateway, an older
client) may hold item ids the Codex backend refuses: longer than 64 characters, or
without the prefix of their type (``msg``, ``rs``, ``fc``, ``ctc``, ``ctco``). Before a
request goes to Codex:

* an id without its type's prefix gets it (``item_x`` -> ``msg_item_x``), unless that
  would take an id an item already has (then a hash suffix tells them apart);
* an id longer than 64 characters is cut to 47 and given a 17-character hash suffix
  (``_`` and 16 hex digits of its SHA-256), again never taking an id in use;
* a reasoning item with an overlong id and encrypted content is left out (its content
  is bound to the id: another id would fail it).

Everything is deterministic, so a history sent twice is the same bytes both times, and a
history sent again after its ids were fixed stays as it is.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["LIMIT", "sanitize_input_ids"]

LIMIT = 64
_PREFIXES = {
    "message": "msg",
    "reasoning": "rs",
    "function_call": "fc",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}
_OCCUPIED, _PRESERVED = 1, 2


def sanitize_input_ids(body: dict[str, Any]) -> None:
    """``body["input"]`` with its item ids fixed, as a new list of new items where any
    changed (the client's own objects are never edited)."""
    items = body.get("input")
    if type(items) is not list or not any(_needs_fixing(i) for i in items):
        return  # the common history (Codex's own ids): one pass, nothing built
    states: dict[str, int] = {}
    for item in items:
        if type(item) is not dict or _dropped(item) or type(original := item.get("id")) is not str:
            continue
        wanted = _prefixed(item, original)
        state = states.get(wanted, 0)
        if wanted == original:
            state |= _PRESERVED
        if len(wanted) <= LIMIT:
            state |= _OCCUPIED
        if state:
            states[wanted] = state
    out: list[Any] = []
    changed = False
    collided: dict[str, str] = {}
    shortened: dict[str, str] = {}
    for item in items:
        if type(item) is not dict:
            out.append(item)
            continue
        if _dropped(item):
            changed = True
            continue
        original = item.get("id")
        if type(original) is not str:
            out.append(item)
            continue
        new = _prefixed(item, original)
        if new != original and states.get(new, 0) & _PRESERVED:  # another item has it as is
            if new not in collided:
                collided[new] = _free(new, states, 0)
            new = collided[new]
        if len(new) > LIMIT:
            if new not in shortened:
                shortened[new] = _free(new, states, 0)
            new = shortened[new]
        if new != original:
            item = {**item, "id": new}
            changed = True
        out.append(item)
    if changed:
        body["input"] = out


def _needs_fixing(item: Any) -> bool:
    if type(item) is not dict or type(item_id := item.get("id")) is not str:
        return False
    return len(item_id) > LIMIT or _prefixed(item, item_id) != item_id


def _dropped(item: dict[str, Any]) -> bool:
    """A reasoning item with encrypted content under an id Codex cannot take."""
    if item.get("type") != "reasoning":
        return False
    item_id, content = item.get("id"), item.get("encrypted_content")
    return type(item_id) is str and len(item_id) > LIMIT and type(content) is str and content != ""


def _prefixed(item: dict[str, Any], item_id: str) -> str:
    prefix = _PREFIXES.get(item.get("type"))  # type: ignore[arg-type]
    if prefix is None or not item_id or item_id.startswith(prefix):
        return item_id
    return f"{prefix}_{item_id}"


def _free(item_id: str, states: dict[str, int], attempt: int) -> str:
    """``item_id`` with a hash suffix (within the limit) that no item uses yet, marked used."""
    while True:
        candidate = _suffixed(item_id, attempt)
        attempt += 1
        if not states.get(candidate, 0) & _OCCUPIED:
            states[candidate] = states.get(candidate, 0) | _OCCUPIED
            return candidate


def _suffixed(item_id: str, attempt: int) -> str:
    seed = item_id if attempt == 0 else f"{item_id}\x00{attempt}"
    suffix = "_" + hashlib.sha256(seed.encode()).hexdigest()[:16]
    return item_id[: min(len(item_id), LIMIT - len(suffix))] + suffix
