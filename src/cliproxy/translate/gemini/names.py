"""Function names Gemini accepts, and the way back to the client's names.

Gemini wants ``^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$``. Other formats allow more, so names
are sanitized on the way in and restored from the request's own tool list on the way
out: the mapping is a pure function of the request's tools (no state to keep).

The rules are CPA's (``SanitizeFunctionName``, ``SanitizedFunctionNameMap``):

* :func:`sanitize`: every character outside ``[A-Za-z0-9_.:-]`` becomes ``_``, a name
  that does not start with a letter or ``_`` gets a leading ``_``, and the result is cut
  at 64 characters;
* :func:`disambiguated`: the declared names, taken once each and in sorted order (so the
  mapping does not depend on the order of the declarations), keep their sanitized form
  unless another declared name sanitizes to the same one: then every one of them gets
  ``_`` and 12 hex digits of a SHA-256 of its original name, after its sanitized form cut
  to fit 64 characters. Two long names that share their first 64 characters, or
  ``read/file`` beside ``read_file``, thus stay apart and each comes back as itself.

One difference: CPA sanitizes an empty name to ``""``; ours gives ``"_"``, a valid name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import orjson

from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name

__all__ = ["NameMap", "disambiguated", "sanitize"]

_INVALID = re.compile(r"[^A-Za-z0-9_.:-]")
_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
MAX_LEN = 64


def sanitize(name: str) -> str:
    """A Gemini-valid name for ``name`` (unchanged when already valid)."""
    if _VALID.match(name):
        return name
    out = _INVALID.sub("_", name)
    if not out:
        return "_"
    first = out[0]
    if not (first == "_" or ("a" <= first <= "z") or ("A" <= first <= "Z")):
        out = "_" + out
    return out[:MAX_LEN]


def _suffixed(base: str, original: str, taken: dict[str, str]) -> str:
    """``base`` cut to leave room for a hash of ``original`` (and of an attempt count,
    until the result is a name not ``taken``)."""
    attempt = 0
    while True:
        digest = hashlib.sha256(f"{original}\x00{attempt}".encode()).hexdigest()[:12]
        candidate = f"{base[: MAX_LEN - 13]}_{digest}"
        if candidate not in taken:
            return candidate
        attempt += 1


def disambiguated(names: Iterable[str]) -> dict[str, str]:
    """Each distinct non-empty name of ``names`` -> the name Gemini gets for it (see the
    module docstring); all names unchanged when they all are valid already."""
    unique = dict.fromkeys(n for n in names if n)
    if all(_VALID.match(n) for n in unique):
        return {n: n for n in unique}
    bases = {n: sanitize(n) for n in unique}
    counts: dict[str, int] = {}
    for base in bases.values():
        counts[base] = counts.get(base, 0) + 1
    out: dict[str, str] = {}
    taken: dict[str, str] = {}  # sent name -> original
    for name in sorted(unique):
        base = bases[name]
        sent = _suffixed(base, name, taken) if counts[base] > 1 or base in taken else base
        out[name] = sent
        taken[sent] = name
    return out


class NameMap:
    """Client tool names <-> Gemini names for one request's tools."""

    __slots__ = ("_back", "_fwd", "_kinds")

    def __init__(self, tools: list[ir.Tool] | None) -> None:
        self._fwd: dict[str, str] = {}
        self._back: dict[str, tuple[str, str | None]] = {}
        self._kinds: dict[str, str] = {}
        if not tools:
            return  # no tools: nothing to map (the common request)
        funcs = [(flat_name(t.name, t.namespace), t) for t in tools if t.kind != "builtin"]
        self._fwd = disambiguated(flat for flat, _ in funcs)
        for flat, tool in funcs:
            gname = self._fwd.get(flat)
            if gname is None or gname in self._back:
                continue  # an empty name, or one declared twice: the first declaration wins
            self._back[gname] = (tool.name, tool.namespace)
            self._kinds[gname] = tool.kind

    def to_gemini(self, name: str, namespace: str | None = None) -> str:
        flat = flat_name(name, namespace)
        return self._fwd.get(flat) or sanitize(flat)

    def from_gemini(self, gname: str) -> tuple[str, str | None]:
        """(name, namespace) the client knows for a name Gemini used."""
        return self._back.get(gname, (gname, None))

    @staticmethod
    def custom_input(args: dict[str, object]) -> str:
        """The free-form input of a custom-tool call from its ``args`` (CPA's
        ``UnwrapResponsesCustomToolInput``): ``input`` as text, or as JSON text when
        the model sent an object; ``""`` when absent."""
        value = args.get("input")
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        return orjson.dumps(value).decode()

    def is_custom(self, gname: str) -> bool:
        """True when the Gemini function stands for a Responses free-form tool."""
        return self._kinds.get(gname) == "custom"
