"""Provider signature envelopes, recognised the way CPA does (``internal/signature``).

Pure shape checks, no provider semantics: a Claude classic signature (base64 of a
protobuf starting ``0x12``, one or two base64 layers, optionally checked field by field in
strict mode), the Claude CAIS envelope (``0x08``), Fernet-shaped GPT ``encrypted_content``
and Gemini's one-record protobuf (xAI's and Kimi's, which have none, in
:mod:`cliproxy.translate.envelopes_plain`). ``cliproxy.translate.signatures`` decides what
to do with them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GEMINI_BYPASS_SIGNATURES",
    "GEMINI_CONTEXT_BYPASS",
    "GEMINI_SKIP_VALIDATOR",
    "MAX_SIGNATURE_LEN",
    "CAISInfo",
    "ClaudeSignatureTree",
    "GeminiInfo",
    "SignatureError",
    "b64decode",
    "decodable_claude",
    "gemini_native",
    "inspect_cais",
    "inspect_claude",
    "inspect_gemini",
    "inspect_gpt",
    "is_gemini_bypass",
    "is_valid_cais",
    "is_valid_claude",
    "is_valid_gpt",
    "normalize_claude",
    "normalize_claude_native",
    "strip_cache_prefix",
]

GEMINI_SKIP_VALIDATOR = "skip_thought_signature_validator"
GEMINI_CONTEXT_BYPASS = "context_engineering_is_the_way_to_go"
GEMINI_BYPASS_SIGNATURES = frozenset((GEMINI_SKIP_VALIDATOR, GEMINI_CONTEXT_BYPASS))
MAX_SIGNATURE_LEN = 32 * 1024 * 1024


class SignatureError(ValueError):
    """A signature that is not what it claims to be (the message says why)."""


# --------------------------------------------------------------------------- protobuf


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise SignatureError("malformed protobuf varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _fields(msg: bytes) -> list[tuple[int, int, Any]]:
    """``(number, wire type, value)`` of each field: an int for varints, bytes otherwise."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(msg):
        tag, pos = _varint(msg, pos)
        num, typ = tag >> 3, tag & 7
        if num == 0:
            raise SignatureError("malformed protobuf tag")
        if typ == 0:
            value, pos = _varint(msg, pos)
            out.append((num, typ, value))
        elif typ == 2:
            size, pos = _varint(msg, pos)
            if pos + size > len(msg):
                raise SignatureError(f"malformed protobuf field {num}")
            out.append((num, typ, msg[pos : pos + size]))
            pos += size
        elif typ in (1, 5):
            width = 8 if typ == 1 else 4
            if pos + width > len(msg):
                raise SignatureError(f"malformed protobuf field {num}")
            out.append((num, typ, msg[pos : pos + width]))
            pos += width
        else:
            raise SignatureError(f"unsupported protobuf wire type {typ}")
    return out


def _bytes_field(msg: bytes, number: int, scope: str) -> bytes:
    value: bytes | None = None
    for num, typ, raw in _fields(msg):
        if num == number:
            if typ != 2:
                raise SignatureError(f"invalid Claude signature: {scope} field {number} must be bytes")
            value = raw
    if value is None:
        raise SignatureError(f"invalid Claude signature: missing {scope} field {number}")
    return value


def b64decode(sig: str, *, urlsafe: bool = False, raw_ok: bool = False) -> bytes:
    try:
        data = sig.encode("ascii")
        if raw_ok and len(data) % 4 and data.find(b"=") < 0:
            data += b"=" * (-len(data) % 4)
        return base64.urlsafe_b64decode(data) if urlsafe else base64.b64decode(data, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise SignatureError(f"base64 decode failed: {exc}") from None


# --------------------------------------------------------------------------- Claude


@dataclass(slots=True)
class ClaudeSignatureTree:
    """What the strict check learns from a classic (``E``/``R``) Claude signature."""

    encoding_layers: int
    channel_id: int = 0
    field2: int | None = None
    routing_class: str = "unknown"
    infrastructure_class: str = "infra_unknown"
    schema_features: str = "unknown_schema_features"
    model_text: str = ""
    legacy_route_hint: str = ""
    has_field7: bool = False


@dataclass(slots=True)
class CAISInfo:
    envelope_version: int = 0
    channel_id: int = 0
    model_text: str = ""
    block_kind: str = ""
    context_id: str = ""
    signature_len: int = 0


def strip_cache_prefix(raw: str) -> str:
    sig = raw.strip()
    if "#" in sig:
        sig = sig.split("#", 1)[1].strip()
    return sig


def inspect_claude(payload: bytes, layers: int = 1) -> ClaudeSignatureTree:
    """The protobuf tree of a decoded classic Claude signature (raises SignatureError)."""
    if not payload:
        raise SignatureError("invalid Claude signature: empty payload")
    if payload[0] != 0x12:
        raise SignatureError(f"invalid Claude signature: expected first byte 0x12, got 0x{payload[0]:02x}")
    container = _bytes_field(payload, 2, "top-level protobuf")
    channel = _bytes_field(container, 1, "Claude Field 2 container")
    tree = ClaudeSignatureTree(layers)
    have_channel = has6 = False
    for num, typ, value in _fields(channel):
        if num == 1:
            if typ != 0:
                raise SignatureError("invalid Claude signature: Field 2.1.1 channel_id must be varint")
            tree.channel_id, have_channel = value, True
        elif num == 2:
            if typ != 0:
                raise SignatureError("invalid Claude signature: Field 2.1.2 field2 must be varint")
            tree.field2 = value
        elif num == 6:
            if typ != 2:
                raise SignatureError("invalid Claude signature: Field 2.1.6 model_text must be bytes")
            tree.model_text, has6 = _utf8(value, "Field 2.1.6 model_text"), True
        elif num == 7:
            if typ != 0:
                raise SignatureError("invalid Claude signature: Field 2.1.7 must be varint")
            tree.has_field7 = True
    if not have_channel:
        raise SignatureError("invalid Claude signature: missing Field 2.1.1 channel_id")
    tree.routing_class = {11: "routing_class_11", 12: "routing_class_12"}.get(tree.channel_id, "unknown")
    infra = {None: "infra_default", 1: "infra_aws", 2: "infra_google"}
    tree.infrastructure_class = infra.get(tree.field2, "infra_unknown")
    if has6:
        tree.schema_features = "extended_model_tagged_schema"
    elif not tree.has_field7 and 70 <= len(channel) <= 72:
        tree.schema_features = "compact_schema"
    if tree.channel_id == 11:
        hint = {None: "legacy_default_group", 1: "legacy_aws_group"}.get(tree.field2, "")
        if tree.field2 == 2:
            hint = "legacy_vertex_direct" if layers == 2 else "legacy_vertex_proxy"
        tree.legacy_route_hint = hint
    return tree


def _utf8(value: bytes, label: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError(f"invalid Claude signature: {label} is not valid UTF-8") from None


def _check_single(sig: str, layers: int, strict: bool) -> None:
    decoded = b64decode(sig)
    if not decoded:
        raise SignatureError("invalid single-layer signature: empty after decode")
    if decoded[0] != 0x12:
        raise SignatureError(f"invalid Claude signature: expected first byte 0x12, got 0x{decoded[0]:02x}")
    if strict:
        inspect_claude(decoded, layers)


def _check_double(sig: str, strict: bool) -> str:
    inner = b64decode(sig)
    if not inner:
        raise SignatureError("invalid double-layer signature: empty after decode")
    if inner[:1] != b"E":
        raise SignatureError(
            f"invalid double-layer signature: inner does not start with 'E', got 0x{inner[0]:02x}"
        )
    text = inner.decode("ascii", "replace")
    _check_single(text, 2, strict)
    return text


def _claude_sig(raw: str) -> str:
    sig = strip_cache_prefix(raw)
    if not sig:
        raise SignatureError("empty signature")
    if len(sig) > MAX_SIGNATURE_LEN:
        raise SignatureError("signature exceeds maximum length")
    if sig[0] not in "ER":
        raise SignatureError(f"invalid signature: expected 'E' or 'R' prefix, got {sig[0]!r}")
    return sig


def normalize_claude(raw: str, *, strict: bool = False) -> str:
    """The double-layer ``R`` form (Antigravity's) of a valid classic Claude signature."""
    sig = _claude_sig(raw)
    if sig[0] == "R":
        _check_double(sig, strict)
        return sig
    _check_single(sig, 1, strict)
    return base64.b64encode(sig.encode()).decode()


def normalize_claude_native(raw: str, *, strict: bool = False) -> str:
    """The single-layer ``E`` form (Anthropic's own) of a valid classic Claude signature."""
    sig = _claude_sig(raw)
    if sig[0] == "E":
        _check_single(sig, 1, strict)
        return sig
    return _check_double(sig, strict)


def is_valid_claude(
    raw: str, *, strict: bool = False, prefix_only: bool = False, base64_only: bool = False
) -> bool:
    """A classic Claude thinking signature under CPA's validation options."""
    if prefix_only:
        sig = strip_cache_prefix(raw)
        return bool(sig) and sig[0] in "ER"
    if base64_only:
        return decodable_claude(raw)
    try:
        normalize_claude(raw, strict=strict)
    except SignatureError:
        return False
    return True


def decodable_claude(raw: str) -> bool:
    sig = strip_cache_prefix(raw)
    if not sig or len(sig) > MAX_SIGNATURE_LEN or sig[0] not in "ER":
        return False
    try:
        decoded = b64decode(sig)
        if sig[0] == "R":
            if decoded[:1] != b"E":
                return False
            decoded = b64decode(decoded.decode("ascii", "replace"))
    except SignatureError:
        return False
    return bool(decoded)


def inspect_cais(raw: str) -> CAISInfo:
    """The structure of a Claude CAIS signature (first byte ``0x08``); raises SignatureError."""
    sig = strip_cache_prefix(raw)
    if not sig:
        raise SignatureError("empty signature")
    if sig[0] != "C":
        raise SignatureError(f"invalid Claude CAIS signature: expected 'C' prefix, got {sig[0]!r}")
    decoded = b64decode(sig)
    if not decoded or decoded[0] != 0x08:
        raise SignatureError("invalid Claude CAIS signature: expected first byte 0x08")
    info = CAISInfo()
    container: bytes | None = None
    for num, typ, value in _fields(decoded):
        if num in (1, 3):
            _want(typ, 0, f"CAIS top-level field {num}")
            if num == 1:
                info.envelope_version = value
        elif num == 2:
            _want(typ, 2, "CAIS top-level field 2 container")
            container = value
    if container is None:
        raise SignatureError("invalid Claude CAIS signature: missing top-level field 2 container")
    channel: bytes | None = None
    for num, typ, value in _fields(container):
        if num == 1:
            _want(typ, 2, "CAIS container field 1 channel block")
            channel = value
    if channel is None:
        raise SignatureError("invalid Claude CAIS signature: missing container field 1 channel block")
    seen: set[int] = set()
    for num, typ, value in _fields(channel):
        _cais_channel_field(info, num, typ, value)
        seen.add(num)
    for num, what in ((1, "channel_id"), (5, "signature bytes"), (6, "model_text")):
        if num not in seen:
            raise SignatureError(f"invalid Claude CAIS signature: missing channel field {num} {what}")
    return info


def _cais_channel_field(info: CAISInfo, num: int, typ: int, value: Any) -> None:
    if num in (1, 3, 7):
        _want(typ, 0, f"CAIS channel field {num}")
        if num == 1:
            info.channel_id = value
    elif num == 5:
        _want(typ, 2, "CAIS channel field 5 signature bytes")
        if not value:
            raise SignatureError(
                "invalid Claude CAIS signature: channel field 5 signature bytes must not be empty"
            )
        info.signature_len = len(value)
    elif num in (6, 8, 11):
        _want(typ, 2, f"CAIS channel field {num}")
        text = _utf8(value, f"CAIS channel field {num}")
        if num == 6 and not text.startswith("claude-"):
            raise SignatureError(
                f"invalid Claude CAIS signature: model_text must start with 'claude-', got {text!r}"
            )
        if num == 11 and not _is_uuid(text.encode()):
            raise SignatureError(
                f"invalid Claude CAIS signature: context id must be a canonical UUID, got {text!r}"
            )
        if num == 6:
            info.model_text = text
        elif num == 8:
            info.block_kind = text
        else:
            info.context_id = text


def _want(typ: int, expected: int, label: str) -> None:
    if typ != expected:
        kind = "varint" if expected == 0 else "bytes"
        raise SignatureError(f"invalid Claude CAIS signature: {label} must be {kind}")


def is_valid_cais(raw: str) -> bool:
    try:
        inspect_cais(raw)
    except SignatureError:
        return False
    return True


_UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_uuid(data: bytes) -> bool:
    return len(data) == 36 and _UUID.fullmatch(data) is not None


# --------------------------------------------------------------------------- GPT, Gemini


def inspect_gpt(raw: str) -> tuple[int, int]:
    """``(decoded length, ciphertext length)`` of Fernet-shaped ``encrypted_content``."""
    sig = raw.strip()
    if not sig:
        raise SignatureError("empty GPT reasoning signature")
    if len(sig) > MAX_SIGNATURE_LEN:
        raise SignatureError("GPT reasoning signature exceeds maximum length")
    if not sig.startswith("gAAAA"):
        raise SignatureError("invalid GPT reasoning signature: expected gAAAA prefix")
    for i, ch in enumerate(sig):
        if not (ch.isascii() and (ch.isalnum() or ch in "-_=")):
            raise SignatureError(f"invalid GPT reasoning signature: non-base64url character at byte {i}")
    decoded = b64decode(sig, urlsafe=True, raw_ok=True)
    if len(decoded) < 73:
        raise SignatureError("invalid GPT reasoning signature: decoded payload too short")
    if decoded[0] != 0x80:
        raise SignatureError(
            f"invalid GPT reasoning signature: expected version 0x80, got 0x{decoded[0]:02x}"
        )
    cipher = len(decoded) - 1 - 8 - 16 - 32
    if cipher <= 0 or cipher % 16:
        raise SignatureError(
            f"invalid GPT reasoning signature: ciphertext length {cipher} is not an AES block multiple"
        )
    return len(decoded), cipher


def is_valid_gpt(raw: str) -> bool:
    try:
        inspect_gpt(raw)
    except SignatureError:
        return False
    return True


def is_gemini_bypass(raw: str) -> bool:
    return raw.strip() in GEMINI_BYPASS_SIGNATURES


@dataclass(slots=True)
class GeminiInfo:
    """What a Gemini thought signature looks like (``envelope``: ``protobuf_field_2``,
    ``ascii_uuid``, ``unknown`` or ``bypass``)."""

    envelope: str
    decoded_len: int = 0
    first_byte: int = 0
    record_count: int = 0
    opaque_len: int = 0

    @property
    def known(self) -> bool:
        return self.envelope == "protobuf_field_2"

    @property
    def marker(self) -> bool:
        return self.first_byte == 0x12


def inspect_gemini(
    raw: str, *, allow_bypass: bool = False, known_envelope: bool = False, observed_marker: bool = False
) -> GeminiInfo:
    """Inspect a Gemini thought signature; raises SignatureError when the options refuse it."""
    sig = raw.strip()
    if not sig:
        raise SignatureError("empty Gemini thought signature")
    if is_valid_cais(sig):
        raise SignatureError("invalid Gemini thought signature: detected Claude CAIS signature")
    if is_gemini_bypass(sig):
        if not allow_bypass:
            raise SignatureError("Gemini thought signature bypass sentinel is not allowed")
        return GeminiInfo("bypass")
    if len(sig) > MAX_SIGNATURE_LEN:
        raise SignatureError("Gemini thought signature exceeds maximum length")
    try:
        decoded = b64decode(sig)
    except SignatureError:
        if "=" in sig:
            raise
        decoded = b64decode(sig, raw_ok=True)
    if not decoded:
        raise SignatureError("invalid Gemini thought signature: empty decoded payload")
    opaque = _gemini_field2(decoded)
    envelope = "ascii_uuid" if _is_uuid(decoded) else "protobuf_field_2" if opaque is not None else "unknown"
    info = GeminiInfo(envelope, len(decoded), decoded[0])
    if opaque is not None and envelope == "protobuf_field_2":
        info.record_count, info.opaque_len = 1, len(opaque)
    if known_envelope and not info.known:
        raise SignatureError(f"invalid Gemini thought signature: unknown envelope {envelope!r}")
    if observed_marker and not info.marker:
        raise SignatureError(
            f"invalid Gemini thought signature: expected observed marker 0x12, got 0x{decoded[0]:02x}"
        )
    return info


def _gemini_field2(decoded: bytes) -> bytes | None:
    """The opaque payload of exactly one top-level field 2 holding exactly one field 1."""
    try:
        outer = _fields(decoded)
        if len(outer) != 1 or outer[0][:2] != (2, 2):
            return None
        inner = _fields(outer[0][2])
    except SignatureError:
        return None
    if len(inner) != 1 or inner[0][:2] != (1, 2):
        return None
    value: bytes = inner[0][2]
    return value if (value and value[0] == 0x01) or _is_uuid(value) else None


def gemini_native(raw: str) -> bool:
    if is_valid_cais(raw):
        return False
    try:
        inspect_gemini(raw, known_envelope=True)
    except SignatureError:
        return False
    return True
