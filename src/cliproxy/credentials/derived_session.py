"""A conversation's identity for clients that name none (CPA ``session.DeriveID``).

Claude Code names its session, the Codex CLI sends ``prompt_cache_key``, OpenCode an
affinity header; most Chat Completions, Responses and Gemini clients send nothing that
survives from one turn to the next. Their conversations still have a root that does not
change as they grow: the leading instructions and the first complete user input. CPA
hashes that root, with the caller's API key folded in so two callers who open alike never
share an identity, and uses the result where an upstream wants a conversation id:

* :func:`derive_id`: ``ctx:v1:<sha256>`` of the root, as CPA encodes it (its JSON byte for
  byte, so a user moving between CPA and cliproxy keeps the same ids and caches);
* :func:`session_identity`: the derived id of a request, ``""`` when the request names its
  own session (an explicit one always wins) or has no user input yet;
* :func:`provider_session_uuid`: a stable per-provider UUID of the Responses WebSocket's
  execution session, else of the derived id (CPA ``helps.ProviderSessionUUID``);
* :func:`antigravity_session_id`: the derived id in Cloud Code's negative decimal form.

Instructions count up to their first 50 characters (a system prompt that ends in a
timestamp keeps its conversation); the first user input counts whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson

from cliproxy.credentials.session import claude_metadata_session, extract_session_keys, normalize_session_id
from cliproxy.formats import Format
from cliproxy.ids import oid_uuid
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.translate.replay_keys import caller_key

__all__ = [
    "EXPLICIT_HEADERS",
    "affinity_key",
    "affinity_keys",
    "antigravity_session_id",
    "caller_scope",
    "derive_id",
    "has_explicit_session",
    "provider_session_uuid",
    "session_identity",
]

VERSION = "cpa-session-root-v1"
PREFIX = "ctx:v1:"
INSTRUCTION_CHARS = 50
# the headers that name a session outright (CPA's list), compared case-insensitively
EXPLICIT_HEADERS = (
    "x-claude-code-session-id",
    "x-session-id",
    "session-id",
    "session_id",
    "x-session-affinity",
    "x-client-request-id",
)
_BODY_SESSIONS = ("session_id", "sessionId", "conversation_id", "prompt_cache_key")
# Go's encoder escapes these inside strings; orjson writes them as they are
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))  # fmt: skip


def caller_scope(api_key: str) -> str:
    """An irreversible namespace for the caller's API key; ``""`` without one."""
    api_key = api_key.strip()
    return _scope(api_key) if api_key else ""


@lru_cache(maxsize=1024)
def _scope(api_key: str) -> str:
    return hashlib.sha256(b"cli-proxy-api:caller-scope:v1\x00" + api_key.encode()).hexdigest()


def has_explicit_session(headers: Mapping[str, str], body: Mapping[str, Any]) -> bool:
    """Whether the request names its session itself (a header, a body field, Claude
    Code's ``metadata.user_id``, a Responses ``conversation``): then nothing is derived."""
    if headers:
        for name, value in headers.items():
            if name.lower() in EXPLICIT_HEADERS and normalize_session_id(value):
                return True
    for name in _BODY_SESSIONS:
        if normalize_session_id(body.get(name)):
            return True
    if claude_metadata_session(body):  # (before the user id's own length is checked)
        return True
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and normalize_session_id(metadata.get("user_id")):
        return True
    conversation = body.get("conversation")
    if isinstance(conversation, Mapping):
        return bool(normalize_session_id(conversation.get("id")))
    return isinstance(conversation, str) and bool(normalize_session_id(conversation))


def session_identity(fmt: Format, body: Mapping[str, Any], headers: Mapping[str, str], api_key: str) -> str:
    """The derived id of a client request (CPA ``session.Enrich``): ``""`` when it names
    its own session or has no user input to derive from."""
    if has_explicit_session(headers, body):
        return ""
    return derive_id(fmt, body, caller_scope(api_key))


def affinity_key(fmt: Format, headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """The session-affinity key of a request, in CPA's order: a session it names, the
    Responses WebSocket's session, the derived identity, the hash of its opening."""
    return affinity_keys(fmt, headers, body)[0] or None


def affinity_keys(fmt: Format, headers: Mapping[str, str], body: Mapping[str, Any]) -> tuple[str, str]:
    """``(primary, fallback)`` session-affinity keys (:func:`affinity_key`; the fallback is
    an older key the conversation was bound under: its ``conversation`` id once it sends a
    ``prompt_cache_key``, its opening's hash once it has an answer); ``("", "")`` for none."""
    execution = headers.get(SESSION_HEADER)
    meta = {"execution_session_id": execution} if execution else None
    return extract_session_keys(
        headers, body, meta, lambda: derive_id(fmt, body, caller_scope(caller_key(headers)))
    )


def derive_id(fmt: Format | str, body: Mapping[str, Any], scope: str) -> str:
    """``ctx:v1:`` and the SHA-256 of the conversation's root; ``""`` without a user input."""
    name = str(fmt)
    if name == "gemini":
        instructions, user = _gemini_root(body)
    elif name == "interactions":
        instructions, user = _interactions_root(body)
    elif name in ("openai-response", "codex"):
        instructions, user = _responses_root(body)
    else:
        instructions, user = _messages_root(body, system=name == "claude")
    if not user:
        return ""
    root: dict[str, Any] = {"version": VERSION, "format": name, "caller_scope": scope.strip()}
    if instructions:
        root["instructions"] = instructions
    root["user"] = user
    if name == "gemini" and (resource := _string_field(body, "cachedContent", "cached_content")):
        root["resource"] = resource
    return PREFIX + hashlib.sha256(_go_json(root, sort=False)).hexdigest()


def provider_session_uuid(provider: str, execution: str, derived: str) -> str:
    """A provider's stable UUID for the conversation: of the execution session (the
    Responses WebSocket's) when there is one, else of the derived id; ``""`` for neither."""
    if execution := execution.strip():
        return _provider_uuid(provider.strip().lower(), "execution-session", execution)
    if derived := derived.strip():
        return _provider_uuid(provider.strip().lower(), "derived-session", derived)
    return ""


@lru_cache(maxsize=4096)
def _provider_uuid(provider: str, kind: str, value: str) -> str:
    if not provider:
        return ""
    return oid_uuid("\x00".join(("cli-proxy-api", provider, kind, value)))


def antigravity_session_id(derived: str) -> str:
    """Cloud Code's ``sessionId`` form of a derived id: a negative decimal."""
    digest = hashlib.sha256(b"cli-proxy-api:antigravity:derived-session\x00" + derived.encode()).digest()
    return f"-{int.from_bytes(digest[:8], 'big') & 0x7FFFFFFFFFFFFFFF}"


# -- the roots of each format


Parts = list[dict[str, str]]


def _messages_root(body: Mapping[str, Any], *, system: bool) -> tuple[list[str], Parts]:
    instructions: list[str] = []
    if system and "system" in body:
        _instruction(instructions, body["system"])
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, Mapping):
            continue
        role = _lower(message.get("role"))
        if role in ("system", "developer"):
            _instruction(instructions, message.get("content"))
        elif role == "user":
            return instructions, _parts(message.get("content"))
    return instructions, []


def _responses_root(body: Mapping[str, Any]) -> tuple[list[str], Parts]:
    instructions: list[str] = []
    if "instructions" in body:
        _instruction(instructions, body["instructions"])
    if "input" not in body:
        return instructions, []
    items = body["input"]
    if isinstance(items, str):
        return instructions, _parts(items)
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping):
            continue
        role = _lower(item.get("role"))
        if role in ("system", "developer"):
            _instruction(instructions, item.get("content"))
        elif role == "user":
            return instructions, _parts(item.get("content"))
    return instructions, []


def _gemini_root(body: Mapping[str, Any]) -> tuple[list[str], Parts]:
    instructions: list[str] = []
    found, value = _first_field(body, "systemInstruction", "system_instruction")
    if found:
        _instruction(instructions, _content_value(value))
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else ():
        if isinstance(content, Mapping) and _lower(content.get("role")) == "user":
            return instructions, _parts(_content_value(content))
    return instructions, []


def _interactions_root(body: Mapping[str, Any]) -> tuple[list[str], Parts]:
    instructions: list[str] = []
    found, value = _first_field(body, "system_instruction", "systemInstruction")
    if found:
        _instruction(instructions, _content_value(value))
    if "input" not in body:
        return instructions, []
    entries = body["input"]
    if isinstance(entries, str):
        return instructions, _parts(entries)
    for entry in _flatten_steps(entries):
        if isinstance(entry, str):
            return instructions, _parts(entry)
        if not isinstance(entry, Mapping):
            continue
        role, kind = _lower(entry.get("role")), _lower(entry.get("type"))
        if role in ("system", "developer") or kind in ("system_instruction", "developer_instruction"):
            _instruction(instructions, _content_value(entry))
        elif role == "user" or kind == "user_input" or (kind in ("message", "") and role == ""):
            return instructions, _parts(_content_value(entry))
    return instructions, []


def _flatten_steps(value: Any, inherited: str = "") -> list[Any]:
    """Interactions input as a flat list: ``steps`` opened, each step given its parent's
    role when it has none of its own."""
    out: list[Any] = []
    if isinstance(value, list):
        for child in value:
            out.extend(_flatten_steps(child, inherited))
    elif isinstance(value, Mapping):
        role = _lower(value.get("role")) or inherited
        steps = value.get("steps")
        if isinstance(steps, list):
            for child in steps:
                out.extend(_flatten_steps(child, role))
            return out
        if role and not _lower(value.get("role")):
            value = {**value, "role": role}
        out.append(value)
    else:
        out.append(value)
    return out


# -- parts


def _instruction(instructions: list[str], value: Any) -> None:
    text = "\n".join(p["value"] for p in _parts(value) if p["kind"] == "text" and p["value"])
    if text:
        instructions.append(text[:INSTRUCTION_CHARS])


def _parts(value: Any) -> Parts:
    out: Parts = []
    _add_parts(out, value)
    return out


def _add_parts(out: Parts, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value:
            out.append({"kind": "text", "value": value})
    elif isinstance(value, list):
        for child in value:
            _add_parts(out, child)
    elif isinstance(value, Mapping):
        if isinstance(value.get("text"), str):
            _add_parts(out, value["text"])
        elif "content" in value:
            _add_parts(out, value["content"])
        elif "parts" in value:
            _add_parts(out, value["parts"])
        elif "image_url" in value:
            _add_media(out, "image", value["image_url"], "")
        elif (found := _first_field(value, "inlineData", "inline_data"))[0]:
            _add_media(out, "inline_data", found[1], "")
        elif (found := _first_field(value, "fileData", "file_data"))[0]:
            _add_media(out, "file", found[1], "")
        elif "source" in value:
            _add_media(out, _lower(value.get("type")), value["source"], _lower(value.get("media_type")))
        else:
            out.append({"kind": "json", "value": _go_json(_without_cache_control(value)).decode()})
    else:
        out.append({"kind": "json", "value": _go_json(value).decode()})


def _add_media(out: Parts, kind: str, value: Any, mime: str) -> None:
    kind = kind.strip() or "media"
    if isinstance(value, str):
        if value:
            out.append(_media(kind, mime, value))
    elif isinstance(value, Mapping):
        mime = _string_field(value, "mimeType", "mime_type", "media_type") or mime
        data = _string_field(value, "url", "uri", "fileUri", "file_uri", "data")
        if data:
            out.append(_media(kind, mime, data))
    else:
        _add_parts(out, value)


def _media(kind: str, mime: str, value: str) -> dict[str, str]:
    return {"kind": kind, "mime": mime, "value": value} if mime else {"kind": kind, "value": value}


def _without_cache_control(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: _without_cache_control(v) for k, v in value.items() if k.strip().lower() != "cache_control"
        }
    if isinstance(value, list):
        return [_without_cache_control(v) for v in value]
    return value


def _content_value(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    for name in ("content", "parts", "text"):
        if name in value:
            return value[name]
    return value


def _first_field(value: Mapping[str, Any], *names: str) -> tuple[bool, Any]:
    for name in names:
        if name in value:
            return True, value[name]
    return False, None


def _string_field(value: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` present, trimmed, when it is a string (CPA reads only the
    first present: a present non-string ends the search)."""
    found, text = _first_field(value, *names)
    return text.strip() if found and isinstance(text, str) else ""


def _lower(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _go_json(value: Any, *, sort: bool = True) -> bytes:
    """JSON as Go's ``encoding/json`` writes it: the keys of a map sorted (``sort``; the
    root is a struct, written in field order), a whole float as an integer (``1``, not
    ``1.0``), and ``<``, ``>``, ``&`` and the two line separators escaped."""
    out = orjson.dumps(_whole_floats(value), option=orjson.OPT_SORT_KEYS) if sort else orjson.dumps(value)
    for raw, escaped in _GO_ESCAPES:
        if out.find(raw) >= 0:
            out = out.replace(raw, escaped)
    return out


def _whole_floats(value: Any) -> Any:
    if type(value) is float and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _whole_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats(v) for v in value]
    return value
