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
from cliproxy.formats import openai_responses as responses_wire
from cliproxy.formats.claude import usage_from_wire, usage_to_wire
from cliproxy.formats.ids import token_hex, uuid_hex
from cliproxy.formats.openai_chat import COMPLETION_OBJECT, parse_usage, usage_body
from cliproxy.translate import ir
from cliproxy.translate.claude.response import new_message_id
from cliproxy.translate.openai_responses.response import _echo, instructions_of, plain_echo

__all__ = [
    "PLAIN_ANSWERS",
    "UNPARSED",
    "PlainAnswer",
    "UnparsedAnswer",
    "chat_to_claude",
    "claude_to_chat",
    "claude_to_responses",
    "gemini_to_chat",
]

# (answer body, the IR request, the model name the client must see) -> (the client's
# answer, the upstream's usage), or None: not the plain shape
PlainAnswer = Callable[
    [dict[str, Any], "ir.Request | None", "str | None"], "tuple[dict[str, Any], ir.Usage] | None"
]

_CHAT_MESSAGE = frozenset(("role", "content"))
_OPENAI_MESSAGE = _CHAT_MESSAGE | {"refusal", "annotations"}  # (OpenAI's plain answer)
_GEMINI_TOP = frozenset(("candidates", "usageMetadata", "responseId", "modelVersion"))
_GEMINI_CANDIDATE = frozenset(("content", "finishReason", "index"))


def gemini_to_chat(
    body: dict[str, Any], request: ir.Request | None, model: str | None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """A Gemini answer of one candidate, text parts only, finished with ``STOP``, as a
    Chat Completions answer (what ``gemini.parse_response`` then ``openai_chat.build_response``
    write)."""
    return _gemini_chat(body, None, request.model if request else "", model)


def _gemini_chat(
    body: dict[str, Any], client: dict[str, Any] | None, name: str, model: str | None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """:func:`gemini_to_chat` of a request named ``name`` (the IR's model, or the upstream
    name of a request ``plain_requests.chat_to_gemini`` wrote: nothing else of it is read,
    so that one needs no IR; ``client`` is not read)."""
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
        "model": model or body.get("modelVersion") or name,
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


def chat_to_claude(
    body: dict[str, Any], request: ir.Request | None, model: str | None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """A Chat Completions answer whose first choice is a non-empty text (with OpenAI's
    ``refusal: null`` and ``annotations`` at most) finished with ``stop``, as a Claude
    message (what ``openai_chat.parse_response`` then ``claude.build_response`` write: only
    the first choice is read, and the other keys are nothing a Claude client is shown)."""
    try:  # (a shape this does not expect raises: the hub's answer then)
        choice = body["choices"][0]
        if choice["finish_reason"] != "stop":
            return None
        msg = choice["message"]
        text = msg["content"]
        keys = msg.keys()
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    if type(text) is not str or not text:
        return None
    if not keys <= _CHAT_MESSAGE and not (keys <= _OPENAI_MESSAGE and msg.get("refusal") is None):
        return None
    u = body.get("usage")
    usage = parse_usage(u) if isinstance(u, dict) else ir.Usage()
    out = {
        "id": str(body.get("id") or "") or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model or str(body.get("model") or ""),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage_to_wire(usage),
    }
    return out, usage


_CLAUDE_TOP = frozenset(("id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"))
_CLAUDE_TEXT = frozenset(("type", "text"))


def claude_to_responses(
    body: dict[str, Any], request: ir.Request | None, model: str | None, client: dict[str, Any] | None = None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """A Claude message of text blocks only (``type`` and ``text``) that ended with
    ``end_turn``, as a Responses object (what ``claude.parse_response`` then
    ``openai_responses.build_response`` write: one message item of ``output_text`` parts,
    the request's fields echoed). ``client``: the client's body, for a request
    ``plain_requests.responses_to_claude`` wrote (``request`` is not read then)."""
    if not body.keys() <= _CLAUDE_TOP or body.get("stop_reason") != "end_turn":
        return None
    mid = body.get("id") or ""
    blocks = body.get("content") or []
    if type(mid) is not str or type(blocks) is not list:
        return None
    parts: list[dict[str, Any]] = []
    for b in blocks:
        if type(b) is not dict or b.get("type") != "text" or not b.keys() <= _CLAUDE_TEXT:
            return None
        text = b.get("text")
        if type(text) is not str:
            return None
        parts.append({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
    u = body.get("usage")
    usage = usage_from_wire(u) if isinstance(u, dict) else ir.Usage()
    out: dict[str, Any] = {
        "id": mid if mid.startswith("resp_") else "resp_" + (mid or uuid_hex()),
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "model": model or body.get("model") or "",
        "output": None,
    }
    if client is None:
        out.update(_echo(request))
        out["instructions"] = instructions_of(request)
    else:  # a request responses_to_claude wrote: its echo, read off the client's body
        out.update(_plain_echo(client))
    out["output"] = (
        [
            {
                "id": f"msg_{mid.removeprefix('resp_')}000",
                "type": "message",
                "status": "completed",
                "content": parts,
                "role": "assistant",
            }
        ]
        if parts
        else []
    )
    out["usage"] = responses_wire.usage_to_wire(usage)
    return out, usage


# a Claude stop reason of a text answer -> its finish_reason (STOP_FROM_WIRE, then STOP_TO_FINISH)
_CLAUDE_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def claude_to_chat(
    body: dict[str, Any], request: ir.Request | None, model: str | None
) -> tuple[dict[str, Any], ir.Usage] | None:
    """A Claude message of text blocks only (``type`` and ``text``) that ended with
    ``end_turn``, ``stop_sequence`` or ``max_tokens``, as a Chat Completions answer (what
    ``claude.parse_response`` then ``openai_chat.build_response`` write: the texts joined,
    no other member of the message read; nothing of the request is)."""
    mid, blocks, stop = body.get("id") or "", body.get("content") or [], body.get("stop_reason")
    if type(mid) is not str or type(blocks) is not list or type(stop) is not str:
        return None
    finish = _CLAUDE_FINISH.get(stop)
    if finish is None:
        return None
    texts: list[str] = []
    for b in blocks:
        if type(b) is not dict or b.get("type") != "text" or not b.keys() <= _CLAUDE_TEXT:
            return None
        text = b.get("text")
        if type(text) is not str:
            return None
        texts.append(text)
    u = body.get("usage")
    usage = usage_from_wire(u) if isinstance(u, dict) else ir.Usage()
    out = {
        "id": mid if mid.startswith("chatcmpl") else "chatcmpl-" + (mid or uuid_hex()),
        "object": COMPLETION_OBJECT,
        "created": int(time.time()),
        "model": model or body.get("model") or "",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(texts) if texts else None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage_body(usage),
    }
    return out, usage


# (upstream format, client format) -> its plain-answer translator
PLAIN_ANSWERS: dict[tuple[Format, Format], PlainAnswer] = {
    (Format.GEMINI, Format.OPENAI): gemini_to_chat,
    (Format.OPENAI, Format.CLAUDE): chat_to_claude,
    (Format.CLAUDE, Format.RESPONSES): claude_to_responses,
    (Format.CLAUDE, Format.OPENAI): claude_to_chat,
}


def _plain_echo(client: dict[str, Any]) -> dict[str, Any]:
    """What ``openai_responses.response._echo`` and ``instructions_of`` read of the IR of a
    Responses body ``plain_requests.responses_to_claude`` takes (``RESPONSES_KEYS``: no
    tools, reasoning, text, metadata or user; every key of it consumed by the parse)."""
    return plain_echo(
        client.get("instructions"),
        client.get("max_output_tokens"),
        {},
        True,
        client.get("temperature"),
        client.get("top_p"),
        None,
    )


# (answer, the client's body, the upstream model name, the name the client must see) ->
# the plain answer, or None: not the plain shape
UnparsedAnswer = Callable[
    [dict[str, Any], dict[str, Any], str, "str | None"], "tuple[dict[str, Any], ir.Usage] | None"
]
# the plain answers of a request whose IR was never made (``plain_requests``): read off the
# client's body instead (a Chat answer of Gemini's reads of the request its model name
# alone; a Claude or a Chat answer of Claude's, nothing)
UNPARSED: dict[tuple[Format, Format], UnparsedAnswer] = {
    (Format.GEMINI, Format.OPENAI): _gemini_chat,
    (Format.CLAUDE, Format.RESPONSES): lambda body, client, name, model: claude_to_responses(
        body, None, model, client
    ),
    (Format.OPENAI, Format.CLAUDE): lambda body, client, name, model: chat_to_claude(body, None, model),
    (Format.CLAUDE, Format.OPENAI): lambda body, client, name, model: claude_to_chat(body, None, model),
}
