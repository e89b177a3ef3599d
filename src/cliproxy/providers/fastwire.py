"""The bytes of the protocol-level upstream client (:mod:`.fasthttp`): request heads built
once per header set and reused, and response headers decoded only when someone reads them.

A request head depends on the method, the URL, the caller's headers and whether there is
a body; only its Content-Length changes from one request to the next. :func:`head_template`
builds it once as the bytes before and after that number (the client keeps them per
header set), so a request with the same headers as an earlier one costs one dictionary
look-up and one join.

A response head arrives as one block of bytes (llhttp has checked its syntax: CRLF line
ends, no folded lines, no whitespace before a colon or after a value). :class:`Headers`
keeps that block and builds the case-insensitive multidict the first time it is read: on
most answers nobody reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, KeysView, Mapping, ValuesView
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.providers.gowire import ordered
from cliproxy.providers.transport import HEADER_BYTES, header_line_break

__all__ = ["Headers", "head_bytes", "head_template"]

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_SLOT = "\x00"  # where the Content-Length digits go in a template (never a valid header byte)

Template = tuple[bytes, bytes | None]  # (head, None): no length; (before, after): the digits between


def _lines(
    method: str, path: str, host: str, headers: Mapping[str, str], body: bytes | None, size: str, go: bool
) -> str:
    """The request line and headers: ``Host`` first, the caller's headers in their order,
    then what aiohttp would add (``Accept: */*``, Content-Length, a body's Content-Type);
    ``size`` is the Content-Length value. A line break or another control character in
    any part is refused. A name that comes again in another case (a credential's
    ``headers:`` over a provider's own) takes the earlier one's place with its value, as
    aiohttp sends such a dict: one header, not two. ``go``: the names, order and additions of Go's ``net/http`` instead (:mod:`.gowire`)."""
    if _SLOT in path or _SLOT in "".join(headers) or _SLOT in "".join(headers.values()):
        raise header_line_break()
    if go:
        found = ordered(method, headers, size, bool(body))
        found[0] = ("Host", found[0][1] or host)
        lines = [f"{method} {path} HTTP/1.1", *[f"{name}: {value}" for name, value in found], "", ""]
        return _checked(lines)
    lines = [f"{method} {path} HTTP/1.1", ""]
    host_line = f"Host: {host}"
    accept = typed = sized = False
    named: dict[str, tuple[str, int]] = {}  # lower-case name: (the name as given, its line)
    for name, value in headers.items():
        low = name.lower()
        if low == "host":
            host_line = f"{name}: {value}"
            continue
        if low == "transfer-encoding":
            continue  # the body goes with a Content-Length
        earlier = named.get(low)
        if earlier is not None and earlier[0] != name:
            if low != "content-length":  # one length: the real one, in the first one's place
                lines[earlier[1]] = f"{name}: {value}"
                named[low] = (name, earlier[1])
            continue
        if low == "content-length":
            value, sized = size, True  # the real length, in the caller's place
        elif low == "accept":
            accept = True
        elif low == "content-type":
            typed = True
        named[low] = (name, len(lines))
        lines.append(f"{name}: {value}")
    lines[1] = host_line
    if not accept:
        lines.append("Accept: */*")
    if not sized and (body is not None or method in _WITH_BODY):
        lines.append(f"Content-Length: {size}")
    if body and not typed:
        lines.append("Content-Type: application/octet-stream")
    lines += ("", "")
    return _checked(lines)


def _checked(lines: list[str]) -> str:
    """``lines`` joined, refused when any holds a line break or another control character
    of its own (a NUL is the placeholder here: :func:`_lines` refused the caller's)."""
    text = "\r\n".join(lines)
    # what is left of the head without the bytes a header may hold: its control bytes, which
    # must be its CR LF line ends and our NUL slot (one C pass; a regex search of a
    # 17-header head took 2.3 us, this 0.8)
    controls = text.encode("utf-8", "surrogateescape").translate(None, HEADER_BYTES)
    if controls.replace(b"\x00", b"") != b"\r\n" * (len(lines) - 1):
        raise header_line_break()
    return text


def head_bytes(
    method: str, path: str, host: str, headers: Mapping[str, str], body: bytes | None, go: bool = False
) -> bytes:
    """The whole head of one request (no template)."""
    return _lines(method, path, host, headers, body, str(len(body) if body else 0), go).encode(
        "utf-8", "surrogateescape"
    )


def head_template(
    method: str, path: str, host: str, headers: Mapping[str, str], body: bytes | None, go: bool = False
) -> Template | None:
    """The head as the bytes before and after its Content-Length digits (``after`` None: the
    head has no Content-Length); None when it cannot be one template (several
    Content-Length headers, or a value that holds the placeholder byte)."""
    raw = _lines(method, path, host, headers, body, _SLOT, go).encode("utf-8", "surrogateescape")
    parts = raw.split(b"\x00")
    if len(parts) == 1:
        return raw, None
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


class Headers(Mapping[str, str]):
    """An answer's headers: case-insensitive, several values per name, with the reading
    methods of aiohttp's ``CIMultiDictProxy``; decoded from the head block the first time
    they are read.

    No ``__getattr__`` forwarding the rest: a class that has one pays it on every
    attribute read, its own included (CPython's slot hook calls ``__getattribute__``
    through a bound wrapper first): about 1,000 instructions a read, three reads a
    request."""

    __slots__ = ("_block", "_md")

    def __init__(self, block: bytes) -> None:
        self._block = block  # b"HTTP/1.1 200 OK\r\nName: value\r\n...\r\n" (its first line is not read)
        self._md: CIMultiDictProxy[str] | None = None

    def _all(self) -> CIMultiDictProxy[str]:
        md = self._md
        if md is None:
            found: CIMultiDict[str] = CIMultiDict()
            for line in self._block.decode("utf-8", "surrogateescape").split("\r\n")[1:]:
                if line:
                    name, _, value = line.partition(":")
                    found.add(name, value.lstrip(" \t"))  # llhttp allows no whitespace after a value
            md = self._md = CIMultiDictProxy(found)
        return md

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __contains__(self, key: object) -> bool:
        return key in self._all()

    def __eq__(self, other: object) -> bool:
        return self._all() == (other._all() if isinstance(other, Headers) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._all())

    def get(self, key: str, default: Any = None) -> Any:
        return self._all().get(key, default)

    def getone(self, key: str, default: Any = ...) -> Any:
        md = self._all()
        return md.getone(key) if default is ... else md.getone(key, default)

    def getall(self, key: str, default: Any = ...) -> Any:
        md = self._all()
        return md.getall(key) if default is ... else md.getall(key, default)

    def items(self) -> Any:
        return self._all().items()

    def keys(self) -> KeysView[str]:
        return self._all().keys()

    def values(self) -> ValuesView[str]:
        return self._all().values()

    def copy(self) -> CIMultiDict[str]:
        return self._all().copy()
