"""Response ids on one client socket of the Responses WebSocket, unique as a client expects.

xAI's socket may answer every turn of a connection with the same response id (CPA
``xaiWebsocketRequestIDMapper``). A client keys its turns by that id and names it as the
next ``previous_response_id``, and the session's history drops items repeated under one
id, so a turn whose response id this socket already gave the client gets a fresh one:
``<id>-<n>`` (after a ``resp_`` prefix), written into every ``id`` / ``item_id`` of the
turn's events that contains it (the output items' ids embed it, e.g. ``msg_<id>001``).
The session's history keeps the turn as the client got it, so a follow-up naming the
fresh id continues it.

Cost for a turn with a new id: the one event that first carries the response (usually
``response.created``) is parsed; nothing else is. A renamed turn parses only the events
whose bytes hold the repeated id.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["ResponseIds"]

_ID_KEYS = frozenset({"id", "item_id"})


class ResponseIds:
    """The response ids one socket gave its client, and the rename of the current turn."""

    __slots__ = ("_from", "_from_bytes", "_to", "given", "pending", "sequence")

    def __init__(self) -> None:
        self.given: set[str] = set()  # every response id the client got on this socket
        self.sequence = 0
        self.pending = False  # the current turn's response id is not read yet
        self._from = self._to = ""
        self._from_bytes = b""

    @property
    def renaming(self) -> bool:
        """The current turn's events get a fresh response id."""
        return bool(self._to)

    def start(self) -> None:
        """A turn begins: its response id is read off its first event that carries it."""
        self.pending = True
        self._from = self._to = ""
        self._from_bytes = b""

    def end(self) -> None:
        self.pending = False

    def see(self, data: bytes) -> bytes:
        """One event of the current turn as the client gets it."""
        if self.pending and data.find(b'"response"') >= 0:
            self.pending = False
            self._read(data)
        if self._to and data.find(self._from_bytes) >= 0:
            return _rewritten(data, self._from, self._to)
        return data

    def _read(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        response = event.get("response") if isinstance(event, dict) else None
        rid = response.get("id") if isinstance(response, dict) else None
        if not isinstance(rid, str) or not rid:
            return
        if rid not in self.given:
            self.given.add(rid)
            return
        self.sequence += 1
        # the part other ids embed: ``resp_x``'s items are ``msg_x...``, ``rs_x...``
        core = rid.removeprefix("resp_") or rid
        self._from, self._to = core, f"{core}-{self.sequence}"
        self._from_bytes = core.encode()
        self.given.add(rid.replace(core, self._to))


def _rewritten(data: bytes, old: str, new: str) -> bytes:
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    return orjson.dumps(event) if _rename(event, old, new) else data


def _rename(value: Any, old: str, new: str) -> bool:
    changed = False
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, str):
                if key in _ID_KEYS and child.find(old) >= 0:
                    value[key] = child.replace(old, new)
                    changed = True
            elif isinstance(child, (dict, list)):
                changed = _rename(child, old, new) or changed
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, (dict, list)):
                changed = _rename(child, old, new) or changed
    return changed
