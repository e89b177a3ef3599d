"""The request head Go's ``net/http`` writes, for an upstream whose native client is a Go
program: Antigravity (Cloud Code), whose language server is Go and which CPA reaches through
the same ``net/http`` transport (``newAntigravityHTTPClient``; its executor sets only
Content-Type, Authorization and User-Agent). An account's pools send with this policy
(``HttpClient(go_wire=True)``, :mod:`.account_pools`); every other upstream keeps the
header set of its own native client.

What Go puts on the wire, in this order (``Request.write``, ``persistConn.roundTrip``):

- ``Host``;
- ``User-Agent`` (``Go-http-client/1.1`` when the request names none; no line when it
  names an empty one);
- ``Content-Length`` (when there is a body, and for every method but GET and HEAD: ``0``);
- every other header, sorted by its canonical name (``textproto.CanonicalMIMEHeaderKey``:
  ``content-type`` is written ``Content-Type``; a later spelling of a name replaces an
  earlier one, as ``Header.Set``);
- last, the transport's own ``Accept-Encoding: gzip``, unless the request names an
  Accept-Encoding or a Range, or is a HEAD. Go then gunzips an answer whose
  ``Content-Encoding`` is ``gzip`` and drops that header and its ``Content-Length`` (which
  counted the compressed bytes): :func:`gunzipped` and :func:`gunzipped_block` do the same to
  the headers a plugin, the request log or the classifier read. (:mod:`.decoding` decodes
  every answer that names a coding, on both upstream paths.)

Nothing else: no ``Accept`` (aiohttp and the fast client add ``Accept: */*`` for every other
upstream), no Content-Type of its own, no Connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["DEFAULT_AGENT", "canonical", "gunzipped", "gunzipped_block", "gunzips", "ordered"]

DEFAULT_AGENT = "Go-http-client/1.1"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_LEFT_OUT = frozenset({"Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer"})
_NO_LENGTH = ("GET", "HEAD")


def canonical(name: str) -> str:
    """``name`` as Go writes it: the first letter and each one after a hyphen upper case,
    the rest lower case; a name with a byte that no header name may hold, as it is."""
    if not _TOKEN.fullmatch(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def ordered(method: str, headers: Mapping[str, str], length: str, body: bool) -> list[tuple[str, str]]:
    """The header lines Go writes for a request with ``headers``, in Go's order, ``Host``
    first (its value: a ``Host`` header's, else ``""`` for the caller to fill in from the
    URL). ``length`` is the Content-Length value to write; ``body``: the request has one."""
    host, agent = "", DEFAULT_AGENT
    rest: dict[str, str] = {}
    for name, value in headers.items():
        key = canonical(name)
        if key in _LEFT_OUT:
            if key == "Host":
                host = value.strip(" \t")
            elif key == "User-Agent":
                agent = value.strip(" \t")
            continue  # Go writes the framing itself
        rest[key] = value.strip(" \t")
    lines = [("Host", host)]
    if agent:
        lines.append(("User-Agent", agent))
    if body or method not in _NO_LENGTH:
        lines.append(("Content-Length", length))
    lines += [(key, rest[key]) for key in sorted(rest)]
    if method != "HEAD" and "Accept-Encoding" not in rest and "Range" not in rest:
        lines.append(("Accept-Encoding", "gzip"))
    return lines


_DROPPED = (b"content-encoding:", b"content-length:")


def gunzipped_block(block: bytes) -> bytes:
    """An answer's head block (``HTTP/1.1 200 OK\\r\\nName: value\\r\\n...``) as Go's transport
    leaves it after gunzipping: without ``Content-Encoding`` and ``Content-Length``."""
    lines = block.split(b"\r\n")
    return b"\r\n".join([lines[0], *[line for line in lines[1:] if not line.lower().startswith(_DROPPED)]])


def gunzipped(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    """``headers`` without ``Content-Encoding`` and ``Content-Length`` (see above)."""
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in ("content-encoding", "content-length"):
            kept.add(name, value)
    return CIMultiDictProxy(kept)


def gunzips(headers: Mapping[str, str]) -> bool:
    """Whether Go's transport would gunzip an answer with ``headers`` (its first
    ``Content-Encoding`` is ``gzip``, in any case)."""
    return headers.get("Content-Encoding", "").strip().lower() == "gzip"
