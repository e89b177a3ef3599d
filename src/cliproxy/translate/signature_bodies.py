"""Signatures in whole request bodies: the decisions of :mod:`cliproxy.translate.signatures`
applied to a Gemini ``contents`` array (its replay policy: the first ``functionCall`` of a
model turn keeps its Gemini signature or gets the bypass sentinel) and to Claude
``messages`` (thinking blocks and tool-use signatures kept, replaced or dropped for the
target family, as CPA's executors do before a request goes out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cliproxy.translate.envelopes import decodable_claude, is_gemini_bypass, is_valid_claude
from cliproxy.translate.loop_thinking import settle_loop_thinking
from cliproxy.translate.signatures import (
    BlockKind,
    Provider,
    antigravity_claude_signature,
    decide,
    gemini_replay_or_bypass,
    provider_from_model,
    without_prefix,
)

__all__ = [
    "SanitizeReport",
    "sanitize_claude_body",
    "sanitize_claude_messages",
    "sanitize_for_claude_upstream",
    "sanitize_for_model",
    "sanitize_gemini_contents",
    "sanitize_gemini_contents_for_claude",
    "strip_invalid_claude_thinking",
]


# --------------------------------------------------------------------------- request bodies


def sanitize_gemini_contents(contents: Any) -> bool:
    """Apply Gemini's replay policy to a ``contents`` array in place; True when changed.

    The first ``functionCall`` of each model turn keeps its Gemini signature or gets the
    bypass sentinel; other model parts keep only Gemini signatures; ``functionResponse``
    parts never carry one (either spelling: ``function_call`` / ``function_response`` are
    proto JSON's other names, which the API takes too). Parts are replaced, never edited, so
    a caller may pass a shallow copy of the client's array.
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
                if isinstance(part, dict) and ("functionResponse" in part or "function_response" in part):
                    break
            else:
                continue
        parts = _sanitized_parts(raw, model_turn)
        if parts is not None:
            contents[i] = {**content, "parts": parts}
            changed = True
    return changed


_SIG_KEYS = ("thoughtSignature", "thought_signature")


def sanitize_gemini_contents_for_claude(contents: Any) -> bool:
    """The Claude-model policy for a Gemini ``contents`` array (Claude behind Antigravity),
    in place; True when changed (CPA's ``SanitizeAntigravityClaudeGeminiRequestSignatures``).

    A thought part (``thought: true`` and a string text) is kept only with text and a
    strictly valid Claude signature, which it carries in Antigravity's double-layer form;
    any other part loses its signatures (a function call needs none on Claude, and no
    Gemini signature or bypass sentinel may reach it). A content left with no part is
    dropped. Parts and contents are replaced, never edited (a caller may pass a shallow
    copy of the client's array).
    """
    if not isinstance(contents, list):
        return False
    changed = False
    kept: list[Any] = []
    for content in contents:
        raw = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(raw, list):
            kept.append(content)
            continue
        parts: list[Any] = []
        touched = False
        for part in raw:
            if not isinstance(part, dict):
                parts.append(part)
            elif part.get("thought") is True and isinstance(part.get("text"), str):
                sig, _ = _part_signature(part)
                want = antigravity_claude_signature(sig) if part["text"] else None
                if want is None:
                    touched = True  # unsigned, not Claude's or empty: Claude refuses it
                elif _canonical(part, want):
                    parts.append(part)
                else:
                    parts.append({**_without_signatures(part), "thoughtSignature": want})
                    touched = True
            elif _part_signature(part)[1]:
                parts.append(_without_signatures(part))
                touched = True
            else:
                parts.append(part)
        if not touched:
            kept.append(content)
            continue
        changed = True
        if parts:
            kept.append({**content, "parts": parts})
    if changed:
        contents[:] = kept
    return changed


def _part_signature(part: dict[str, Any]) -> tuple[str | None, bool]:
    """The part's signature wherever a client put it (CPA's paths, in CPA's order)."""
    holders: list[Any] = [part, part.get("functionCall"), part.get("functionResponse")]
    if "function_call" in part or "function_response" in part:  # (proto JSON's other spelling)
        holders += [part.get("function_call"), part.get("function_response")]
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
    for key in _CALL_HOLDERS:
        holder = part.get(key)
        if isinstance(holder, dict) and any(k in holder for k in _SIG_KEYS):
            return False
    extra = part.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    return not (isinstance(google, dict) and "thought_signature" in google)


def _without_signatures(part: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in part.items() if k not in _SIG_KEYS}
    for key in _CALL_HOLDERS:
        holder = out.get(key)
        if isinstance(holder, dict) and any(k in holder for k in _SIG_KEYS):
            out[key] = {k: v for k, v in holder.items() if k not in _SIG_KEYS}
    extra = out.get("extra_content")
    if isinstance(extra, dict) and isinstance(extra.get("google"), dict):
        google = {k: v for k, v in extra["google"].items() if k != "thought_signature"}
        out["extra_content"] = {**extra, "google": google}
    return out


_CALL_HOLDERS = ("functionCall", "functionResponse", "function_call", "function_response")


def _is_response(part: dict[str, Any]) -> bool:
    return "functionResponse" in part or "function_response" in part


def _sanitized_parts(parts: list[Any], model_turn: bool) -> list[Any] | None:
    if not model_turn:  # a user turn changes only in its functionResponse parts
        for part in parts:
            if isinstance(part, dict) and _is_response(part):
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
        is_call = "functionCall" in part or "function_call" in part
        want: str | None = None
        if not model_turn or _is_response(part):
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
        if not model_turn and not _is_response(part):
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
    if not preserve_empty:
        preserved = _kept_whole(messages, target, drop_tool_signatures)
        if preserved >= 0:
            report.preserved = preserved
            return None, report
    out = _sanitized_messages(
        messages, report, drop_tool_signatures, drop_empty_placeholders, preserve_empty, drop_empty_messages
    )
    return out, report


def _sanitized_messages(
    messages: list[Any],
    report: SanitizeReport,
    drop_tool_signatures: bool,
    drop_empty_placeholders: bool,
    preserve_empty: bool,
    drop_empty_messages: bool,
) -> list[Any] | None:
    """:func:`sanitize_claude_messages`'s walk for ``report.target``, counted in ``report``."""
    target = report.target
    out: list[Any] | None = None  # a new list from the first message that changes
    # a tool call with none of these keys is left as it is (``_sanitized_tool_use``'s answer)
    untouched_call = _CALL_KEYS_MODEL if drop_tool_signatures else _CALL_KEYS
    for i, msg in enumerate(messages):
        content: Any = msg.get("content") if type(msg) is dict or isinstance(msg, dict) else None
        kept: list[Any] | None = None  # a new content list from the first block that changes
        if type(content) is list or isinstance(content, list):
            for j, block in enumerate(content):
                # the common blocks answered here, as ``_sanitized_block`` answers them, with
                # no call: a Claude history resends every turn's thinking and tool calls
                kind = block.get("type") if type(block) is dict else None
                if kind is not None and kind not in _SIGNED_KINDS:
                    new = block  # text, tool_result, image...: nothing signed
                elif kind == "tool_use" and untouched_call.isdisjoint(block):
                    new = block  # a call that carries no signature (nor a model to drop)
                elif kind == "thinking" and not preserve_empty and _kept_as_is(block, target):
                    report.preserved += 1  # a signature its target takes as it is
                    new = block
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
    return out


def _kept_as_is(block: dict[str, Any], target: Provider) -> bool:
    """Whether a thinking block's signature goes to ``target`` as it is (what
    :func:`_sanitized_block` answers for it, without a copy): the block is kept whole."""
    raw = block.get("signature")
    if type(raw) is not str or not raw:
        return False
    d = decide(target, raw, "claude_thinking")
    return d.action == "preserve" and (not d.normalized or d.normalized == raw)


def _kept_whole(messages: list[Any], target: Provider, drop_tool_signatures: bool) -> int:
    """How many thinking signatures ``target`` takes as they are when the loop above would
    change nothing, else -1 (the loop then decides, from the start).

    A Claude Code history resends every turn, and most of them need no change. This walk
    asks only that, without the loop's indexes and copy bookkeeping (a 139-message,
    230-block history: 59 -> 40 us). Any shape it does not answer for (a message or block
    that is not exactly a dict, a list subclass, a signed block its fast checks do not
    clear) is -1."""
    untouched_call = _CALL_KEYS_MODEL if drop_tool_signatures else _CALL_KEYS
    preserved = 0
    for msg in messages:
        if type(msg) is not dict:
            return -1
        content = msg.get("content")
        if type(content) is not list:
            if isinstance(content, list):
                return -1
            continue
        for block in content:
            if type(block) is not dict:
                return -1
            kind = block.get("type")
            if kind not in _SIGNED_KINDS:  # text, tool_result, image, no type: nothing signed
                continue
            if kind == "tool_use":
                if untouched_call.isdisjoint(block):
                    continue
                return -1
            if _kept_as_is(block, target):
                preserved += 1
                continue
            return -1
    return preserved


_SIGNED_KINDS = ("thinking", "tool_use")  # the only blocks :func:`_sanitized_block` may change
# the keys of a tool call :func:`_sanitized_tool_use` may change (``model`` when it drops them)
_CALL_KEYS = frozenset(("extra_content", *_TOOL_SIGNATURE_KEYS))
_CALL_KEYS_MODEL = _CALL_KEYS | {"model"}


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


def sanitize_claude_body(body: dict[str, Any], preserve_empty: bool = False) -> bool:
    """:func:`sanitize_for_claude_upstream` on a Messages body (the attempt's own), in place
    (its steps called directly: a body left alone makes no report), then
    :func:`settle_loop_thinking`; True when the messages changed (the thinking step settles
    the loop again after it wrote the client's setting back)."""
    before = body.get("messages")
    if not isinstance(before, list) or (not preserve_empty and _kept_whole(before, "claude", True) >= 0):
        return False  # (the common case: no report made)
    report = SanitizeReport("claude")
    messages = _sanitized_messages(before, report, True, not preserve_empty, preserve_empty, True)
    if messages is None:
        return False
    body["messages"] = messages
    settle_loop_thinking(body, before)
    return True


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
