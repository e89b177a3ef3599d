"""Signatures without an envelope, recognised the way CPA does (``internal/signature``):
xAI's Grok ``encrypted_content`` by its transport shape (:func:`inspect_grok`) and Kimi's
thinking signature by its two fixed lengths (:func:`inspect_kimi`), each only after every
enveloped family (:mod:`cliproxy.translate.envelopes`) has declined it.
"""

from __future__ import annotations

import base64
import binascii
import math

from cliproxy.translate.envelopes import (
    SignatureError,
    gemini_native,
    is_valid_cais,
    is_valid_claude,
)

__all__ = [
    "GROK_MAX_LEN",
    "GROK_MIN_DECODED",
    "GROK_MIN_ENTROPY",
    "KIMI_LENGTHS",
    "KIMI_MIN_ENTROPY",
    "inspect_grok",
    "inspect_kimi",
    "is_valid_grok",
    "is_valid_kimi",
]


# --------------------------------------------------------------------------- Grok

GROK_MAX_LEN = 8 << 20  # CPA MaxGrokEncryptedContentLen
GROK_MIN_DECODED = 32  # CPA MinGrokEncryptedContentDecodedLen (observed: 43 and up)
GROK_MIN_ENTROPY = 0.85  # CPA MinGrokEncryptedContentEntropyRatio (observed: 0.892 and up)
_GROK_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
# Kimi's signature length is fixed per code path, whatever the thinking (CPA kimi_validation.go):
# unpadded base64 of 9709 bytes (a whole response) or 3255 bytes (a stream's signature_delta).
KIMI_LENGTHS = {12946: "non_streaming", 4340: "streaming"}
KIMI_MIN_ENTROPY = 0.85  # CPA MinKimiThinkingSignatureEntropyRatio (observed: 0.997 and up)


def inspect_grok(raw: str) -> int:
    """The decoded length of xAI's ``encrypted_content`` ``raw``; raises SignatureError
    when its shape is not Grok's (CPA ``InspectGrokEncryptedContent``).

    Grok's blobs have no envelope (uniform random bytes as unpadded standard base64),
    so this only says a value *may* be Grok's: long enough, high entropy, and not another
    family's envelope or Kimi's signature length. Ask it only of a value already known to
    come from, or go to, xAI."""
    sig = raw.strip()
    if not sig:
        raise SignatureError("empty Grok encrypted_content")
    if len(sig) > GROK_MAX_LEN:
        raise SignatureError("Grok encrypted_content exceeds maximum length")
    if sig != raw:
        raise SignatureError("Grok encrypted_content has leading or trailing whitespace")
    if not _GROK_ALPHABET.issuperset(sig.encode("utf-8", "replace")):
        raise SignatureError("invalid Grok encrypted_content: expected unpadded standard base64")
    if sig[0] in "CERg":  # the first characters of every self-describing envelope
        if sig.startswith("gAAAA"):
            raise SignatureError("Grok encrypted_content looks like GPT/Codex reasoning")
        if is_valid_claude(sig, strict=True):
            raise SignatureError("Grok encrypted_content looks like a Claude thinking signature")
        if is_valid_cais(sig):
            raise SignatureError("Grok encrypted_content looks like a Claude CAIS thinking signature")
        if gemini_native(sig):
            raise SignatureError("Grok encrypted_content looks like a Gemini thoughtSignature")
    if len(sig) in KIMI_LENGTHS:
        raise SignatureError("Grok encrypted_content has a Kimi thinking signature length")
    try:
        decoded = base64.b64decode(sig + "=" * (-len(sig) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"invalid Grok encrypted_content: base64 decode failed: {exc}") from None
    if len(decoded) < GROK_MIN_DECODED:
        raise SignatureError(
            f"invalid Grok encrypted_content: decoded payload too short ({len(decoded)} bytes)"
        )
    ratio = _entropy_ratio(decoded)
    if ratio < GROK_MIN_ENTROPY:
        raise SignatureError(
            f"invalid Grok encrypted_content: decoded payload entropy ratio {ratio:.3f} too low"
        )
    return len(decoded)


def is_valid_grok(raw: str) -> bool:
    try:
        inspect_grok(raw)
    except SignatureError:
        return False
    return True


def inspect_kimi(raw: str) -> str:
    """The code path (``non_streaming`` / ``streaming``) that issued Kimi thinking signature
    ``raw``; raises SignatureError when its shape is not Kimi's (CPA
    ``InspectKimiThinkingSignature``). Kimi's signatures have no envelope: only their
    length, unpadded standard base64 and high entropy say whose they are, so this is asked
    after every self-describing envelope has declined (and declines them itself)."""
    sig = raw.strip()
    if not sig or sig != raw:
        raise SignatureError("Kimi thinking signature is empty or has surrounding whitespace")
    if (mode := KIMI_LENGTHS.get(len(sig))) is None:
        raise SignatureError(f"invalid Kimi thinking signature: unexpected length {len(sig)}")
    if not _GROK_ALPHABET.issuperset(sig.encode("utf-8", "replace")):
        raise SignatureError("invalid Kimi thinking signature: expected unpadded standard base64")
    if sig[0] in "CERg" and (
        sig.startswith("gAAAA")
        or is_valid_cais(sig)
        or is_valid_claude(sig, strict=True)
        or gemini_native(sig)
    ):
        raise SignatureError("Kimi thinking signature is another family's envelope")
    try:
        decoded = base64.b64decode(sig + "=" * (-len(sig) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"invalid Kimi thinking signature: base64 decode failed: {exc}") from None
    if (ratio := _entropy_ratio(decoded)) < KIMI_MIN_ENTROPY:
        raise SignatureError(
            f"invalid Kimi thinking signature: decoded payload entropy ratio {ratio:.3f} too low"
        )
    return mode


def is_valid_kimi(raw: str) -> bool:
    if len(raw) not in KIMI_LENGTHS:  # (the cheap test first: almost nothing has these lengths)
        return False
    try:
        inspect_kimi(raw)
    except SignatureError:
        return False
    return True


def _entropy_ratio(data: bytes) -> float:
    """Shannon entropy of ``data``'s bytes over the most its length allows."""
    n = len(data)
    symbols = min(n, 256)
    if symbols <= 1:
        return 0.0
    counts = [0] * 256
    for byte in data:
        counts[byte] += 1
    entropy = -sum(c / n * math.log2(c / n) for c in counts if c)
    return entropy / math.log2(symbols)
