"""Whole Chat Completions responses <-> IR.

Only the first choice is translated; for a Chat Completions source, other choices and
unknown keys are kept (``extras["_choices"]``, ``_choice``, ``_message``, plain keys) and
written back. ``message.refusal`` becomes a Text marked ``_refusal``. Another format's
citations of a text that name a web page (Claude's web search sources) become
``message.annotations`` (``url_citation`` spanning that text in ``content``), as OpenAI's
search models write their sources.
"""

from __future__ import annotations

import time
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.data_url import make_data_url as to_data_url
from cliproxy.formats.ids import uuid_hex
from cliproxy.formats.openai_chat import (
    COMPLETION_OBJECT,
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    finish_reason,
    parse_usage,
    usage_body,
)
from cliproxy.translate import ir
from cliproxy.translate.citations import url_citations
from cliproxy.translate.custom_tools import is_custom, raw_input
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.decode import synth_call_id
from cliproxy.translate.openai_chat.names import restore
from cliproxy.translate.tool_output import generated_image

__all__ = ["build_response", "chat_id", "gemini_signature", "image_item", "parse_response"]

_SOURCE = Format.OPENAI.value
_TOP = frozenset(("id", "object", "created", "model", "choices", "usage"))
_CHOICE = frozenset(("index", "message", "finish_reason"))
_CHOICE_LOGPROBS = _CHOICE | {"logprobs"}  # (``logprobs: null`` is what the builder writes)
_PLAIN_MESSAGE = frozenset(("role", "content"))
# OpenAI's plain answer: with ``refusal: null`` and ``annotations: []`` (kept as extras)
_OPENAI_MESSAGE = _PLAIN_MESSAGE | {"refusal", "annotations"}


def chat_id(resp_id: str | None) -> str:
    """A ``chatcmpl-`` id for a response id of any format."""
    if resp_id and resp_id.startswith("chatcmpl"):
        return resp_id
    return "chatcmpl-" + (resp_id or uuid_hex())


# --------------------------------------------------------------------------- parse


def parse_response(body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
    """``body`` -> IR. What only a Chat Completions client is given back (the other choices,
    unknown members, OpenAI's ``refusal: null`` / ``annotations: []``) is kept unless
    ``request`` is another format's: no other format's builder reads it."""
    created = body.get("created")
    u = body.get("usage")
    resp = ir.Response(  # the usage given here: no default Usage made to be replaced
        str(body.get("id") or ""),
        str(body.get("model") or ""),
        [],
        None,
        None,
        parse_usage(u) if isinstance(u, dict) else ir.Usage(),
        created if type(created) is int else 0,
        _SOURCE,
    )
    keep = request is None or request.source == _SOURCE
    if keep and not body.keys() <= _TOP:  # (OpenAI's service_tier, system_fingerprint): kept in order
        extras = body.copy()
        for k in _TOP:
            extras.pop(k, None)
        resp.extras = extras
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return resp
    if keep and len(choices) > 1:
        resp.extras["_choices"] = choices[1:]
    choice = choices[0]
    if (
        keep
        and not choice.keys() <= _CHOICE
        and not (choice.keys() <= _CHOICE_LOGPROBS and choice["logprobs"] is None)
    ):
        resp.extras["_choice"] = {k: v for k, v in choice.items() if k not in _CHOICE}
    fr = choice.get("finish_reason")
    if isinstance(fr, str):
        resp.stop_reason = FINISH_TO_STOP.get(fr, "end_turn")
        if fr not in FINISH_TO_STOP:
            resp.extras["stop_raw"] = fr
    msg = choice.get("message")
    if type(msg) is dict and type(content := msg.get("content")) is str and content:
        keys = msg.keys()
        if keys <= _PLAIN_MESSAGE:  # the common answer, read here as _parse_message reads it
            resp.content.append(ir.Text(content))
            calls = False
        elif keys <= _OPENAI_MESSAGE and msg.get("refusal") is None:  # OpenAI's own, as plain
            resp.content.append(ir.Text(content))
            if keep:
                rest = msg.copy()
                rest.pop("role", None)
                del rest["content"]
                resp.extras["_message"] = rest
            calls = False
        else:
            calls = _parse_message(msg, resp, request)
    else:
        calls = _parse_message(msg, resp, request) if isinstance(msg, dict) else False
    if calls and resp.stop_reason == "end_turn":
        resp.stop_reason = "tool_use"
    return resp


def _parse_message(msg: dict[str, Any], resp: ir.Response, request: ir.Request | None) -> bool:
    """Reads ``msg`` into ``resp``; true when it made a tool call."""
    content = msg.get("content")
    if type(content) is str and content and msg.keys() <= _PLAIN_MESSAGE:  # the common answer
        resp.content.append(ir.Text(content))
        return False
    used = {"role", "content", "tool_calls"}
    found = ""  # reasoning_content, else reasoning (CPA: an empty reasoning_content too)
    for key in ("reasoning_content", "reasoning"):
        value = msg.get(key)
        if isinstance(value, str) and (value or not found):
            found = key
            if value:
                break
    if found:
        resp.content.append(ir.Thinking(msg[found], family="openai"))
        used.add(found)
    if content == "":
        used.discard("content")  # kept as given: "" and null both occur
    elif isinstance(content, str):
        resp.content.append(ir.Text(content))
    elif isinstance(content, list):  # some providers answer with parts
        resp.content.extend(
            ir.Text(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    refusal = msg.get("refusal")
    if isinstance(refusal, str) and refusal:
        resp.content.append(ir.Text(refusal, extras={"_refusal": True}))
        used.add("refusal")
    calls = False
    for tc in msg.get("tool_calls") or ():
        call = _parse_call(tc, request)
        if call is not None:
            resp.content.append(call)
            calls = True
    rest = {k: v for k, v in msg.items() if k not in used}
    if rest:
        resp.extras["_message"] = rest
    return calls


def _parse_call(tc: Any, request: ir.Request | None) -> ir.ToolCall | None:
    if not isinstance(tc, dict):
        return None
    kind: ir.ToolKind = "custom" if tc.get("type") == "custom" else "function"
    body = tc.get(kind)
    if not isinstance(body, dict):
        return None
    name, ns = restore(str(body.get("name") or ""), request)
    args = body.get("input" if kind == "custom" else "arguments")
    text = args if isinstance(args, str) else ""
    if kind == "function" and is_custom(name, ns, request):  # sent as a JSON tool
        kind, text = "custom", raw_input(text)
    elif kind == "function" and not text:
        text = "{}"  # a call without arguments: valid JSON for every client
    # a call the upstream gave no id gets one of its own, as in a stream: two calls never
    # share an id, so the client can answer each
    call_id = str(tc.get("id") or "") or synth_call_id(request)
    return ir.ToolCall(id=call_id, name=name, arguments=text, kind=kind, namespace=ns)


# --------------------------------------------------------------------------- build


def build_response(resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
    same = resp.source == _SOURCE
    texts: list[str] = []
    cited = False
    for b in resp.content:  # an answer of plain text blocks (the common one) is read here
        if type(b) is not ir.Text or b.extras:
            message, has_calls = _build_message(resp, same)
            break
        texts.append(b.text)
        cited = cited or bool(b.citations)
    else:
        message = {"role": "assistant", "content": "".join(texts) if texts else None}
        if same and "_message" in resp.extras:
            message.update(resp.extras["_message"] or {})
        elif cited and (notes := _annotations(resp.content)):
            message["annotations"] = notes
        has_calls = False
    if same and "stop_raw" in resp.extras:
        fr = resp.extras["stop_raw"]
    elif not has_calls:
        fr = STOP_TO_FINISH.get(resp.stop_reason or "end_turn", "stop")  # finish_reason's map
    else:
        fr = finish_reason(resp.stop_reason, has_calls)
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None, "finish_reason": fr}
    rid = resp.id
    if not ((same and rid) or (rid and rid.startswith("chatcmpl"))):
        rid = "chatcmpl-" + (rid or uuid_hex())  # chat_id, inline
    body: dict[str, Any] = {
        "id": rid,
        "object": COMPLETION_OBJECT,
        "created": resp.created or int(time.time()),
        "model": resp.model,
        "choices": [choice],
        "usage": usage_body(resp.usage),
    }
    if same:
        choice.update(resp.extras.get("_choice") or {})
        body["choices"].extend(resp.extras.get("_choices") or ())
        body.update({k: v for k, v in resp.extras.items() if not k.startswith("_") and k != "stop_raw"})
    return body


def _build_message(resp: ir.Response, same: bool) -> tuple[dict[str, Any], bool]:
    texts: list[str] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for b in resp.content:
        if isinstance(b, ir.Text):
            (refusal if b.extras and b.extras.get("_refusal") else texts).append(b.text)
        elif isinstance(b, ir.Thinking):
            if b.text and not b.redacted:
                reasoning.append(b.text)
        elif isinstance(b, ir.ToolCall):
            calls.append(_call(b))
        elif isinstance(b, ir.ServerTool) and (image := generated_image(b.raw)) is not None:
            # Codex image_generation, a streamed Gemini image part (CPA)
            images.append(image_item(image, gemini_signature(b.raw) if b.family == "gemini" else None))
        elif isinstance(b, ir.Image) and b.data:  # a Gemini image model's picture (CPA)
            images.append(image_item(b, gemini_signature(b.extras)))
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if images:
        msg["images"] = images
    if refusal:
        msg["refusal"] = "".join(refusal)
    if reasoning:
        msg["reasoning_content"] = "".join(reasoning)
    if calls:
        msg["tool_calls"] = calls
    if same:
        msg.update(resp.extras.get("_message") or {})
    elif notes := _annotations(resp.content):
        msg["annotations"] = notes
    return msg, bool(calls)


def _annotations(blocks: list[ir.Block]) -> list[dict[str, Any]]:
    """The web pages the text blocks cite, each a ``url_citation`` spanning its block's text
    in the joined ``content``."""
    out: list[dict[str, Any]] = []
    at = 0
    for b in blocks:
        if isinstance(b, ir.Text) and not (b.extras and b.extras.get("_refusal")):
            end = at + len(b.text)
            for note in url_citations(b.citations, at, end) or ():
                del note["type"]
                out.append({"type": "url_citation", "url_citation": note})
            at = end
    return out


def gemini_signature(part: dict[str, Any] | None) -> Any:
    """The ``thoughtSignature`` of a Gemini part (or of an IR block's extras), either spelling."""
    return part.get("thoughtSignature") or part.get("thought_signature") if part else None


def image_item(image: ir.Image, signature: Any = None) -> dict[str, Any]:
    """An item of a message's ``images``; a Gemini image's signature rides on it as Google's
    OpenAI endpoint carries a call's (``extra_content.google.thought_signature``), for the
    next turn to send back with the image (``messages._gemini_images``: Gemini refuses the
    image without it). CPA leaves it out."""
    url = to_data_url(image.media_type or "image/png", image.data or "")
    item: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if type(signature) is str and signature:
        item["extra_content"] = {"google": {"thought_signature": signature}}
    return item


def _call(b: ir.ToolCall) -> dict[str, Any]:
    name = flat_name(b.name, b.namespace)
    if b.kind == "custom":
        return {"id": b.id, "type": "custom", "custom": {"name": name, "input": b.arguments}}
    out = {"id": b.id, "type": "function", "function": {"name": name, "arguments": b.arguments}}
    if b.signature and b.family == "gemini":  # as Google's OpenAI endpoint carries it
        out["extra_content"] = {"google": {"thought_signature": b.signature}}
    return out
