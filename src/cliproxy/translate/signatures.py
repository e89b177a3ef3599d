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
  plus the documented bypass sentinels Gemini accepts in place of a signature.

Decisions for a target (``decide``) follow CPA: same family -> keep (normalised);
Gemini target -> the bypass sentinel; Claude / GPT targets -> drop the block.
An optional ``family#`` cache prefix (``claude#``, ``gemini#``, ``gpt#``...) names the
issuer explicitly. Nothing here allocates unless a candidate passes the cheap
first-character test, so probing every signature on the request path stays cheap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from cliproxy.translate.envelopes import (
    GEMINI_BYPASS_SIGNATURES,
    GEMINI_SKIP_VALIDATOR,
    ClaudeSignatureTree,
    SignatureError,
    decodable_claude,
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

__all__ = [
    "CLAUDE_REDACTED_PREFIX",
    "GEMINI_BYPASS_SIGNATURES",
    "GEMINI_SKIP_VALIDATOR",
    "ClaudeSignatureTree",
    "Decision",
    "SanitizeReport",
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
    "is_valid_cais",
    "is_valid_claude",
    "is_valid_gpt",
    "normalize_claude",
    "normalize_claude_native",
    "provider_from_model",
    "sanitize_claude_messages",
    "sanitize_for_claude_upstream",
    "sanitize_for_model",
    "sanitize_gemini_contents",
    "split_prefix",
    "strip_invalid_claude_thinking",
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
    return _detect((raw or "").strip(), block)


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
    return "unknown"


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
    return _decide(target, raw or "", block)


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
    return ""


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


# --------------------------------------------------------------------------- request bodies


def sanitize_gemini_contents(contents: Any) -> bool:
    """Apply Gemini's replay policy to a ``contents`` array in place; True when changed.

    The first ``functionCall`` of each model turn keeps its Gemini signature or gets the
    bypass sentinel; other model parts keep only Gemini signatures; ``functionResponse``
    parts never carry one. Parts are replaced, never edited, so a caller may pass a
    shallow copy of the client's array.
    """
    if not isinstance(contents, list):
        return False
    changed = False
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or not isinstance(raw := content.get("parts"), list):
            continue
        model_turn = content.get("role") == "model"
        if not model_turn:  # a user turn changes only in its functionResponse parts
            for part in raw:
                if isinstance(part, dict) and "functionResponse" in part:
                    break
            else:
                continue
        parts = _sanitized_parts(raw, model_turn)
        if parts is not None:
            contents[i] = {**content, "parts": parts}
            changed = True
    return changed


_SIG_KEYS = ("thoughtSignature", "thought_signature")


def _part_signature(part: dict[str, Any]) -> tuple[str | None, bool]:
    """The part's signature wherever a client put it (CPA's paths, in CPA's order)."""
    holders: list[Any] = [part, part.get("functionCall"), part.get("functionResponse")]
    extra = part.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    for holder in holders:
        if isinstance(holder, dict):
            for key in _SIG_KEYS:
                if key in holder:
                    value = holder[key]
                    return (value if isinstance(value, str) else None), True
    if isinstance(google, dict) and "thought_signature" in google:
        value = google["thought_signature"]
        return (value if isinstance(value, str) else None), True
    return None, False


def _canonical(part: dict[str, Any], want: str | None) -> bool:
    """Only a top-level ``thoughtSignature`` equal to ``want`` (or none when None)."""
    top = part.get("thoughtSignature")
    if (want is None and "thoughtSignature" in part) or (want is not None and top != want):
        return False
    if "thought_signature" in part:
        return False
    for key in ("functionCall", "functionResponse"):
        holder = part.get(key)
        if isinstance(holder, dict) and any(k in holder for k in _SIG_KEYS):
            return False
    extra = part.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    return not (isinstance(google, dict) and "thought_signature" in google)


def _without_signatures(part: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in part.items() if k not in _SIG_KEYS}
    for key in ("functionCall", "functionResponse"):
        holder = out.get(key)
        if isinstance(holder, dict) and any(k in holder for k in _SIG_KEYS):
            out[key] = {k: v for k, v in holder.items() if k not in _SIG_KEYS}
    extra = out.get("extra_content")
    if isinstance(extra, dict) and isinstance(extra.get("google"), dict):
        google = {k: v for k, v in extra["google"].items() if k != "thought_signature"}
        out["extra_content"] = {**extra, "google": google}
    return out


def _sanitized_parts(parts: list[Any], model_turn: bool) -> list[Any] | None:
    if not model_turn:  # a user turn changes only in its functionResponse parts
        for part in parts:
            if isinstance(part, dict) and "functionResponse" in part:
                break
        else:
            return None
    out: list[Any] = []
    changed = first_seen = False
    for part in parts:
        if not isinstance(part, dict):
            out.append(part)
            continue
        sig, has_sig = _part_signature(part)
        is_call = "functionCall" in part
        want: str | None = None
        if "functionResponse" in part or not model_turn:
            want = None
            if not has_sig:
                out.append(part)
                continue
        elif is_call and not first_seen:
            first_seen = True
            want = gemini_replay_or_bypass(sig, "gemini_function_call")
        elif has_sig:
            d = decide("gemini", sig, "gemini_function_call" if is_call else "gemini_model_part")
            keep = d.compatible and not is_gemini_bypass(without_prefix(sig or ""))
            want = d.normalized if keep else None
        if not model_turn and "functionResponse" not in part:
            out.append(part)  # a user turn's parts carry what the client sent
            continue
        if _canonical(part, want):
            out.append(part)
            continue
        new = _without_signatures(part)
        if want:
            new["thoughtSignature"] = want
        out.append(new)
        changed = True
    return out if changed else None


def strip_invalid_claude_thinking(
    messages: Any,
    *,
    strict: bool = False,
    base64_only: bool = False,
    allow_empty_placeholder: bool = False,
    drop_empty_messages: bool = False,
) -> bool:
    """Remove Claude ``thinking`` blocks whose signature is not a Claude one; True when changed."""
    if not isinstance(messages, list):
        return False
    changed = False
    for i, msg in enumerate(messages):
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        kept = [b for b in content if not _bad_thinking(b, strict, base64_only, allow_empty_placeholder)]
        if len(kept) != len(content):
            messages[i] = {**msg, "content": kept}
            changed = True
    if changed and drop_empty_messages:
        messages[:] = [m for m in messages if not (isinstance(m, dict) and m.get("content") == [])]
    return changed


def _bad_thinking(block: Any, strict: bool, base64_only: bool, allow_empty: bool) -> bool:
    if not isinstance(block, dict) or block.get("type") != "thinking":
        return False
    sig = block.get("signature")
    sig = sig if isinstance(sig, str) else ""
    if allow_empty and not sig.strip() and not _thinking_text(block).strip():
        return False
    if base64_only:
        return not decodable_claude(sig)
    return not is_valid_claude(sig, strict=strict)


def _thinking_text(block: dict[str, Any]) -> str:
    if isinstance(block.get("text"), str):
        return str(block["text"])
    value = block.get("thinking")
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "thinking"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return ""


# --------------------------------------------------------------------------- Claude message bodies

_TOOL_SIGNATURE_KEYS = ("signature", "thoughtSignature", "thought_signature")


@dataclass(slots=True)
class SanitizeReport:
    target: Provider
    preserved: int = 0
    dropped_blocks: int = 0
    dropped_signatures: int = 0
    replaced_signatures: int = 0


def sanitize_claude_messages(
    messages: Any,
    target: Provider,
    *,
    drop_tool_signatures: bool = False,
    drop_empty_placeholders: bool = True,
    preserve_empty: bool = False,
    drop_empty_messages: bool = True,
) -> tuple[list[Any] | None, SanitizeReport]:
    """Claude ``messages`` with every thinking signature kept, replaced or dropped for
    ``target`` (CPA ``SanitizeClaudeMessagesSignaturesForTarget``): a new list when
    anything changed (messages and blocks replaced, never edited), else None."""
    report = SanitizeReport(target)
    if not isinstance(messages, list):
        return None, report
    out: list[Any] | None = None  # a new list from the first message that changes
    for i, msg in enumerate(messages):
        content: Any = msg.get("content") if isinstance(msg, dict) else None
        kept: list[Any] | None = None  # a new content list from the first block that changes
        if isinstance(content, list):
            for j, block in enumerate(content):
                if type(block) is dict and block.get("type") not in _SIGNED_KINDS:
                    new = block  # text, tool_result, image...: nothing signed, no call
                else:
                    new = _sanitized_block(
                        block, target, report, drop_tool_signatures, drop_empty_placeholders, preserve_empty
                    )
                if kept is None:
                    if new is block:
                        continue
                    kept = content[:j]
                if new is not None:
                    kept.append(new)
        if kept is None:  # the message as it is
            if out is not None:
                out.append(msg)
            continue
        if out is None:
            out = messages[:i]
        if kept or not drop_empty_messages:
            out.append({**msg, "content": kept})
    return out, report


_SIGNED_KINDS = ("thinking", "tool_use")  # the only blocks :func:`_sanitized_block` may change


def sanitize_for_claude_upstream(
    messages: Any, model: str, preserve_empty: bool = False
) -> tuple[list[Any] | None, SanitizeReport]:
    """CPA ``SanitizeClaudeMessagesForClaudeUpstream``: only Claude signatures, no tool-call signatures."""
    return sanitize_claude_messages(
        messages,
        "claude",
        drop_tool_signatures=True,
        drop_empty_placeholders=not preserve_empty,
        preserve_empty=preserve_empty,
    )


def sanitize_for_model(messages: Any, model: str) -> tuple[list[Any] | None, SanitizeReport]:
    """CPA ``SanitizeClaudeMessagesSignaturesForModel``: the target family from the model name."""
    return sanitize_claude_messages(messages, provider_from_model(model))


def _sanitized_block(
    block: Any,
    target: Provider,
    report: SanitizeReport,
    drop_tool: bool,
    drop_empty: bool,
    preserve_empty: bool,
) -> Any:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "tool_use":
        return _sanitized_tool_use(block, target, report, drop_tool)
    if kind != "thinking":
        return block
    if preserve_empty:
        report.preserved += 1
        return block
    raw = block.get("signature")
    raw = raw if isinstance(raw, str) else ""
    if target == "claude" and not drop_empty and not raw.strip() and not _thinking_text(block).strip():
        return block
    d = decide(target, raw, "claude_thinking")
    if d.action == "preserve":
        report.preserved += 1
        return {**block, "signature": d.normalized} if d.normalized and d.normalized != raw else block
    if d.action == "replace_with_gemini_bypass":
        report.replaced_signatures += 1
        return {**block, "signature": d.replacement}
    if d.action == "drop_signature":
        report.dropped_signatures += 1
        return {k: v for k, v in block.items() if k != "signature"}
    report.dropped_blocks += 1
    return None


def _sanitized_tool_use(block: dict[str, Any], target: Provider, report: SanitizeReport, drop: bool) -> Any:
    extra: Any = block.get("extra_content")
    google: Any = extra.get("google") if isinstance(extra, dict) else None
    google_signed = isinstance(google, dict) and "thought_signature" in google
    signed = [k for k in _TOOL_SIGNATURE_KEYS if k in block]
    drop_model = drop and "model" in block
    if not (signed or google_signed or drop_model):
        return block  # no signature to keep, replace or drop (the common call): no copy
    out = dict(block)
    keys: list[tuple[dict[str, Any], str]] = [(out, k) for k in signed]
    if google_signed:
        google = dict(google)
        extra = {**extra, "google": google}
        out["extra_content"] = extra
        keys.append((google, "thought_signature"))
    if drop_model:
        del out["model"]
    kind: BlockKind = {"claude": "claude_thinking", "gpt": "gpt_reasoning"}.get(
        target, "gemini_function_call"
    )  # type: ignore[assignment]
    for holder, key in keys:
        if drop:
            report.dropped_signatures += 1
            del holder[key]
            continue
        d = decide(target, str(holder[key]), kind)
        if d.action == "preserve":
            report.preserved += 1
            holder[key] = d.normalized or holder[key]
        elif d.action == "replace_with_gemini_bypass":
            report.replaced_signatures += 1
            holder[key] = d.replacement
        else:
            report.dropped_signatures += 1
            del holder[key]
    if isinstance(out.get("extra_content"), dict):
        ex = out["extra_content"]
        if isinstance(ex.get("google"), dict) and not ex["google"]:
            ex = {k: v for k, v in ex.items() if k != "google"}
            out["extra_content"] = ex
        if not ex:
            del out["extra_content"]
    return out
