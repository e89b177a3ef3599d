"""RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256) from a PEM private key.

Google service-account JSON carries its key as PKCS#8 (``BEGIN PRIVATE KEY``); older
exports use PKCS#1 (``BEGIN RSA PRIVATE KEY``). Parsing and signing are ``cryptography``'s
(OpenSSL: constant-time, blinded); this module only finds the PEM block in what a user
pasted (literal ``\\n`` escapes, CRLF, text around it) and turns every failure into one
``ValueError`` with a message fit for an API answer (never the key itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["RSAKey", "load_pem_private_key", "sign_rs256"]

_PEM = re.compile(r"-----BEGIN ((?:RSA )?PRIVATE KEY)-----(.*?)-----END \1-----", re.S)
_MIN_BITS = 1024


@dataclass(frozen=True, slots=True)
class RSAKey:
    """An RSA private key; ``n`` and ``e`` are its public numbers (equal keys compare equal)."""

    n: int
    e: int
    private: rsa.RSAPrivateKey = field(repr=False, compare=False)

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
        key = serialization.load_pem_private_key(match.group(0).encode("ascii"), password=None)
    except TypeError:  # a password-protected key
        raise ValueError("private_key is encrypted; service-account keys are not") from None
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise ValueError("private_key is not a valid PEM RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("private_key is not an RSA key")
    if key.key_size < _MIN_BITS:
        raise ValueError(f"private_key is too short ({key.key_size} bits, RS256 needs {_MIN_BITS} or more)")
    public = key.public_key().public_numbers()
    return RSAKey(public.n, public.e, key)


def sign_rs256(key: RSAKey, message: bytes) -> bytes:
    """The RSASSA-PKCS1-v1_5 SHA-256 signature of ``message``."""
    return key.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
