"""Reasoning signatures across provider families: recognise, classify, replace or drop.

A thinking signature is only valid for the family that issued it. A client that
talks to one family and fails over to another (or that relays an opaque value
through a format with no slot of its own, like Responses ``encrypted_content``)
brings artifacts that a target must either keep, replace or drop. This module
recognises each family's envelope the way CPA does (``internal/signature``):

* Claude: base64 of a protobuf whose first byte is ``0x12`` (``E...`` single layer,
  ``R...`` the same base64 text base64-encoded again), or the newer CAIS envelope
  (first byte ``0x08``, ``C...``) that carries a ``claude-`` model text;
* GPT / Codex ``encrypted_content``: Fernet-shaped base64url starting ``gAAAA``;
* Gemini: a one-record protobuf (field 2 holding field 1, payload starting ``0x01``),
  plus the documented bypass sentinels Gemini accepts in place of a signature;
* Kimi: no envelope, but one of two fixed lengths (high-entropy unpadded base64), asked
  only after every envelope above has declined. xAI's Grok is never detected (its blobs
  have no envelope and no fixed length): it is a target only.

Decisions for a target (``decide``) follow CPA: same family -> keep (normalised);
Gemini target -> the bypass sentinel; Kimi target -> drop the signature, keep the
thinking (Kimi never checks it); Claude / GPT / Grok targets -> drop the block. Applying
them to whole request bodies (Gemini ``contents``, Claude ``messages``) is
:mod:`cliproxy.translate.signature_bodies`'.
An optional ``family#`` cache prefix (``claude#``, ``gemini#``, ``gpt#``...) names the
issuer explicitly. Nothing here allocates unless a candidate passes the cheap
first-character test, so probing every signature on the request path stays cheap.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from cliproxy.translate.envelopes import (
    GEMINI_BYPASS_SIGNATURES,
    GEMINI_SKIP_VALIDATOR,
    ClaudeSignatureTree,
    SignatureError,
    gemini_native,
    inspect_cais,
    inspect_claude,
    inspect_gemini,
    inspect_gpt,
    is_gemini_bypass,
    is_valid_cais,
    is_valid_claude,
    is_valid_gpt,
    normalize_claude,
    normalize_claude_native,
)
from cliproxy.translate.envelopes_plain import is_valid_grok, is_valid_kimi

__all__ = [
    "CLAUDE_REDACTED_PREFIX",
    "GEMINI_BYPASS_SIGNATURES",
    "GEMINI_SKIP_VALIDATOR",
    "ClaudeSignatureTree",
    "Decision",
    "SignatureError",
    "antigravity_claude_signature",
    "chat_call_signature",
    "compatible_signature",
    "decide",
    "detect",
    "family_of_signature",
    "gemini_replay_or_bypass",
    "inspect_cais",
    "inspect_claude",
    "inspect_gemini",
    "inspect_gpt",
    "is_gemini_bypass",
    "is_grok_signature",
    "is_valid_cais",
    "is_valid_claude",
    "is_valid_gpt",
    "normalize_claude",
    "normalize_claude_native",
    "provider_from_model",
    "split_prefix",
    "without_prefix",
]

Provider = Literal["unknown", "claude", "gemini", "gemini_bypass", "gpt", "kimi", "grok"]
BlockKind = Literal[
    "unknown", "claude_thinking", "gemini_model_part", "gemini_function_call", "gpt_reasoning"
]
Action = Literal[
    "preserve", "drop_block", "drop_signature", "replace_with_gemini_bypass", "no_compatible_replacement"
]

# A Responses reasoning item has no redacted form: a Claude ``redacted_thinking``
# payload rides in ``encrypted_content`` behind this marker (valid for no provider).
CLAUDE_REDACTED_PREFIX = "claude-redacted-thinking:"
_ENVELOPE_FIRST_CHARS = "CERg"  # the base64 first characters of every self-describing envelope
_PREFIXES: dict[str, Provider] = {
    **dict.fromkeys(("claude", "anthropic", "cais", "claude-cais", "claude_cais"), "claude"),
    **dict.fromkeys(("ccmax", "claude-code-max", "claude_code_max"), "claude"),
    **dict.fromkeys(("gemini", "google"), "gemini"),
    **dict.fromkeys(("openai", "gpt", "codex"), "gpt"),
}
_IR_FAMILY = {"claude": "claude", "gemini": "gemini", "gemini_bypass": "gemini", "gpt": "openai"}


# --------------------------------------------------------------------------- providers


def provider_from_model(model: str) -> Provider:
    """The family whose signed history a model can replay, by its name."""
    low = model.strip().lower()
    if "claude" in low:
        return "claude"
    if "gemini" in low:
        return "gemini"
    if any(s in low for s in ("gpt", "openai", "codex")) or low.startswith(("o1", "o3", "o4")):
        return "gpt"
    if "kimi" in low or "moonshot" in low or low.startswith(("k2", "k3")):
        return "kimi"
    return "grok" if "grok" in low else "unknown"


def split_prefix(raw: str) -> tuple[Provider, str, bool]:
    """``(provider, rest, True)`` for a ``family#signature`` value with a known family."""
    prefix, sep, rest = raw.strip().partition("#")
    provider = _PREFIXES.get(prefix.strip().lower()) if sep else None
    if provider is None:
        return "unknown", raw, False
    return provider, rest.strip(), True


def without_prefix(raw: str) -> str:
    _, rest, ok = split_prefix(raw)
    return rest if ok else raw.strip()


def detect(raw: str | None, block: BlockKind = "unknown") -> Provider:
    """The family that can replay ``raw`` (``unknown`` when none is sure)."""
    sig = (raw or "").strip()
    if len(sig) <= _SHORT:
        return _detect(sig, block)
    return _LONG.get(("detect", sig, block), lambda: _detect.__wrapped__(sig, block))


# The memos keep the strings they are keyed by, and a client may send signatures of any
# size: a value longer than _SHORT is memoised apart, bounded in characters, not in the
# lru caches (bounded in entries only: 8,192 strings of megabytes each)
_SHORT = 4096
LONG_MEMO_CHARS = 16 << 20


class _LongMemo:
    """Results for long strings, the least recently used going first once the strings
    held add up to more than ``max_chars`` characters."""

    __slots__ = ("_data", "chars", "max_chars")

    def __init__(self, max_chars: int) -> None:
        self._data: OrderedDict[tuple[str, ...], tuple[Any, int]] = OrderedDict()
        self.chars = 0
        self.max_chars = max_chars

    def get(self, key: tuple[str, ...], make: Callable[[], Any]) -> Any:
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
            return hit[0]
        value = make()
        weight = sum(map(len, key)) + (len(value.normalized) if isinstance(value, Decision) else 0)
        if weight <= self.max_chars:
            self._data[key] = (value, weight)
            self.chars += weight
            while self.chars > self.max_chars:
                self.chars -= self._data.popitem(last=False)[1][1]
        return value


_LONG = _LongMemo(LONG_MEMO_CHARS)


# Clients resend the same signatures turn after turn (a Claude Code history carries every
# one): results are memoised per string, so each signature is decoded and walked once.
@functools.lru_cache(maxsize=8192)
def _detect(sig: str, block: BlockKind) -> Provider:
    if not sig:
        return "unknown"
    provider, rest, prefixed = split_prefix(sig)
    if prefixed:
        if provider == "gemini":
            return (
                "gemini_bypass" if is_gemini_bypass(rest) else "gemini" if gemini_native(rest) else "unknown"
            )
        if provider == "claude":
            return "claude" if is_valid_claude(rest, strict=True) or is_valid_cais(rest) else "unknown"
        return "gpt" if provider == "gpt" and is_valid_gpt(rest) else "unknown"
    if "#" in sig:
        return "unknown"
    if is_gemini_bypass(sig):
        return "gemini_bypass"
    if sig[0] in _ENVELOPE_FIRST_CHARS:
        if is_valid_gpt(sig):
            return "gpt"
        if is_valid_cais(sig) or is_valid_claude(sig, strict=True):
            return "claude"
        if gemini_native(sig):
            return "gemini"
    return "kimi" if is_valid_kimi(sig) else "unknown"  # (no envelope: after every one declined)


def is_grok_signature(raw: str) -> bool:
    """Whether a client's opaque reasoning value is xAI's ``encrypted_content``: no other
    family's envelope, and Grok's shape (:func:`~cliproxy.translate.envelopes_plain.is_valid_grok`).
    Grok's blobs have no envelope, so this is a shape test, as CPA makes it for a Claude
    thinking signature going to a Grok model."""
    if len(raw) <= _SHORT:
        return _is_grok(raw)
    return bool(_LONG.get(("grok", raw), lambda: _is_grok.__wrapped__(raw)))


@functools.lru_cache(maxsize=4096)
def _is_grok(raw: str) -> bool:
    return detect(raw) == "unknown" and is_valid_grok(raw)


def family_of_signature(raw: str | None, default: str | None = None) -> str | None:
    """The IR family (``claude``/``gemini``/``openai``) of an opaque artifact, else ``default``."""
    return _IR_FAMILY.get(detect(raw), default)


@dataclass(slots=True, frozen=True)
class Decision:
    target: Provider
    detected: Provider
    block: BlockKind
    compatible: bool
    action: Action
    replacement: str = ""
    normalized: str = ""
    reason: str = ""


def decide(target: Provider, raw: str | None, block: BlockKind = "unknown") -> Decision:
    """What to do with ``raw`` when replaying it to ``target`` (CPA's policy)."""
    raw = raw or ""
    if len(raw) <= _SHORT:
        return _decide(target, raw, block)
    found: Decision = _LONG.get(
        ("decide", target, raw, block), lambda: _decide.__wrapped__(target, raw, block)
    )
    return found


@functools.lru_cache(maxsize=8192)
def _decide(target: Provider, raw: str, block: BlockKind) -> Decision:
    target = "gemini" if target == "gemini_bypass" else target
    detected = detect(raw, block)
    matches = detected == target or (target == "gemini" and detected == "gemini_bypass")
    if matches and target in ("claude", "gemini", "gpt", "kimi"):
        normalized = _normalized(target, raw or "", block)
        return Decision(
            target, detected, block, True, "preserve", normalized=normalized, reason="same provider"
        )
    if target == "gemini" and block in ("gemini_function_call", "gemini_model_part", "unknown"):
        return Decision(
            target,
            detected,
            block,
            False,
            "replace_with_gemini_bypass",
            GEMINI_SKIP_VALIDATOR,
            reason="Gemini accepts the documented sentinel in place of another provider's signature",
        )
    if target == "kimi":
        return Decision(
            target, detected, block, False, "drop_signature", reason="Kimi does not validate signatures"
        )
    if target in ("claude", "gemini", "gpt", "grok"):
        return Decision(
            target, detected, block, False, "drop_block", reason=f"{target} cannot take a foreign signature"
        )
    return Decision(
        target, detected, block, False, "no_compatible_replacement", reason="unknown target provider"
    )


def _normalized(target: Provider, raw: str, block: BlockKind) -> str:
    payload = without_prefix(raw)
    if target == "claude":
        if is_valid_cais(payload):
            return payload
        try:
            return normalize_claude_native(payload)
        except SignatureError:
            return ""
    if target == "gemini":
        return payload if is_gemini_bypass(payload) or gemini_native(payload) else ""
    if target == "gpt":
        return payload if is_valid_gpt(payload) else ""
    return payload if target == "kimi" and is_valid_kimi(payload) else ""


def compatible_signature(target: Provider, raw: str | None, block: BlockKind = "unknown") -> str | None:
    """``raw`` as ``target`` wants it replayed, or None when it is not ``target``'s."""
    d = decide(target, raw, block)
    return d.normalized if d.compatible and d.normalized else None


def antigravity_claude_signature(raw: str | None) -> str | None:
    """The double-layer ``R`` form Antigravity's Claude replay wants; only a strictly
    recognised classic Claude signature (never CAIS, never a Gemini ``E`` envelope)."""
    if detect(raw, "claude_thinking") != "claude":
        return None
    try:
        return normalize_claude(without_prefix(raw or ""), strict=True)
    except SignatureError:
        return None


def chat_call_signature(call: dict[str, Any]) -> str | None:
    """The Gemini signature a Chat tool call carries (``extra_content.google.thought_signature``
    as Google's OpenAI endpoint returns it, or CPA's other paths), when it is Gemini's."""
    fn = call.get("function")
    for holder, key in ((call, "extra_content"), (fn, "extra_content")):
        extra = holder.get(key) if isinstance(holder, dict) else None
        google = extra.get("google") if isinstance(extra, dict) else None
        if isinstance(google, dict) and isinstance(google.get("thought_signature"), str):
            return compatible_signature("gemini", google["thought_signature"], "gemini_function_call")
    for key in ("thoughtSignature", "thought_signature"):
        if isinstance(call.get(key), str):
            return compatible_signature("gemini", call[key], "gemini_function_call")
    return None


def gemini_replay_or_bypass(raw: str | None, block: BlockKind = "gemini_model_part") -> str:
    """A Gemini signature kept as it is; anything else becomes the bypass sentinel."""
    return compatible_signature("gemini", raw, block) or GEMINI_SKIP_VALIDATOR
