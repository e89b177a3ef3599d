"""``metadata.user_id`` for a request translated to Claude from another format.

CPA's translators from OpenAI Chat, OpenAI Responses and Gemini to Claude always send a
``metadata.user_id``: the caller's own (``metadata.user_id``, else OpenAI's ``user``),
else a SHA-256 (hex) of the first stable signal the client's body holds, so one
conversation keeps one value on every worker and every turn while two conversations get
two. The signals, first found wins: ``prompt_cache_key``; ``session_id`` / ``sessionId``;
``conversation.id``, a string ``conversation``, ``conversation_id``; the first user turn's
text (Chat ``messages``, Responses ``input``, Gemini ``contents`` without thought parts);
else the model and the system instructions; with none of them, ``"unknown"``.

The IR keeps none of those session fields, so the value is made from the client's own
(already parsed) body where the attempt's body is made: :func:`carry` is the Claude
provider's carrier (``Provider.carrier``), called once per translated attempt; a Claude
client's own body (``own``) is left as it came, as CPA derives nothing for it. The Claude
Code identity (OAuth, the CLI profile, cloaking) later writes its own value over this one,
as CPA's executor does after its translator.

Deliberate difference: an object or array given where a string is expected (a
``prompt_cache_key`` object, a ``system`` array) enters the seed as compact JSON, where
CPA hashes the text exactly as the client wrote it; the value is stable either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.formats import Format

__all__ = ["carry", "derive"]

# strconv.ParseBool's true spellings (gjson's Bool() of a string)
_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_RESPONSES_TEXT = frozenset(("input_text", "output_text", "text"))
_NOT_USER = frozenset(("system", "developer", "assistant"))
# the fallback seed's members after the model, in CPA's order
_SYSTEM_KEYS = ("instructions", "system", "systemInstruction", "system_instruction")
# the keys of the signals before the first user turn's text
_SESSION_KEYS = frozenset(("prompt_cache_key", "session_id", "sessionId", "conversation", "conversation_id"))


def carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    own: bool,
) -> None:
    """A translated Claude body without a caller's ``metadata.user_id`` gets the one
    :func:`derive` makes of ``client_body``, in place (a :data:`~cliproxy.providers.base.Carry`)."""
    if own:
        return
    metadata = body.get("metadata")
    if type(metadata) is dict:
        current = metadata.get("user_id")
        if type(current) is str and current.strip():
            return
        body["metadata"] = {**metadata, "user_id": derive(client_body)}
    else:
        body["metadata"] = {"user_id": derive(client_body)}


def derive(body: Mapping[str, Any]) -> str:
    """The ``metadata.user_id`` CPA's ``DeriveClaudeUserID`` gives the client body ``body``:
    a caller's own string as it is (whitespace kept), else a 64-hex SHA-256 of the first
    stable signal, else ``"unknown"``."""
    metadata = body.get("metadata")
    if type(metadata) is dict:
        own = metadata.get("user_id")
        if type(own) is str and own.strip():
            return own
    user = body.get("user")
    if type(user) is str and user.strip():
        return user
    seed = _seed(body)
    if not seed:
        return "unknown"
    return hashlib.sha256(seed.encode()).hexdigest()


def _seed(body: Mapping[str, Any]) -> str:
    if not _SESSION_KEYS.isdisjoint(body):  # (most bodies name no session: one test for all five)
        if value := _text(body.get("prompt_cache_key")).strip():
            return "prompt_cache_key:" + value
        for key in ("session_id", "sessionId"):
            if value := _text(body.get(key)).strip():
                return "session_id:" + value
        if value := _conversation(body):
            return "conversation_id:" + value
    if content := _first_user_text(body):
        return "content:" + content
    parts = []
    if value := _text(body.get("model")).strip():
        parts.append("model:" + value)
    for key in _SYSTEM_KEYS:
        if key in body:
            parts.append(f";{key}:{_text(body[key])}")
    return "".join(parts)


def _conversation(body: Mapping[str, Any]) -> str:
    conversation = body.get("conversation")
    if type(conversation) is dict and (value := _text(conversation.get("id")).strip()):
        return value
    if type(conversation) is str:
        return conversation.strip()
    return _text(body.get("conversation_id")).strip()


def _text(value: Any) -> str:
    """A JSON value as gjson's ``String()`` reads it ("" for none or null)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int or type(value) is float:
        return str(value)
    return orjson.dumps(value).decode()


def _role(item: Any) -> str:
    return _text(item.get("role")).strip().lower() if type(item) is dict else ""


def _first_user_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages")
    if type(messages) is list:
        for message in messages:
            if _role(message) == "user" and (text := _joined(message.get("content"), _is_text)):
                return text
    inputs = body.get("input")
    if type(inputs) is str:
        if text := inputs.strip():
            return text
    elif type(inputs) is list:
        for item in inputs:
            if _is_responses_user(item) and (text := _joined(item.get("content"), _is_responses_text)):
                return text
    contents = body.get("contents")
    if type(contents) is list:
        for turn in contents:  # a turn without a role is the user's (Gemini)
            if (
                type(turn) is dict
                and _role(turn) in ("", "user")
                and (text := _gemini_text(turn.get("parts")))
            ):
                return text
    return ""


def _is_text(part: dict[str, Any]) -> bool:
    return part.get("type") == "text"


def _is_responses_text(part: dict[str, Any]) -> bool:
    return part.get("type") in _RESPONSES_TEXT


def _joined(content: Any, wanted: Any) -> str:
    """A turn's text: a string as it is, else its wanted parts' non-blank texts, one a line."""
    if type(content) is str:
        return content.strip()
    if type(content) is not list:
        return ""
    texts = [
        value
        for part in content
        if type(part) is dict and wanted(part) and "text" in part and (value := _text(part["text"]).strip())
    ]
    return "\n".join(texts).strip()


def _is_responses_user(item: Any) -> bool:
    """A Responses input item that is the user's: role user, or a message with no other role."""
    role = _role(item)
    if role == "user":
        return True
    if role in _NOT_USER or type(item) is not dict:
        return False
    return _text(item.get("type")).strip().lower() == "message"


def _gemini_text(parts: Any) -> str:
    if type(parts) is not list:
        return ""
    texts = [
        value
        for part in parts
        if type(part) is dict
        and not _thought(part.get("thought"))
        and "text" in part
        and (value := _text(part["text"]).strip())
    ]
    return "\n".join(texts)


def _thought(value: Any) -> bool:
    """gjson's ``Bool()``: true, a non-zero number, or a string ParseBool reads as true."""
    if value is True:
        return True
    if value is None or value is False:
        return False
    if type(value) is int or type(value) is float:
        return value != 0
    return type(value) is str and value in _TRUE
