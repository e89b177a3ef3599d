"""Claude Code's header names and order on the wire (the captured 2.1.220 wire, CPA's
``claudeCodeMessagesHeaderOrder``), for a request that passes as Claude Code's."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["wire_order"]

_NAMES = 4096  # header names remembered (see _WIRE); emptied when more come


# Claude Code 2.1.220's header names where they are not Title-Case (CPA's casing table)
_WIRE_NAMES = {
    "x-stainless-os": "X-Stainless-OS",
    "anthropic-beta": "anthropic-beta",
    "anthropic-version": "anthropic-version",
    "anthropic-dangerous-direct-browser-access": "anthropic-dangerous-direct-browser-access",
    "x-app": "x-app",
    "x-client-request-id": "x-client-request-id",
}
# written by Node's HTTP layer after the SDK's sorted block, in this order (Content-Length
# last: the transport's own)
_TRAILING = ("connection", "host", "accept-encoding")


def _wire_name(name: str) -> str:
    lower = name.lower()
    if lower in _WIRE_NAMES:
        return _WIRE_NAMES[lower]
    if name != lower:  # a credential's own header keeps its spelling
        return name
    return "-".join(part.capitalize() for part in lower.split("-"))


# header name as written -> (its wire name, its rank in _TRAILING or -1); emptied past _NAMES
_WIRE: dict[str, tuple[str, int]] = {}


def _wire_entry(name: str) -> tuple[str, int]:
    lower = name.lower()
    entry = (_wire_name(name), _TRAILING.index(lower) if lower in _TRAILING else -1)
    if len(_WIRE) >= _NAMES:
        _WIRE.clear()
    _WIRE[name] = entry
    return entry


def wire_order(headers: Mapping[str, str]) -> dict[str, str]:
    """Claude Code's header names and order (captured 2.1.220 wire, CPA's
    ``claudeCodeMessagesHeaderOrder``): the SDK's headers sorted bytewise by their wire
    name, then ``Connection``, ``Host`` and ``Accept-Encoding``. (aiohttp still writes
    ``Host`` first; curl writes it where it is given.)"""
    block: list[tuple[str, str]] = []
    trailing: list[tuple[int, int, str, str]] = []
    wire = _WIRE
    for name, value in headers.items():
        entry = wire.get(name)
        if entry is None:
            entry = _wire_entry(name)
        if entry[1] < 0:
            block.append((entry[0], value))
        else:  # in _TRAILING's order, then as given
            trailing.append((entry[1], len(trailing), entry[0], value))
    block.sort()
    out = dict(block)
    if trailing:
        trailing.sort()
        for _, _, name, value in trailing:
            out[name] = value
    return out
