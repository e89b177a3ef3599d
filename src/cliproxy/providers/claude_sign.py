"""Claude Code's request signature (CCH): the ``cch=`` field of the billing block in
``system`` is the xxHash64 of the body as sent, with that field zeroed, and the
``cc_entrypoint`` kept as the caller wrote it (:func:`sign`). The hash reads a view of the
body that skips the members the Messages API edits on the way (``max_tokens``, fallbacks):
:func:`_hash_view`, which re-serialises only the objects that hold such a member.

Split from :mod:`cliproxy.providers.claude_cloak`, which writes the billing block."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
import xxhash

from cliproxy.providers.claude_cloak import BILLING_PREFIX

__all__ = ["billing_first", "sign", "xxh64"]

_NODES = (dict, list)


_CCH = re.compile(r"cch=[0-9a-f]{5};")
_ENTRYPOINT = re.compile(r"cc_entrypoint=[^;]*;")


def billing_first(body: Mapping[str, Any]) -> bool:
    """Whether ``system`` starts with a billing block (:func:`sign` then needs no fallback)."""
    system = body.get("system")
    first = system[0] if isinstance(system, list) and system else None
    text = first.get("text") if isinstance(first, dict) else None
    return isinstance(text, str) and text.startswith(BILLING_PREFIX)


def sign(body: dict[str, Any], fallback: str = "") -> bytes:
    """The body's bytes with the billing block's ``cch`` filled in: the low 20 bits of
    xxHash64 (Claude Code's seed) over the body with ``cch=00000``, model values emptied
    and ``max_tokens`` / ``fallbacks`` / ``fallback_credit_token`` members left out.
    Without a billing block first in ``system``, ``fallback`` (when given) is put there."""
    system = body.get("system")
    first = system[0] if isinstance(system, list) and system else None
    text = first.get("text") if isinstance(first, dict) else None
    if not isinstance(text, str) or not text.startswith(BILLING_PREFIX):
        if not fallback:
            return orjson.dumps(body)
        block: dict[str, Any] = {"type": "text", "text": fallback}
        if isinstance(system, str):
            body["system"] = [block, {"type": "text", "text": system}]
        elif isinstance(system, list):
            body["system"] = [block, *system]
        else:
            body["system"] = [block]
        first, text = block, fallback
    assert isinstance(first, dict)
    if _CCH.search(text):
        text = _CCH.sub("cch=00000;", text, count=1)
    elif found := _ENTRYPOINT.search(text):
        text = text[: found.end()] + " cch=00000;" + text[found.end() :]
    else:
        return orjson.dumps(body)
    rest = body["system"][1:]
    body["system"] = [{**first, "text": text}, *rest]
    view: list[bytes] = []
    whole: dict[str, bytes] = {}
    _walk(body, view, whole)  # (a body always has its "model")
    data = b"".join(view)
    digest = xxh64(data, _CCH_SEED) & 0xFFFFF
    body["system"] = [{**first, "text": text.replace("cch=00000;", f"cch={digest:05x};", 1)}, *rest]
    if len(data) < _REUSED:
        return orjson.dumps(body)
    # orjson's bytes for the body, from the members the view dumped whole (most of a large
    # body: messages, tools), not dumped again: orjson writes an object as "{", its
    # members as "key":value joined by ",", then "}". (The system changed since: dumped.)
    whole.pop("system", None)
    return b"{%b}" % b",".join(
        [b"%b:%b" % (orjson.dumps(key), whole.get(key) or orjson.dumps(value)) for key, value in body.items()]
    )


_EXCLUDED = frozenset({"max_tokens", "fallbacks", "fallback_credit_token"})
# below this many bytes one dump of the signed body costs less than joining its members
_REUSED = 8192


def _hash_view(value: Any) -> list[bytes]:
    """orjson's bytes for ``value`` with Claude Code's hash edits (built from the parsed
    body: containers are walked, leaves are dumped by orjson)."""
    out: list[bytes] = []
    _walk(value, out)  # a body always has its "model"
    return out


# the keys the hash view edits, as orjson writes them (``"fallback`` stands for both
# fallback keys): a container whose bytes hold none of them is its own view, one dumps
# instead of a walk (most of a body is such)
# (one regular expression: 39 us over a 74 KB messages array, where the three substring
# searches took 100: each stops at every quote, and JSON is full of them)
_EDITED = re.compile(rb'"(?:m(?:odel|ax_tokens)"|fallback)')


def _view(value: Any, out: list[bytes]) -> bytes | None:
    """Appends ``value``'s view to ``out``; its orjson bytes when that is what it appended."""
    if isinstance(value, _NODES):
        raw = orjson.dumps(value)
        if _EDITED.search(raw) is None:
            out.append(raw)
            return raw
    _walk(value, out)
    return None


def _walk(value: Any, out: list[bytes], whole: dict[str, bytes] | None = None) -> None:
    """The view of ``value`` onto ``out``; ``whole`` (an object's): its members whose view
    is their own orjson bytes, by key."""
    if isinstance(value, dict):
        members = list(value.items())
        excluded = [k in _EXCLUDED for k, _ in members]
        keep = [True] * len(members)
        dangling = [False] * len(members)  # a comma left before "}" (Claude Code's quirk)
        n, start = len(members), 0
        while start < n:
            if not excluded[start]:
                start += 1
                continue
            end = start
            while end + 1 < n and excluded[end + 1]:
                end += 1
            for j in range(start, end + 1):
                keep[j] = False
            if end + 1 >= n and start > 0 and end > start:
                dangling[start - 1] = True
            start = end + 1
        out.append(b"{")
        first = True
        for j, (key, item) in enumerate(members):
            if not keep[j]:
                continue
            if not first:
                out.append(b",")
            first = False
            out.append(orjson.dumps(key) + b":")
            if key == "model" and isinstance(item, str):
                out.append(b'""')
            elif (raw := _view(item, out)) is not None and whole is not None:
                whole[key] = raw
            if dangling[j]:
                out.append(b",")
        out.append(b"}")
    elif isinstance(value, list):
        out.append(b"[")
        for j, item in enumerate(value):
            if j:
                out.append(b",")
            _view(item, out)
        out.append(b"]")
    else:
        out.append(orjson.dumps(value))


_CCH_SEED = 0x4D659218E32A3268


def xxh64(data: bytes, seed: int) -> int:
    """xxHash64 of ``data`` (the CCH hash)."""
    return int(xxhash.xxh64_intdigest(data, seed))
