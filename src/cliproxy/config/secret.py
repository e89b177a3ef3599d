"""The management secret: stored as a bcrypt hash, as CPA does."""

from __future__ import annotations

import hmac

import bcrypt

from .document import ConfigDocument

__all__ = ["hash_secret", "hash_secret_in_place", "looks_like_bcrypt", "verify_secret"]

SECRET_KEY_PATH = ("remote-management", "secret-key")
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_COST = 10  # Go's bcrypt.DefaultCost


def looks_like_bcrypt(value: str) -> bool:
    """True for a bcrypt hash (``$2a$``, ``$2b$`` or ``$2y$``)."""
    return len(value) > 4 and value[:4] in _BCRYPT_PREFIXES


def hash_secret(plain: str) -> str:
    """A bcrypt hash of ``plain`` at Go's default cost."""
    return bcrypt.hashpw(plain.encode("utf-8"), bcrypt.gensalt(rounds=_COST)).decode("ascii")


def verify_secret(candidate: str, stored: str) -> bool:
    """Compare a presented key with the stored one (hash or, before hashing, plaintext)."""
    if not stored:
        return False
    if not looks_like_bcrypt(stored):
        return hmac.compare_digest(candidate.encode("utf-8"), stored.encode("utf-8"))
    try:
        return bcrypt.checkpw(candidate.encode("utf-8"), stored.encode("ascii"))
    except ValueError:
        return False


def hash_secret_in_place(doc: ConfigDocument) -> bool:
    """Replace a plaintext ``remote-management.secret-key`` by its hash; True if changed.

    The caller saves the document (CPA writes the hash back into the file).
    """
    value = doc.get(SECRET_KEY_PATH)
    if not isinstance(value, str) or not value or looks_like_bcrypt(value):
        return False
    doc.set(SECRET_KEY_PATH, hash_secret(value), validate=False)
    return True
