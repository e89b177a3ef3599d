"""Gemini ``Part`` <-> IR block, both ways.

Reading: every key of a part that has no IR field stays in the block's ``extras``
under its wire name (``thoughtSignature`` on a plain text part, ``videoMetadata``...);
keys left inside ``inlineData``/``fileData``/``functionCall``/``functionResponse`` go
to ``extras["_inner"]``. Private markers: ``_synth_id`` (a call id we made up, never
sent back), ``_no_args`` / ``_no_text`` (key absent on the wire), ``_has_id`` (a
functionResponse that carried an id).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.gemini.wire import as_dict, take
from cliproxy.translate.signatures import gemini_replay_or_bypass

__all__ = [
    "answer_signature",
    "public_extras",
    "read_media",
    "read_text",
    "response_blocks",
    "server_tool",
]

FAMILY = "gemini"


def answer_signature(signature: str | None, family: str | None) -> str | None:
    """The ``thoughtSignature`` a Gemini client gets on a thought of an answer: Gemini's
    own as it came; a Claude upstream's in Gemini's replay form when it carries one
    (``gemini#...``), else the validator-skip sentinel, so the client can send the turn
    on to a Gemini model (CPA's claude->gemini response translator); none for other
    families (Codex's encrypted reasoning has no Gemini form, CPA sends none either)."""
    if not signature:
        return None
    if family == FAMILY:
        return signature
    return gemini_replay_or_bypass(signature) if family == "claude" else None


def read_text(part: dict[str, Any], where: str) -> ir.Text | ir.Thinking:
    if len(part) == 1 and isinstance(part["text"], str):  # the common case, no copy
        return ir.Text(part["text"])
    rest = dict(part)
    text = take(rest, "text")
    if not isinstance(text, str):
        raise RequestError(f"{where}.text: expected a string", param=where)
    thought = take(rest, "thought")
    if thought is True:
        sig = take(rest, "thoughtSignature")
        return ir.Thinking(text=text, signature=sig, family=FAMILY, extras=rest or None)
    if thought is not None:
        rest["thought"] = thought
    return ir.Text(text=text, extras=rest or None)


def read_thought_only(part: dict[str, Any]) -> ir.Thinking:
    """A ``thought: true`` part with no ``text`` key (a bare signature carrier)."""
    rest = dict(part)
    take(rest, "thought")
    sig = take(rest, "thoughtSignature")
    rest["_no_text"] = True
    return ir.Thinking(text="", signature=sig, family=FAMILY, extras=rest)


def read_media(part: dict[str, Any], key: str, where: str) -> ir.Image | ir.File:
    """``inlineData`` {mimeType, data} or ``fileData`` {mimeType, fileUri}."""
    rest = dict(part)
    inner = dict(as_dict(take(rest, key), f"{where}.{key}"))
    mime = take(inner, "mimeType")
    if key == "inlineData":
        data, url = take(inner, "data"), None
        if not isinstance(data, str):
            raise RequestError(f"{where}.inlineData.data: expected a base64 string", param=where)
    else:
        data, url = None, take(inner, "fileUri")
        if not isinstance(url, str):
            raise RequestError(f"{where}.fileData.fileUri: expected a string", param=where)
    if inner:
        rest["_inner"] = inner
    extras = rest or None
    if isinstance(mime, str) and mime.startswith("image/"):
        return ir.Image(data=data, media_type=mime, url=url, extras=extras)
    return ir.File(data=data, media_type=mime, url=url, extras=extras)


def read_call(part: dict[str, Any], where: str, synth_id: str) -> ir.ToolCall:
    rest = dict(part)
    fc = dict(as_dict(take(rest, "functionCall"), f"{where}.functionCall"))
    name = take(fc, "name")
    if not isinstance(name, str):
        raise RequestError(f"{where}.functionCall.name: expected a string", param=where)
    call_id = take(fc, "id")
    args = take(fc, "args")
    sig = take(rest, "thoughtSignature")
    if args is None:
        rest["_no_args"] = True
        arguments = "{}"
    elif isinstance(args, dict):
        arguments = orjson.dumps(args).decode()
    else:
        raise RequestError(f"{where}.functionCall.args: expected an object", param=where)
    if fc:
        rest["_inner"] = fc
    if not isinstance(call_id, str) or not call_id:
        if call_id is not None:
            rest["_inner_id"] = call_id
        alias = gateway_id(fc)
        if alias:  # the id rides under the gateway's own key, kept in _inner
            call_id = alias
            rest["_alias_id"] = True
        else:
            call_id = synth_id
            rest["_synth_id"] = True
    return ir.ToolCall(
        id=call_id,
        name=name,
        arguments=arguments,
        signature=sig,
        family=FAMILY if sig else None,
        extras=rest or None,
    )


def gateway_id(inner: dict[str, Any]) -> str | None:
    """The call id some gateways put on a Gemini ``functionCall`` / ``functionResponse``
    under ``call_id`` or ``callId`` instead of ``id`` (CPA's explicitGeminiToolID)."""
    for key in ("call_id", "callId"):
        value = inner.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def response_blocks(response: Any) -> tuple[list[ir.Block], bool]:
    """IR content of a ``functionResponse.response`` object, and whether it is an error.

    ``{"result": "text"}`` / ``{"error": "text"}`` unwrap to the text (unless the text
    itself looks like a JSON object, which would not come back the same); anything else
    becomes its JSON text, which the builder sends back as the same object.
    """
    if isinstance(response, dict) and len(response) == 1:
        key, value = next(iter(response.items()))
        if key in ("result", "error") and isinstance(value, str) and not value.lstrip().startswith("{"):
            return [ir.Text(value)], key == "error"
    return [ir.Text(orjson.dumps(response).decode())], False


def server_tool(part: dict[str, Any]) -> ir.ServerTool:
    return ir.ServerTool(family=FAMILY, raw=part)


def public_extras(extras: dict[str, Any] | None) -> dict[str, Any]:
    """The wire keys of ``extras`` (private ``_`` markers left out)."""
    if not extras:
        return {}
    return {k: v for k, v in extras.items() if not k.startswith("_")}
