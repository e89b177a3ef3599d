"""RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256) from a PEM private key, stdlib only.

Google service-account JSON carries its key as PKCS#8 (``BEGIN PRIVATE KEY``); older
exports use PKCS#1 (``BEGIN RSA PRIVATE KEY``). Both are read here with a minimal DER
reader, and signing is a CRT modular exponentiation. PKCS#1 v1.5 signatures are
deterministic, so the output equals any other correct implementation's byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

__all__ = ["RSAKey", "load_pem_private_key", "sign_rs256"]

_PEM = re.compile(r"-----BEGIN ((?:RSA )?PRIVATE KEY)-----(.*?)-----END \1-----", re.S)
_RSA_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True, slots=True)
class RSAKey:
    """An RSA private key with its CRT parameters."""

    n: int
    e: int
    d: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    @property
    def size(self) -> int:
        """The modulus length in bytes."""
        return (self.n.bit_length() + 7) // 8


def load_pem_private_key(pem: str) -> RSAKey:
    """Parse a PKCS#8 or PKCS#1 RSA private key in PEM. Raises ``ValueError``."""
    text = pem.replace("\\n", "\n").replace("\r", "")
    match = _PEM.search(text)
    if match is None:
        raise ValueError("private_key is not a PEM private key")
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"private_key base64 is invalid: {exc}") from None
    if match.group(1) == "PRIVATE KEY":
        der = _pkcs8_inner(der)
    return _pkcs1_key(der)


def sign_rs256(key: RSAKey, message: bytes) -> bytes:
    """The RSASSA-PKCS1-v1_5 SHA-256 signature of ``message``."""
    t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    k = key.size
    if k < len(t) + 11:
        raise ValueError("RSA key too short for SHA-256 signatures")
    em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    m = int.from_bytes(em, "big")
    m1 = pow(m, key.dp, key.p)
    m2 = pow(m, key.dq, key.q)
    h = (key.qinv * (m1 - m2)) % key.p
    return (m2 + h * key.q).to_bytes(k, "big")


# -- DER ------------------------------------------------------------------------


def _read(der: bytes, pos: int) -> tuple[int, bytes, int]:
    """One TLV at ``pos``: (tag, value, next position)."""
    if pos + 2 > len(der):
        raise ValueError("truncated DER")
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(der):
            raise ValueError("bad DER length")
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(der):
        raise ValueError("truncated DER")
    return tag, der[pos:end], end


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(value):
        tag, inner, pos = _read(value, pos)
        out.append((tag, inner))
    return out


def _sequence(der: bytes) -> list[tuple[int, bytes]]:
    tag, value, _ = _read(der, 0)
    if tag != 0x30:
        raise ValueError("expected a DER SEQUENCE")
    return _children(value)


def _pkcs8_inner(der: bytes) -> bytes:
    items = _sequence(der)
    if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
        raise ValueError("not a PKCS#8 private key")
    algorithm = _children(items[1][1])
    if not algorithm or algorithm[0] != (0x06, _RSA_OID):
        raise ValueError("private_key is not an RSA key")
    return items[2][1]


def _pkcs1_key(der: bytes) -> RSAKey:
    items = _sequence(der)
    if len(items) < 9 or any(tag != 0x02 for tag, _ in items[:9]):
        raise ValueError("not a PKCS#1 RSA private key")
    n, e, d, p, q, dp, dq, qinv = (int.from_bytes(v, "big") for _, v in items[1:9])
    return RSAKey(n, e, d, p, q, dp, dq, qinv)
