"""Reasoning artifacts a Responses client carries in ``encrypted_content`` (CPA's carriers).

Responses has one opaque slot per reasoning item. Codex fills it with its own encrypted
reasoning; when the upstream is another family, CPA puts that family's artifact there
instead so it comes back on the next turn: a Claude signature as it is (recognisable by
its envelope), a Claude ``redacted_thinking`` payload behind ``claude-redacted-thinking:``,
a Gemini thought signature in CPA's ``cpa-gemini-responses-carrier-v1:`` wrapper.
"""

from __future__ import annotations

import base64
from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.envelopes import SignatureError, b64decode
from cliproxy.translate.signatures import (
    CLAUDE_REDACTED_PREFIX,
    compatible_signature,
    family_of_signature,
    is_gemini_bypass,
)

__all__ = [
    "GEMINI_CARRIER_PREFIX",
    "bind_call_carriers",
    "call_carrier",
    "carried_signature",
    "carrier_of",
    "is_call_carrier",
]

GEMINI_CARRIER_PREFIX = "cpa-gemini-responses-carrier-v1:"


def carried_signature(value: Any) -> tuple[Any, str | None, bool]:
    """``(signature, family, redacted)`` of a Responses ``encrypted_content`` value.

    A Claude signature is recognised by its envelope and becomes a Claude artifact; a
    ``claude-redacted-thinking:`` value a redacted Claude block; CPA's Gemini carrier a
    Gemini signature; anything else stays OpenAI's (Codex ``encrypted_content``).
    """
    if not isinstance(value, str) or not value:
        return value, "openai", False
    if value.startswith(CLAUDE_REDACTED_PREFIX):
        data = value[len(CLAUDE_REDACTED_PREFIX) :].strip()
        return (data or None), "claude", bool(data)
    if value.startswith(GEMINI_CARRIER_PREFIX):
        return _gemini_carried(value), "gemini", False
    return value, family_of_signature(value, "openai"), False


def _gemini_carried(value: str) -> str | None:
    fields = value[len(GEMINI_CARRIER_PREFIX) :].split(":", 2)
    if len(fields) != 3 or fields[0] not in ("next", "previous", "standalone"):
        return None
    if fields[1] not in ("text", "function", "any"):
        return None
    try:
        sig = b64decode(fields[2], raw_ok=True).decode()
    except (SignatureError, UnicodeDecodeError):
        return None
    return sig if sig and not sig.startswith(GEMINI_CARRIER_PREFIX) else None


def carrier_of(signature: str | None, family: str | None, redacted: bool = False) -> str | None:
    """The ``encrypted_content`` that carries a reasoning artifact to a Responses client."""
    if not signature:
        return None
    if family == "claude":
        return CLAUDE_REDACTED_PREFIX + signature if redacted else signature
    if family == "gemini":
        encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
        return f"{GEMINI_CARRIER_PREFIX}standalone:text:{encoded}"
    return signature if family == "openai" else None


def call_carrier(signature: str | None, family: str | None) -> dict[str, Any] | None:
    """The detached reasoning item that carries a Gemini function-call signature to a
    Responses client, placed right before its ``function_call`` item (CPA's
    ``next:function`` carrier); None for anything else."""
    if not signature or family != "gemini" or is_gemini_bypass(signature):
        return None
    encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
    return {
        "type": "reasoning",
        "summary": [],
        "encrypted_content": f"{GEMINI_CARRIER_PREFIX}next:function:{encoded}",
    }


def is_call_carrier(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(GEMINI_CARRIER_PREFIX + "next:function:")


def bind_call_carriers(messages: list[ir.Message]) -> None:
    """Move each ``next:function`` carrier's signature onto the tool call right after it
    (CPA ``normalizeGeminiResponsesCarriers``); a carrier with no call after it, or with
    no Gemini signature in it, is dropped."""
    for msg in messages:
        if msg.role != "assistant" or not any(_is_call_carrier_block(b) for b in msg.content):
            continue
        kept: list[ir.Block] = []
        pending: str | None = None
        for b in msg.content:
            if _is_call_carrier_block(b):
                assert isinstance(b, ir.Thinking)
                pending = compatible_signature("gemini", b.signature, "gemini_function_call")
                continue
            if isinstance(b, ir.ToolCall) and pending and not b.signature:
                b.signature, b.family = pending, "gemini"
            pending = None
            kept.append(b)
        msg.content = kept


def _is_call_carrier_block(b: ir.Block) -> bool:
    return isinstance(b, ir.Thinking) and bool(b.extras) and bool(b.extras.get("_call_carrier"))  # type: ignore[union-attr]
