"""Response body decoders of the protocol-level upstream client (:mod:`.fasthttp`):
gzip, deflate (with or without its zlib wrapper), zstd and, when ``brotli`` 1.2 or later is installed, br,
as aiohttp's ``auto_decompress`` decodes them; and, for a provider that asks for it
(``Provider.sniffs_compression``: Claude, as CPA), a body compressed with gzip or zstd
although no ``Content-Encoding`` said so, known by its magic number (:func:`undeclared`)."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol

from cliproxy.providers.transport import UndecodableBody, UpstreamNetworkError


class _NoZstdError(Exception):
    """Stands in for ``ZstdError`` when no zstd package is installed (never raised)."""


try:  # zstd: in the standard library from 3.14, else backports.zstd (aiohttp's choice too)
    from compression.zstd import ZstdDecompressor, ZstdError
except ImportError:  # pragma: no cover - the version installed decides
    try:
        from backports.zstd import ZstdDecompressor, ZstdError
    except ImportError:
        ZstdDecompressor = None
        ZstdError = _NoZstdError
try:
    import brotli
except ImportError:
    brotli = None
if brotli is not None and not hasattr(brotli.Decompressor, "can_accept_more_data"):
    brotli = None  # before 1.2 its decoder takes no output limit: br is not asked for nor read

__all__ = [
    "MAGIC_FIRST",
    "MAX_PIECE",
    "Decoder",
    "decode",
    "decoder_for",
    "decodes",
    "decoding",
    "sniffed",
    "undeclared",
    "undeclared_body",
]


class Decoder(Protocol):
    def decompress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


class _Zlib:
    """gzip, or deflate with or without its zlib wrapper (aiohttp tells them apart the same way).

    A body that stops before its compressed stream's end (no last block, or gzip's trailer
    missing) fails at ``flush``, as Go's readers fail it (``io.ErrUnexpectedEOF``) and CPA
    with them; aiohttp lets a short gzip body pass as if it were whole. An empty body
    (nothing to decode) is no failure. A gzip body of several members (concatenated gzip
    streams) is read to its end, as Go's ``gzip.Reader`` reads it (multistream), and bytes
    after a member that start no other fail as there."""

    __slots__ = ("_d", "_gzip")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._d: Any = None  # made by the first piece (deflate: its first byte says which)

    def decompress(self, data: bytes) -> bytes:
        d = self._d
        if d is None or (d.eof and self._gzip):  # (gzip: members one after another, as Go reads them)
            if self._gzip:
                wbits = 16 + zlib.MAX_WBITS
            else:
                wbits = zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS
            d = self._d = zlib.decompressobj(wbits)
        out = _bounded(d, data)
        while d.eof and self._gzip and d.unused_data:  # the next member came in the same piece
            rest, d = d.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._d = d
            out += _bounded(d, rest)
            if len(out) > MAX_PIECE:
                raise _bomb()
        return out

    def flush(self) -> bytes:
        d = self._d
        if d is None:
            return b""
        out = d.flush()
        if not d.eof:
            raise zlib.error("the compressed body ends before its end")
        return out


# What one piece of a compressed body may decode to, whatever its coding. Deflate expands up
# to ~1,000 times, zstd and brotli by far more (a few KiB of either can stand for GiB), so a
# read of a few hundred KiB could otherwise become hundreds of MiB at once, before the size
# limits of a stream's events or a whole answer (which count decoded bytes) see any of it.
# No honest JSON or SSE piece comes near this.
MAX_PIECE = 64 << 20


class _Bomb(ValueError):
    """A piece of a compressed body decodes to more than :data:`MAX_PIECE` bytes."""


def _bomb() -> _Bomb:
    return _Bomb(f"one piece of the compressed body decodes to more than {MAX_PIECE} bytes")


def _bounded(d: Any, data: bytes) -> bytes:
    out: bytes = d.decompress(data, MAX_PIECE)
    if d.unconsumed_tail:
        raise _bomb()
    return out


class _Zstd:
    """zstd, bounded as :class:`_Zlib`: a piece is decoded to one byte past
    :data:`MAX_PIECE` at most, and one that reaches it is refused."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d = ZstdDecompressor()

    def decompress(self, data: bytes) -> bytes:
        out: bytes = self._d.decompress(data, MAX_PIECE + 1)
        if len(out) > MAX_PIECE:
            raise _bomb()
        return out

    def flush(self) -> bytes:
        return b""


class _Brotli:
    """br, bounded the same way (``output_buffer_limit``, brotli 1.2): the decoder stops
    growing its output at the limit and says it holds more (``can_accept_more_data``)."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        d = self._d
        out: bytes = d.process(data, output_buffer_limit=MAX_PIECE + 1)
        if len(out) > MAX_PIECE or not d.can_accept_more_data():
            raise _bomb()
        return out

    def flush(self) -> bytes:
        return b""


_KNOWN = ("gzip", "x-gzip", "deflate", "zstd", "br")


def decodes(coding: str) -> bool:
    """Whether an answer in ``coding`` (a ``Content-Encoding`` token) can be decoded here."""
    if coding in ("gzip", "x-gzip", "deflate", "identity"):
        return True
    if coding == "zstd":
        return ZstdDecompressor is not None
    return coding == "br" and brotli is not None


class _Chain:
    """Codings applied one over the other (``Content-Encoding: gzip, zstd``, or the header
    repeated): undone from the last applied to the first, as CPA's ``decodeResponseBody``."""

    __slots__ = ("_steps",)

    def __init__(self, steps: list[Decoder]) -> None:
        self._steps = steps

    def decompress(self, data: bytes) -> bytes:
        for step in self._steps:
            if not data:
                break
            data = step.decompress(data)
        return data

    def flush(self) -> bytes:
        out = b""
        for step in self._steps:
            out = (step.decompress(out) if out else b"") + step.flush()
        return out


def decoder_for(encoding: str) -> Decoder | None:
    """The decoder of a ``Content-Encoding`` value (lower case; a list of codings applied in
    turn, ``gzip, zstd``, too); None for identity or an unknown coding (the body goes as it
    came, as aiohttp does); an error when no decoder is installed."""
    if encoding.find(",") >= 0:
        codings = [c.strip() for c in reversed(encoding.split(",")) if c.strip() not in ("", "identity")]
        if len(codings) == 1:
            return decoder_for(codings[0])
        if not codings or not all(c in _KNOWN for c in codings):
            return None  # an unknown coding among them: nothing can be undone in order
        return _Chain([d for c in codings if (d := decoder_for(c)) is not None])
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(True)
    if encoding == "deflate":
        return _Zlib(False)
    if encoding not in ("zstd", "br"):
        return None
    if not decodes(encoding):
        raise UpstreamNetworkError(
            "upstream request failed",
            detail=f"cannot decode content-encoding {encoding}: no decoder installed",
        )
    return _Zstd() if encoding == "zstd" else _Brotli()


_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# the first byte of either magic number: the one test a body that is neither pays (no JSON
# or SSE body starts with it); ``undeclared`` then reads the whole magic (4 bytes at most)
MAGIC_FIRST = (b"\x1f", b"\x28")
SNIFF_LIMIT = 1 << 20  # at most this much of a sniffed body is decoded


def undeclared(head: bytes) -> Decoder | None:
    """The decoder of a body that starts (``head``: its first bytes, 4 are enough) with
    gzip's or zstd's magic number although the answer named no ``Content-Encoding``: a
    gateway that compresses without saying so, which CPA's Claude executor decodes all the
    same (``decodeResponseBody``). None for any other start, or zstd with no zstd package."""
    if head.startswith(_GZIP_MAGIC):
        return _Zlib(True)
    if head.startswith(_ZSTD_MAGIC) and ZstdDecompressor is not None:
        return _Zstd()
    return None


def decode(step: Callable[..., bytes], *data: bytes) -> bytes:
    """One decoder step (``decompress`` of ``data``, or ``flush``), its failure an
    :class:`UndecodableBody` (a broken read, in the transport contract)."""
    try:
        return step(*data)
    except Exception as exc:  # zlib.error, zstd / brotli errors, a bomb
        raise UndecodableBody(f"cannot decode the upstream body: {exc}") from exc


def decoding(push: Callable[[bytes], int], decoder: Decoder) -> Callable[[bytes], int]:
    """A push consumer (``fastconn.Push``) fed what ``decoder`` makes of each piece (a
    piece that makes nothing yet is taken: 0, read on); a piece that cannot be decoded
    raises :class:`UndecodableBody`. The caller flushes the decoder at the body's end."""

    def pushed(data: bytes) -> int:
        out = decode(decoder.decompress, data)
        return push(out) if out else 0

    return pushed


def undeclared_body(body: bytes) -> bytes:
    """A whole body decoded when :func:`undeclared` knows its magic number, else as it is."""
    decoder = undeclared(body[:4])
    if decoder is None:
        return body
    return decode(decoder.decompress, body) + decode(decoder.flush)


def sniffed(body: bytes, limit: int = SNIFF_LIMIT) -> bytes:
    """``body`` decoded when it starts with gzip's or zstd's magic bytes although the
    answer named no ``Content-Encoding`` (a gateway that compresses without saying so;
    CPA's ``decodeResponseBody`` sniffs the same two); else, or when it does not decode,
    ``body`` as it is. At most ``limit`` bytes come out."""
    try:
        if body.startswith(_GZIP_MAGIC):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return d.decompress(body, limit)
        if body.startswith(_ZSTD_MAGIC) and ZstdDecompressor is not None:
            return bytes(ZstdDecompressor().decompress(body, limit))
    except (zlib.error, ZstdError, ValueError, EOFError):
        return body
    return body
