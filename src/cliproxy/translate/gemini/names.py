"""Function names Gemini accepts, and the way back to the client's names.

Gemini wants ``^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$``. Other formats allow more, so names
are sanitized on the way in and restored from the request's own tool list on the way
out: the mapping is a pure function of ``Request.tools`` (no state to keep).
"""

from __future__ import annotations

import hashlib
import re

import orjson

from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name

__all__ = ["NameMap", "sanitize"]

_INVALID = re.compile(r"[^A-Za-z0-9_.:-]")
_VALID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
MAX_LEN = 64


def _suffix(original: str, attempt: int = 0) -> str:
    return "_" + hashlib.sha1(f"{original}\x00{attempt}".encode()).hexdigest()[:6]


def sanitize(name: str) -> str:
    """A Gemini-valid name for ``name`` (unchanged when already valid)."""
    if _VALID.match(name):
        return name
    out = _INVALID.sub("_", name) or "_"
    if not (out[0].isascii() and (out[0].isalpha() or out[0] == "_")):
        out = "_" + out
    if len(out) > MAX_LEN:
        suffix = _suffix(name)
        out = out[: MAX_LEN - len(suffix)] + suffix
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
        funcs = [t for t in tools if t.kind != "builtin"]
        # valid names keep themselves; sanitized ones must not take a valid name
        for tool in sorted(funcs, key=lambda t: not _VALID.match(flat_name(t.name, t.namespace))):
            flat = flat_name(tool.name, tool.namespace)
            if flat in self._fwd:
                continue
            gname = sanitize(flat)
            attempt = 0
            while gname in self._back:  # two names sanitized alike: disambiguate
                suffix = _suffix(flat, attempt)
                gname = sanitize(flat)[: MAX_LEN - len(suffix)] + suffix
                attempt += 1
            self._fwd[flat] = gname
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
