"""Session keys for session affinity, with CPA's precedence.

:func:`extract_session_keys` returns ``(primary, fallback)``: the key a request binds
under, and an older key it should also answer to (a ``prompt_cache_key`` request
keeps the binding made under its ``conversation`` id; a conversation that gained its
first assistant turn keeps the binding made from its opening).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import orjson

__all__ = [
    "claude_metadata_session",
    "extract_session_key",
    "extract_session_keys",
    "message_hash_keys",
    "normalize_session_id",
]

_HEADERS = (
    ("x-claude-code-session-id", "claude:"),
    (None, "claude:"),  # Claude Code metadata.user_id session
    ("session-id", "codex:"),
    ("session_id", "codex:"),
    ("x-session-id", "header:"),
    ("x-session-affinity", "affinity:"),
    ("x-client-request-id", "clientreq:"),
)
_LEGACY_CLAUDE_SESSION = re.compile(r"_session_([a-f0-9-]+)$")
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def normalize_session_id(raw: Any) -> str:
    """An explicit session id: printable, trimmed, at most 256 bytes; else ``""``."""
    if isinstance(raw, bool) or raw is None:
        return ""
    if isinstance(raw, int | float):
        raw = str(raw)
    if not isinstance(raw, str) or any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in raw):
        return ""  # control characters (Unicode Cc) make the id unusable
    text = raw.strip()
    # (a header's bytes that are not UTF-8 come as surrogates: counted, never a 500)
    return text if text and len(text.encode("utf-8", "surrogatepass")) <= 256 else ""


def extract_session_key(
    headers: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None = None,
    derive: Callable[[], str] | None = None,
) -> str | None:
    """The primary session key, or None when the request carries no session signal."""
    return extract_session_keys(headers, body, metadata, derive)[0] or None


def extract_session_keys(
    headers: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None = None,
    derive: Callable[[], str] | None = None,
) -> tuple[str, str]:
    """``(primary, fallback)`` session keys; ``("", "")`` when there is none.

    ``headers`` is matched case-insensitively; ``body`` is the parsed JSON request;
    ``metadata`` may carry ``execution_session_id`` and ``derived_session_id``;
    ``derive`` gives the derived id when the metadata has none
    (:func:`cliproxy.credentials.derived_session.session_identity`), called only when
    nothing before it named the session.
    """
    lowered = {k.lower(): v for k, v in headers.items()} if headers else {}
    body = body if isinstance(body, Mapping) else {}
    for name, prefix in _HEADERS:
        if name is None:
            sid = claude_metadata_session(body)
        elif (raw := lowered.get(name)) is None:  # (most are not sent: no call)
            continue
        else:
            sid = normalize_session_id(raw)
        if sid:
            return prefix + sid, ""
    if body and (found := _body_keys(body)):
        return found
    meta = metadata or {}
    if sid := normalize_session_id(meta.get("execution_session_id")):
        return "execution:" + sid, ""
    if sid := normalize_session_id(meta.get("derived_session_id") or (derive() if derive else "")):
        return "derived:" + sid, ""
    return message_hash_keys(body) if body else ("", "")


def _body_keys(body: Mapping[str, Any]) -> tuple[str, str] | None:
    for name in ("session_id", "sessionId"):
        if sid := normalize_session_id(body.get(name)):
            return "session:" + sid, ""
    conversation = body.get("conversation")
    conv = ""
    if isinstance(conversation, Mapping):
        conv = normalize_session_id(conversation.get("id"))
    elif isinstance(conversation, str):
        conv = normalize_session_id(conversation)
    conv_key = "conv:" + conv if conv else ""
    if sid := normalize_session_id(body.get("prompt_cache_key")):
        return "pck:" + sid, conv_key
    if conv_key:
        return conv_key, ""
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and (sid := normalize_session_id(metadata.get("user_id"))):
        return "user:" + sid, ""
    if sid := normalize_session_id(body.get("conversation_id")):
        return "conv:" + sid, ""
    return None


def claude_metadata_session(body: Mapping[str, Any]) -> str:
    """The Claude Code session in ``metadata.user_id`` (JSON ``session_id`` or the older
    ``_session_<id>`` suffix), or ``""``."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    if not isinstance(user_id, str) or not user_id.strip():
        return ""
    user_id = user_id.strip()
    if user_id.startswith("{"):
        try:
            inner = orjson.loads(user_id)
        except orjson.JSONDecodeError:
            return ""
        return normalize_session_id(inner.get("session_id")) if isinstance(inner, dict) else ""
    match = _LEGACY_CLAUDE_SESSION.search(user_id)
    return normalize_session_id(match.group(1)) if match else ""


def message_hash_keys(body: Mapping[str, Any]) -> tuple[str, str]:
    """CPA's last resort: an FNV-1a hash of system prompt, first user and assistant text."""
    system, user, assistant = _opening(body)
    if not system and not user:
        return "", ""
    short = _session_hash(system, user, b"")
    if not assistant:
        return short, ""
    return _session_hash(system, user, assistant), short


def _opening(body: Mapping[str, Any]) -> tuple[bytes, bytes, bytes]:
    found: dict[str, bytes] = {}
    messages = body.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if not (type(msg) is dict or isinstance(msg, Mapping)):
                continue
            role = msg.get("role")  # (_slot, inline: once per turn)
            slot = _CHAT_SLOTS.get(role) if type(role) is str or isinstance(role, str) else None
            # only a slot still open reads the text: once the first user and assistant texts
            # are in, only a system turn can add one (most bodies have none: to the end)
            if slot is not None and slot not in found and (text := _content_text(msg.get("content"))):
                _keep(found, slot, text)
                if len(found) == 3:
                    break
    if "sys" not in found:
        _keep(found, "sys", _system_text(body.get("system")))
    if "sys" not in found and "usr" not in found:
        _gemini_opening(body, found)
    if "sys" not in found and "usr" not in found:
        _responses_opening(body, found)
    return found.get("sys", b""), found.get("usr", b""), found.get("ast", b"")


def _gemini_opening(body: Mapping[str, Any], found: dict[str, bytes]) -> None:
    instruction = body.get("systemInstruction")
    parts = instruction.get("parts") if isinstance(instruction, Mapping) else None
    _keep(
        found,
        "sys",
        next(
            (
                p["text"]
                for p in parts or ()
                if isinstance(p, Mapping) and isinstance(p.get("text"), str) and p["text"]
            ),
            "",
        ),
    )
    for content in body.get("contents") or ():
        if not isinstance(content, Mapping):
            continue
        slot = _slot(_GEMINI_SLOTS, content.get("role"))
        texts = [
            p["text"]
            for p in content.get("parts") or ()
            if isinstance(p, Mapping) and isinstance(p.get("text"), str) and p["text"]
        ]
        if texts:
            _keep(found, slot, texts[0])
        if "usr" in found and "ast" in found:
            return


def _responses_opening(body: Mapping[str, Any], found: dict[str, bytes]) -> None:
    if isinstance(body.get("instructions"), str):
        _keep(found, "sys", body["instructions"])
    items = body.get("input")
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, Mapping) or item.get("type") not in (None, "", "message"):
            continue
        role = item.get("role")
        if not role:
            continue
        content = item.get("content")
        text = (
            content
            if isinstance(content, str)
            else _content_text(content, ("input_text", "output_text", "text"))
        )
        slot = _slot(_RESPONSES_SLOTS, role)
        _keep(found, slot, text)
        if "usr" in found and "ast" in found:
            return


# role -> slot of the opening; a role that is not a string (an array, an object: client
# input not validated yet) has no slot rather than breaking the dict lookup
_CHAT_SLOTS = {"system": "sys", "user": "usr", "assistant": "ast"}
_GEMINI_SLOTS = {"user": "usr", "model": "ast"}
_RESPONSES_SLOTS = {"developer": "sys", "system": "sys", "user": "usr", "assistant": "ast"}


def _slot(slots: Mapping[str, str], role: Any) -> str | None:
    return slots.get(role) if isinstance(role, str) else None


def _keep(found: dict[str, bytes], slot: str | None, text: str) -> None:
    if slot and text and slot not in found:
        found[slot] = text.encode()[:100]


def _content_text(content: Any, kinds: tuple[str, ...] = ("text",)) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p["text"]
            for p in content
            if (type(p) is dict or isinstance(p, Mapping))
            and p.get("type") in kinds
            and isinstance(p.get("text"), str)
            and p["text"]
        ]
        return " ".join(texts)
    return ""


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        for part in system:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str) and part["text"]:
                return part["text"]
    return ""


# a session's requests open alike: each opening hashed once (a byte loop in Python)
@lru_cache(maxsize=4096)
def _session_hash(system: bytes, user: bytes, assistant: bytes) -> str:
    value = _FNV_OFFSET
    for label, text in ((b"sys:", system), (b"usr:", user), (b"ast:", assistant)):
        if text:
            for byte in label + text + b"\n":
                value = ((value ^ byte) * _FNV_PRIME) & _MASK
    return f"msg:{value:016x}"
