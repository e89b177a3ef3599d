"""Whole answers of the common shape, translated straight from one format to another.

An answer of plain text parts that ended normally is most of what a translating proxy
answers. Read into an ``ir.Response`` and written out again, it costs two walks and
three objects; the functions here write the client's answer in one walk instead. Each
returns ``None`` for any answer that is not exactly that shape (a call, a thought, a
signature, an extra key, a second candidate...), and the hub (``Registry``) translates it.
Their output is byte for byte the hub's (``tests/translate/test_plain_answers.py``
compares them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats import gemini as gemini_wire
from cliproxy.formats.ids import token_hex
from cliproxy.formats.openai_chat import COMPLETION_OBJECT, usage_body
from cliproxy.translate import ir

__all__ = ["PLAIN_ANSWERS", "PlainAnswer", "gemini_to_chat"]

# (answer body, the IR request, the model name the client must see) -> (the client's
# answer, the upstream's usage), or None: not the plain shape
PlainAnswer = Callable[
    [dict[str, Any], "ir.Request | None", "str | None"], "tuple[dict[str, Any], ir.Usage] | None"
]

_GEMINI_TOP = frozenset(("candidates", "usageMetadata", "responseId", "modelVersion"))
_GEMINI_CANDIDATE = frozenset(("content", "finishReason", "index"))


def gemini_to_chat(
    body: dict[str, Any], request: ir.Request | None, model: str | None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """A Gemini answer of one candidate, text parts only, finished with ``STOP``, as a
    Chat Completions answer (what ``gemini.parse_response`` then ``openai_chat.build_response``
    write)."""
    if not body.keys() <= _GEMINI_TOP:
        return None
    try:  # (a shape this does not expect raises: the hub's answer then)
        [cand] = body["candidates"]
        if cand["finishReason"] != "STOP" or not cand.keys() <= _GEMINI_CANDIDATE:
            return None
        texts: list[str] = []
        for p in cand["content"]["parts"]:
            if len(p) != 1:
                return None
            texts.append(p["text"])
        text = "".join(texts) if texts else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    rid = body.get("responseId")
    if not rid:
        rid = f"chatcmpl-resp-{token_hex(8)}"
    elif type(rid) is not str:
        return None
    elif not rid.startswith("chatcmpl"):
        rid = "chatcmpl-" + rid
    meta = body.get("usageMetadata")
    usage = gemini_wire.usage_from_metadata(meta) if isinstance(meta, dict) else ir.Usage()
    out = {
        "id": rid,
        "object": COMPLETION_OBJECT,
        "created": int(time.time()),
        "model": model or body.get("modelVersion") or (request.model if request else ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage_body(usage),
    }
    return out, usage


# (upstream format, client format) -> its plain-answer translator
PLAIN_ANSWERS: dict[tuple[Format, Format], PlainAnswer] = {
    (Format.GEMINI, Format.OPENAI): gemini_to_chat,
}
