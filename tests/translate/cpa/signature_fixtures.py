"""Signature fixtures built as CPA's Go tests build them (protowire by hand).

Each builder names the CPA helper it reproduces; the bytes are the same, so a case
ported from CPA sees the same input here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace

OBSERVED_FABLE5 = (
    "CAISqwIKiAEIEBgCKkBHRlRBsNiptQUWfPoOhuQKwi5LnncZVO9bB5jqOs76D7uBtgktML0zqJtNmLHXHHcgD6lk4MQu4QBXzFd1lbC3"
    "Mg5jbGF1ZGUtZmFibGUtNTgBQgh0aGlua2luZ1okZDk3NDM5NzUtNGJiMC00OTM2LTllMjgtZDViMGQyMWJkYzQ4EgxCGh+XVFFFeySA"
    "jtAaDL/A1LltGu6MMJ+eXSIwsN0oBpDrqLv22UBfkMnTotnIbkvkOyb9xZHgigG6OZVHaI3gThm+maLKmgO5PrFLKlDFYp+YZksy/wKw"
    "szJlnLTPzAK+NUlfzagOE1ymtZTXhAYK260XyFYmg/te/C231+Fr/hoX+EJoUBnrn0gD7hqMISOT+TaFEuOXYsN517GfaxgB"
)
OBSERVED_CONTEXT_ID = "d9743975-4bb0-4936-9e28-d5b0d21bdc48"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def tag(num: int, wire: int) -> bytes:
    return varint(num << 3 | wire)


def field_varint(num: int, value: int) -> bytes:
    return tag(num, 0) + varint(value)


def field_bytes(num: int, value: bytes) -> bytes:
    return tag(num, 2) + varint(len(value)) + value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64_raw(data: bytes) -> str:
    return b64(data).rstrip("=")


def claude_signature() -> str:
    """``testClaudeThinkingSignature`` (provider_compatibility_test.go)."""
    channel = field_varint(1, 12) + field_varint(2, 2) + field_bytes(6, b"claude-sonnet-4-6")
    payload = field_bytes(2, field_bytes(1, channel)) + field_varint(3, 1)
    return b64(payload)


def claude_signature_opaque(opaque_len: int) -> str:
    """``testClaudeThinkingSignatureWithOpaqueLen`` (grok_validation_test.go)."""
    channel = field_varint(1, 12) + field_varint(2, 2) + field_bytes(6, b"claude-sonnet-4-6")
    opaque = bytes((i * 41 + 17) % 251 for i in range(opaque_len))
    payload = field_bytes(2, field_bytes(1, channel)) + field_varint(3, 1) + field_bytes(4, opaque)
    return b64(payload)


def antigravity_claude_signature() -> str:
    """``testUnpaddedAntigravityClaudeThinkingSignature``: the R (double-layer) form."""
    return b64(claude_signature_opaque(41).encode())


def gemini_signature(payload: bytes) -> str:
    """``testGeminiThoughtSignature``: plain base64 of ``payload``."""
    return b64(payload)


def gemini3_signature(payload: bytes) -> str:
    """``testGemini3ThoughtSignature``: field 2 { field 1 = payload }."""
    return b64(field_bytes(2, field_bytes(1, payload)))


def gemini25_signature(*records: bytes) -> str:
    """``testGemini25ThoughtSignature``: repeated field 1 records."""
    return b64(b"".join(field_bytes(1, r) for r in records))


def gemini_envelope() -> str:
    """``testGeminiThoughtSignatureEnvelope`` (unpadded)."""
    payload = bytes([0x01, 0x0C]) + bytes(range(97))
    inner = bytes([0x0A, len(payload)]) + payload
    return b64_raw(bytes([0x12, len(inner)]) + inner)


def gpt_signature() -> str:
    """``testGPTReasoningSignature``: a Fernet-shaped blob, unpadded base64url."""
    payload = bytearray(1 + 8 + 16 + 16 + 32)
    payload[0] = 0x80
    for i in range(9, len(payload)):
        payload[i] = i
    return base64.urlsafe_b64encode(bytes(payload)).decode().rstrip("=")


@dataclass(frozen=True)
class CAISParts:
    """``claudeCAISParts`` (claude_test.go): a CAIS signature, field by field."""

    top_envelope: int | None = 2
    top_trailer: bool = True
    container: bool = True
    channel_block: bool = True
    channel_id: int | None = 16
    channel_id_as_bytes: bool = False
    channel_version: bool = True
    signature_len: int | None = 64
    model_text: bytes | None = b"claude-opus-5"
    field7: bool = True
    block_kind: str = "thinking"
    context_id: str = OBSERVED_CONTEXT_ID

    def with_(self, **changes: object) -> CAISParts:
        return replace(self, **changes)  # type: ignore[arg-type]

    def encode(self) -> str:
        ch = b""
        if self.channel_id is not None:
            ch += field_bytes(1, b"\x10") if self.channel_id_as_bytes else field_varint(1, self.channel_id)
        if self.channel_version:
            ch += field_varint(3, 2)
        if self.signature_len is not None:
            ch += field_bytes(5, bytes(self.signature_len))
        if self.model_text is not None:
            ch += field_bytes(6, self.model_text)
        if self.field7:
            ch += field_varint(7, 1)
        if self.block_kind:
            ch += field_bytes(8, self.block_kind.encode())
        if self.context_id:
            ch += field_bytes(11, self.context_id.encode())
        container = field_bytes(1, ch) if self.channel_block else b""
        payload = b""
        if self.top_envelope is not None:
            payload += field_varint(1, self.top_envelope)
        if self.container:
            payload += field_bytes(2, container)
        if self.top_trailer:
            payload += field_varint(3, 1)
        return b64(payload)


def cais_signature(model: str = "claude-opus-5") -> str:
    """``testClaudeCAISSignature``."""
    return CAISParts(model_text=model.encode()).encode()
