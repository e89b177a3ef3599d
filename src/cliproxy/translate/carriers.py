"""Reasoning artifacts a client carries back in another family's slot (CPA's carriers).

Responses has one opaque slot per reasoning item. Codex fills it with its own encrypted
reasoning; when the upstream is another family, CPA puts that family's artifact there
instead so it comes back on the next turn: a Claude signature as it is (recognisable by
its envelope), a Claude ``redacted_thinking`` payload behind ``claude-redacted-thinking:``,
a Gemini thought signature in CPA's ``cpa-gemini-responses-carrier-v1:`` wrapper.

A Claude client carries a Gemini signature in a thinking block's ``signature``, wrapped
as ``cpa-gemini-carrier-v1:<direction>:<kind>:<base64>`` (:func:`claude_carrier`): the
direction and kind say which part of the answer it belonged to (``Thinking.anchor``).

A signed Gemini image part (image models sign their ``inlineData`` parts, and refuse a
later turn that sends one back unsigned) has no block of its own in either client format.
A Responses client's reasoning item holds it whole, as
``cpa-gemini-responses-carrier-v1:standalone:part:<base64 of the part's JSON>``
(:func:`part_carrier`; our own kind, CPA has none), and it comes back as that part
(:func:`carried_part`), image and signature, so an image-editing conversation goes on
(a Claude client's thinking block did too, before the image was shown to it: still read).

A Claude client has no block to show a model's image in (an ``image`` block is a user's):
it gets a text block of its own holding the image as Markdown, ``![image](data:...)``
(:func:`image_markdown`), which it can show; sent back, that text is the image again, a
Gemini part (:func:`markdown_image`), not kilobytes of base64 text. A signed image's
signature rides in an empty thinking block right before that text, as
``cpa-gemini-carrier-v1:next:image:<base64 of the signature>`` (:func:`image_carrier`;
our own kind), and signs the image again when both come back
(:func:`carried_image_signature`).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from cliproxy.translate import ir
from cliproxy.translate.envelopes import SignatureError, b64decode
from cliproxy.translate.signatures import (
    CLAUDE_REDACTED_PREFIX,
    compatible_signature,
    family_of_signature,
    is_gemini_bypass,
)

__all__ = [
    "CLAUDE_CARRIER_PREFIX",
    "GEMINI_CARRIER_PREFIX",
    "IMAGE_ANCHOR",
    "bind_call_carriers",
    "call_carrier",
    "carried_anchor",
    "carried_image_signature",
    "carried_part",
    "carried_signature",
    "carrier_of",
    "claude_carrier",
    "image_carrier",
    "image_markdown",
    "is_call_carrier",
    "markdown_image",
    "part_carrier",
    "read_claude_carrier",
    "signed_image",
]

GEMINI_CARRIER_PREFIX = "cpa-gemini-responses-carrier-v1:"
CLAUDE_CARRIER_PREFIX = "cpa-gemini-carrier-v1:"
_DIRECTIONS = frozenset(("next", "previous", "standalone"))
_KINDS = frozenset(("text", "function", "any"))
# a carrier's base64 of the largest signature CPA takes (32 MiB), and room for its head
_MAX_CARRIER_LEN = 32 * 1024 * 1024 * 4 // 3 + 1024
_PART = "standalone:part:"  # a carrier holding a Gemini part whole (ours)
_IMAGE = "next:image:"  # a carrier holding the signature of the image shown after it (ours)
IMAGE_ANCHOR = "next:image"  # its Thinking.anchor
_PART_KEYS = frozenset(("inlineData", "inline_data", "thoughtSignature", "thought_signature"))
_INLINE_KEYS = frozenset(("mimeType", "mime_type", "data"))


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
    fields = _carrier_fields(value, GEMINI_CARRIER_PREFIX)
    return fields[0] if fields is not None else None


def carried_anchor(value: Any) -> str | None:
    """The ``Thinking.anchor`` of a Responses client's Gemini carrier (None: the thought's
    own signature, or not a Gemini carrier)."""
    if not isinstance(value, str) or not value.startswith(GEMINI_CARRIER_PREFIX):
        return None
    fields = _carrier_fields(value, GEMINI_CARRIER_PREFIX)
    if fields is None or fields[1] == "standalone":
        return None
    return f"{fields[1]}:{fields[2]}"


def _carrier_fields(value: str, prefix: str) -> tuple[str, str, str] | None:
    """``(signature, direction, kind)`` of a carrier behind ``prefix``; None when malformed."""
    fields = value[len(prefix) :].split(":", 2)
    if len(fields) != 3 or fields[0] not in _DIRECTIONS or fields[1] not in _KINDS:
        return None
    try:
        sig = b64decode(fields[2], raw_ok=True).decode()
    except (SignatureError, UnicodeDecodeError):
        return None
    return (sig, fields[0], fields[1]) if sig and not sig.startswith(prefix) else None


def claude_carrier(signature: str, anchor: str | None) -> str:
    """The thinking-block ``signature`` that carries a Gemini signature to a Claude client:
    CPA's envelope, its direction and kind from the block's ``anchor`` (``standalone:text``
    when the signature is the thought's own)."""
    encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
    return f"{CLAUDE_CARRIER_PREFIX}{anchor or 'standalone:text'}:{encoded}"


def read_claude_carrier(value: str) -> tuple[str, str, str] | None:
    """``(signature, direction, kind)`` of a Claude client's carrier; None when it is
    malformed, too long, or holds no Gemini signature a Gemini upstream would take (the
    bypass sentinel included: CPA)."""
    value = value.strip()
    if len(value) > _MAX_CARRIER_LEN:
        return None
    fields = _carrier_fields(value, CLAUDE_CARRIER_PREFIX)
    if fields is None:
        return None
    sig, direction, kind = fields
    if kind == "function":
        sig = compatible_signature("gemini", sig, "gemini_function_call") or ""
    else:
        sig = compatible_signature("gemini", sig, "gemini_model_part") or ""
    if not sig or is_gemini_bypass(sig):
        return None
    return sig, direction, kind


def carrier_of(
    signature: str | None, family: str | None, redacted: bool = False, anchor: str | None = None
) -> str | None:
    """The ``encrypted_content`` that carries a reasoning artifact to a Responses client
    (a Gemini one with the part it belonged to: ``Thinking.anchor``)."""
    if not signature:
        return None
    if family == "claude":
        return CLAUDE_REDACTED_PREFIX + signature if redacted else signature
    if family == "gemini":
        encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
        return f"{GEMINI_CARRIER_PREFIX}{anchor or 'standalone:text'}:{encoded}"
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


def part_carrier(part: dict[str, Any]) -> str | None:
    """The Responses reasoning item's ``encrypted_content`` that carries a signed Gemini
    ``inlineData`` part whole; None for any other part."""
    if _inline_part(part) is None:
        return None
    encoded = base64.b64encode(orjson.dumps(part)).decode().rstrip("=")
    return f"{GEMINI_CARRIER_PREFIX}{_PART}{encoded}"


def carried_part(value: Any) -> dict[str, Any] | None:
    """The Gemini part a :func:`part_carrier` value holds (either prefix); None when the
    value is not one, or holds anything but a signed ``inlineData`` part."""
    if not isinstance(value, str) or len(value) > _MAX_CARRIER_LEN:
        return None
    if value.startswith(CLAUDE_CARRIER_PREFIX + _PART):
        encoded = value[len(CLAUDE_CARRIER_PREFIX) + len(_PART) :]
    elif value.startswith(GEMINI_CARRIER_PREFIX + _PART):
        encoded = value[len(GEMINI_CARRIER_PREFIX) + len(_PART) :]
    else:
        return None
    try:
        part = orjson.loads(b64decode(encoded, raw_ok=True))
    except (SignatureError, orjson.JSONDecodeError):
        return None
    return part if type(part) is dict and _inline_part(part) is not None else None


def _inline_part(part: dict[str, Any]) -> dict[str, Any] | None:
    """``part`` when it is an ``inlineData`` part with a Gemini model-part signature and
    nothing else (a base64 ``data`` and a type)."""
    if not part.keys() <= _PART_KEYS:
        return None
    inline = part.get("inlineData", part.get("inline_data"))
    sig = part.get("thoughtSignature", part.get("thought_signature"))
    if type(inline) is not dict or not inline.keys() <= _INLINE_KEYS or type(sig) is not str:
        return None
    if (
        type(inline.get("data")) is not str
        or type(inline.get("mimeType", inline.get("mime_type"))) is not str
    ):
        return None
    if not compatible_signature("gemini", sig, "gemini_model_part") or is_gemini_bypass(sig):
        return None
    return part


def signed_image(b: ir.Block) -> dict[str, Any] | None:
    """The Gemini part of an image a whole Gemini answer signed (``ir.Image`` with the
    signature in its extras), or None."""
    if type(b) is not ir.Image or not b.extras or b.data is None:
        return None
    sig = b.extras.get("thoughtSignature", b.extras.get("thought_signature"))
    if type(sig) is not str or not sig:
        return None
    return {"inlineData": {"mimeType": b.media_type or "image/png", "data": b.data}, "thoughtSignature": sig}


_MD_HEAD = "![image](data:"


def image_markdown(image: ir.Image) -> str:
    """The text a Claude client is shown a Gemini image in (see the module docstring)."""
    return f"{_MD_HEAD}{image.media_type or 'image/png'};base64,{image.data or ''})"


def markdown_image(text: str) -> dict[str, Any] | None:
    """The unsigned Gemini ``inlineData`` part of an :func:`image_markdown` text, or None."""
    if not text.startswith(_MD_HEAD) or text[-1] != ")":
        return None
    mime, sep, data = text[len(_MD_HEAD) : -1].partition(";base64,")
    if not sep or not mime.startswith("image/") or not data or ")" in data:
        return None
    return {"inlineData": {"mimeType": mime, "data": data}}


def _image_signature(sig: Any) -> str | None:
    """``sig`` when it is a Gemini model-part signature (not the validator-skip one)."""
    if type(sig) is not str or not sig:
        return None
    sig = compatible_signature("gemini", sig, "gemini_model_part")
    return sig if sig and not is_gemini_bypass(sig) else None


def image_carrier(part: dict[str, Any]) -> str | None:
    """The thinking-block ``signature`` that carries the signature of a Gemini image part
    to a Claude client, right before the image's Markdown text (None: nothing to carry)."""
    sig = _image_signature(part.get("thoughtSignature", part.get("thought_signature")))
    if sig is None:
        return None
    return f"{CLAUDE_CARRIER_PREFIX}{_IMAGE}{base64.b64encode(sig.encode()).decode().rstrip('=')}"


def carried_image_signature(value: str) -> str | None:
    """The Gemini signature an :func:`image_carrier` value holds; None when ``value`` is not
    one, or holds no signature a Gemini upstream would take."""
    if not value.startswith(CLAUDE_CARRIER_PREFIX + _IMAGE) or len(value) > _MAX_CARRIER_LEN:
        return None
    try:
        sig = b64decode(value[len(CLAUDE_CARRIER_PREFIX) + len(_IMAGE) :], raw_ok=True).decode()
    except (SignatureError, UnicodeDecodeError):
        return None
    return _image_signature(sig)
