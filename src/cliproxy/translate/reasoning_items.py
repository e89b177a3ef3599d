"""Reasoning items on their way to a Responses upstream that checks them (Codex).

CPA's ``sanitizeOpenAIResponsesReasoningEncryptedContent``: a reasoning item's
``encrypted_content`` that is not OpenAI's own (Fernet-shaped ``gAAAA...``: a Claude or
Gemini signature a client carried, ``null``, a value with stray whitespace) is removed,
since the upstream refuses the whole request over it. With ``store`` not ``true`` the
item's ``id`` goes too (the upstream would look the id up and fail, as nothing is
stored), and so does the ``id`` of a reasoning item that has no ``encrypted_content``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate.envelopes import is_valid_gpt

__all__ = ["drop_foreign_encrypted_content"]


def drop_foreign_encrypted_content(body: dict[str, Any]) -> bool:
    """Edit ``body`` as CPA does; the ``input`` list is replaced, never edited in place
    (it may be the client's). True when anything changed."""
    items = body.get("input")
    if not isinstance(items, list):
        return False
    strip_ids = body.get("store") is not True
    out: list[Any] | None = None
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        if "encrypted_content" in item:
            value = item["encrypted_content"]
            if isinstance(value, str) and value == value.strip() and is_valid_gpt(value):
                continue
            drop = {"encrypted_content", "id"} if strip_ids else {"encrypted_content"}
        elif strip_ids and "id" in item:
            drop = {"id"}
        else:
            continue
        if out is None:
            out = list(items)
        out[i] = {k: v for k, v in item.items() if k not in drop}
    if out is None:
        return False
    body["input"] = out
    return True
