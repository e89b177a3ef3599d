"""TLS for the fakes: a throwaway CA-less self-signed certificate, a fake served over
HTTPS, and a TCP front that records each connection's raw ClientHello before piping it on.

``Hello`` parses one ClientHello record and computes its JA3 and JA4 strings, so a test
can compare a client's hello with a captured fingerprint:

    cert = make_cert(tmp_path)                       # api.anthropic.com, chatgpt.com, localhost, 127.0.0.1
    await serve_tls(fake, cert)                      # the fake now speaks HTTPS
    front = await HelloFront(fake.port).start()      # clients dial front.port
    front.hellos[0].ja3, front.hellos[0].ja4
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import ipaddress
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.server import FakeServer

__all__ = ["Cert", "Hello", "HelloFront", "make_cert", "serve_tls"]

_GREASE = {0x0A0A + 0x1010 * i for i in range(16)}


@dataclass(frozen=True, slots=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_cert(
    directory: Path, names: tuple[str, ...] = ("api.anthropic.com", "chatgpt.com", "localhost")
) -> Cert:
    """A self-signed leaf (its own trust anchor) for ``names`` and 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans.append(x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Cert(cert_path, key_path)


async def serve_tls(fake: FakeServer, cert: Cert) -> FakeServer:
    """Start ``fake`` on the running loop over HTTPS (stop it with ``fake.stop()``)."""
    runner = web.AppRunner(fake.build_app(), shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=cert.server_context())
    await site.start()
    fake.port = runner.addresses[0][1]
    fake._runner = runner
    return fake


def _u16s(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2)]


@dataclass(slots=True)
class Hello:
    """One TLS ClientHello record, parsed."""

    record: bytes
    ciphers: list[int] = field(default_factory=list)
    extensions: list[tuple[int, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rec = self.record
        if len(rec) < 9 or rec[0] != 22 or rec[5] != 1:
            raise ValueError("not a TLS ClientHello record")
        body = rec[9:]
        at = 2 + 32
        at += 1 + body[at]  # session id
        (n,) = struct.unpack_from(">H", body, at)
        self.ciphers = _u16s(body[at + 2 : at + 2 + n])
        at += 2 + n
        at += 1 + body[at]  # compression methods
        (n,) = struct.unpack_from(">H", body, at)
        at, end = at + 2, at + 2 + n
        while at + 4 <= end:
            kind, size = struct.unpack_from(">HH", body, at)
            self.extensions.append((kind, body[at + 4 : at + 4 + size]))
            at += 4 + size

    @property
    def length(self) -> int:
        """The handshake body length (CPA's "ClientHello length")."""
        return len(self.record) - 9

    def ext(self, kind: int) -> bytes | None:
        return next((data for k, data in self.extensions if k == kind), None)

    @property
    def extension_types(self) -> list[int]:
        return [k for k, _ in self.extensions if k not in _GREASE]

    @property
    def extension_lengths(self) -> list[tuple[int, int]]:
        return [(k, len(d)) for k, d in self.extensions if k not in _GREASE]

    @property
    def groups(self) -> list[int]:
        data = self.ext(10) or b"\x00\x00"
        return [g for g in _u16s(data[2:]) if g not in _GREASE]

    @property
    def point_formats(self) -> list[int]:
        data = self.ext(11) or b"\x00"
        return list(data[1:])

    @property
    def sigalgs(self) -> list[int]:
        data = self.ext(13) or b"\x00\x00"
        return _u16s(data[2:])

    @property
    def versions(self) -> list[int]:
        data = self.ext(43) or b"\x00"
        return [v for v in _u16s(data[1:]) if v not in _GREASE]

    @property
    def key_share_groups(self) -> list[int]:
        data = self.ext(51) or b"\x00\x00"
        out, at = [], 2
        while at + 4 <= len(data):
            group, size = struct.unpack_from(">HH", data, at)
            if group not in _GREASE:
                out.append(group)
            at += 4 + size
        return out

    @property
    def alpn(self) -> list[str]:
        data = self.ext(16)
        if data is None:
            return []
        out, at = [], 2
        while at < len(data):
            size = data[at]
            out.append(data[at + 1 : at + 1 + size].decode())
            at += 1 + size
        return out

    @property
    def ja3(self) -> str:
        legacy_version = int.from_bytes(self.record[9:11], "big")
        parts = (
            [c for c in self.ciphers if c not in _GREASE],
            self.extension_types,
            self.groups,
            self.point_formats,
        )
        return f"{legacy_version}," + ",".join("-".join(map(str, p)) for p in parts)

    @property
    def ja3_md5(self) -> str:
        return hashlib.md5(self.ja3.encode()).hexdigest()  # JA3 is MD5 by definition

    @property
    def ja4(self) -> str:
        """FoxIO JA4 (TCP): version, SNI, counts, ALPN; sorted ciphers; sorted extensions
        (without SNI and ALPN) and signature algorithms in order."""
        ciphers = [c for c in self.ciphers if c not in _GREASE]
        exts = self.extension_types
        top = max(self.versions) if self.versions else int.from_bytes(self.record[9:11], "big")
        version = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}.get(top, "00")
        sni = "d" if 0 in exts else "i"
        alpn = self.alpn[0] if self.alpn else ""
        alpn_tag = alpn[0] + alpn[-1] if alpn else "00"
        a = f"t{version}{sni}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn_tag}"
        b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers)))
        ext_text = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (0, 16)))
        sigs = ",".join(f"{s:04x}" for s in self.sigalgs)
        c = _sha12(ext_text + ("_" + sigs if sigs else ""))
        return f"{a}_{b}_{c}"


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class HelloFront:
    """A TCP front on 127.0.0.1: reads each connection's first TLS record (the
    ClientHello), keeps it in ``hellos``, then pipes the connection to ``target_port``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hellos: list[Hello] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_writer: asyncio.StreamWriter | None = None
        try:
            head = await reader.readexactly(5)
            record = head + await reader.readexactly(int.from_bytes(head[3:5], "big"))
            self.hellos.append(Hello(record))
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            up_writer.write(record)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            pass  # a cancel is ``stop``: the handler ends quietly
        finally:
            writers = [w for w in (writer, up_writer) if w is not None]
            for w in writers:  # close both before any await: a cancel may land in one
                w.close()
            for w in writers:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await w.wait_closed()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
