"""Interactions API request -> IR.

What is read, after CPA (``internal/translator/gemini/interactions/interactions_gemini_common.go``):

* ``input``: a string (one user turn); a list whose items are strings, content parts,
  turns (``{"role", "content"}`` or ``{"role", "steps"}``), native Gemini contents
  (``{"role", "parts"}``) or steps (``user_input``, ``model_output``, ``thought``,
  ``function_call``, ``function_result``); or one such object.
* ``system_instruction``: a string, ``{"text"}`` or ``{"parts": [...]}``.
* ``generation_config`` (snake or camel case): sampling, ``max_output_tokens``,
  ``stop_sequences``, ``seed``, ``thinking_level`` / ``thinking_budget`` /
  ``thinking_summaries`` (``auto`` shows thoughts, ``none`` hides them), ``tool_choice``.
* ``tools``: ``{"type": "function", "name", "description", "parameters"}``,
  ``{"function_declarations": [...]}``; any other tool (``google_search``,
  ``code_execution``...) is a Gemini built-in kept whole for Gemini upstreams.
* ``tool_choice``: ``auto`` / ``none`` / ``required`` / ``any``, or ``{"type":
  "function", "function": {"name"}}`` / ``{"type": "tool", "name"}``.
* ``response_modalities``, ``response_format`` / ``response_mime_type``, ``service_tier``,
  ``previous_interaction_id`` and ``store`` are kept in ``extras``.

We differ from CPA on one point on purpose: a turn's ``role`` is honoured for its
``content`` list (CPA files every content-list turn as the user's).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.signatures import family_of_signature

__all__ = ["FAMILY", "parse_request", "signature_family"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

FAMILY = "gemini"  # thought signatures in this API are Gemini's


def signature_family(sig: str) -> str:
    """The family of a signature an Interactions upstream sent: Gemini's, unless it is an
    OpenAI encrypted reasoning blob (a GPT model behind the API), which a Responses client
    then gets back as it is (CPA)."""
    return family_of_signature(sig, FAMILY) or FAMILY


_MODEL_ROLES = frozenset({"model", "assistant"})
_AUDIO_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "opus": "audio/opus",
    "pcm16": "audio/pcm",
}
_KEPT = (
    "response_modalities",
    "response_format",
    "response_mime_type",
    "service_tier",
    "store",
    "background",
)


class _Builder:
    """Messages being built: consecutive blocks of one role share a message; calls
    without ids get one, and results without ids answer the oldest call of that name."""

    def __init__(self) -> None:
        self.messages: list[ir.Message] = []
        self._count = 0
        self._waiting: dict[str, deque[str]] = {}

    def add(self, role: str, block: ir.Block) -> None:
        if self.messages and self.messages[-1].role == role:
            self.messages[-1].content.append(block)
        else:
            self.messages.append(ir.Message(role=role, content=[block]))  # type: ignore[arg-type]

    def call(self, step: dict[str, Any], where: str) -> None:
        name = step.get("name")
        if not isinstance(name, str) or not name:
            raise RequestError(f"{where}.name: a function_call step needs a name", param="input")
        call_id = _first_str(step, "call_id", "id")
        if not call_id:
            call_id = f"{name}-{self._count}"
            self._count += 1
        args = step.get("arguments", step.get("args"))
        text = args if isinstance(args, str) else orjson.dumps(args if args is not None else {}).decode()
        sig = _first_str(step, "signature", "thought_signature", "thoughtSignature")
        self._waiting.setdefault(name, deque()).append(call_id)
        self.add(
            "assistant",
            ir.ToolCall(id=call_id, name=name, arguments=text, signature=sig, family=FAMILY if sig else None),
        )

    def result(self, step: dict[str, Any], where: str) -> None:
        name = step.get("name") if isinstance(step.get("name"), str) else ""
        call_id = _first_str(step, "call_id", "id")
        queue = self._waiting.get(name or "")
        if call_id:
            for waiting in self._waiting.values():
                if call_id in waiting:
                    waiting.remove(call_id)
        elif queue:
            call_id = queue.popleft()
        else:
            raise RequestError(
                f"{where}.call_id: a function_result step needs the call_id it answers", param="input"
            )
        value = step.get("result", step.get("response"))
        content = _result_blocks(value)
        self.add(
            "user",
            ir.ToolResult(
                call_id=call_id, content=content, name=name or None, is_error=step.get("is_error") is True
            ),
        )


def _first_str(obj: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _result_blocks(value: Any) -> list[ir.Block]:
    if isinstance(value, str):
        return [ir.Text(value)]
    if isinstance(value, list) and all(isinstance(v, dict) and v.get("type") == "text" for v in value):
        return [ir.Text(str(v.get("text", ""))) for v in value]
    return [ir.Text(orjson.dumps(value if value is not None else {}).decode())]


def _data_url(url: str) -> ir.Image | None:
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(";base64,")
    return ir.Image(data=data, media_type=head) if sep else None


def _media(mime: str, data: str | None, uri: str | None) -> ir.Block:
    if mime.startswith("image/"):
        return ir.Image(data=data, media_type=mime, url=uri)
    return ir.File(data=data, media_type=mime, url=uri)


def content_block(part: Any, where: str, thought: bool = False) -> ir.Block | None:
    """One content part (Interactions, Gemini or OpenAI-like shape) -> IR; ``None`` for
    a part with nothing CPA sends on (a media part without data or uri)."""
    if isinstance(part, str):
        return ir.Thinking(text=part, family=FAMILY) if thought else ir.Text(part)
    if not isinstance(part, dict):
        raise RequestError(f"{where}: expected a content object", param="input")
    kind = str(part.get("type") or "").lower()
    text = part.get("text")
    if isinstance(text, str) and kind in ("", "text"):
        return ir.Thinking(text=text, family=FAMILY) if thought else ir.Text(text)
    inline = part.get("inline_data", part.get("inlineData"))
    if isinstance(inline, dict):
        mime, data = _first_str(inline, "mime_type", "mimeType"), _first_str(inline, "data")
        return _media(mime, data, None) if mime and data else None
    file_data = part.get("file_data", part.get("fileData"))
    if isinstance(file_data, dict):
        mime, uri = (
            _first_str(file_data, "mime_type", "mimeType"),
            _first_str(file_data, "file_uri", "fileUri"),
        )
        return _media(mime, None, uri) if mime and uri else None
    if kind in ("image", "audio", "video", "document"):
        mime = _first_str(part, "mime_type", "mimeType") or ""
        data = _first_str(part, "data")
        uri = _first_str(part, "uri", "file_uri", "fileUri")
        if data or uri:
            if not mime:
                raise RequestError(f"{where}.mime_type: required for {kind} data", param="input")
            return _media(mime, data, uri)
        url = part.get("url")
        return _data_url(url) if isinstance(url, str) else None
    if kind == "image_url":
        iu = part.get("image_url")
        url = iu.get("url") if isinstance(iu, dict) else iu
        return _data_url(url) if isinstance(url, str) else None
    if kind == "input_audio" and isinstance(ia := part.get("input_audio"), dict):
        mime = _AUDIO_MIME.get(str(ia.get("format") or "").lower(), "audio/mpeg")
        return ir.File(data=str(ia.get("data") or ""), media_type=mime)
    raise RequestError(f"{where}: unsupported content type {kind or '(none)'!r}", param="input")


def _add_content(b: _Builder, role: str, content: Any, where: str, thought: bool = False) -> None:
    if content is None:
        return
    items = content if isinstance(content, list) else [content]
    for i, part in enumerate(items):
        block = content_block(part, f"{where}[{i}]" if isinstance(content, list) else where, thought)
        if block is not None:
            b.add(role, block)


def _add_thought(b: _Builder, step: dict[str, Any], where: str) -> None:
    """A thought step: its text parts make one thinking block (with the step's Gemini
    signature); media parts in it (CPA keeps them) follow as the model's own parts."""
    texts: list[str] = []
    media: list[ir.Block] = []
    for key in ("summary", "content"):
        value = step.get(key)
        for i, part in enumerate(value if isinstance(value, list) else [value] if value is not None else []):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict) and isinstance(part.get("thinking"), str):  # Claude's spelling
                texts.append(part["thinking"])
            elif (block := content_block(part, f"{where}.{key}[{i}]")) is not None:
                media.append(block)
    sig = _first_str(step, "signature", "thought_signature", "thoughtSignature")
    if texts or sig:
        b.add("assistant", ir.Thinking(text="".join(texts), signature=sig, family=FAMILY))
    for block in media:
        b.add("assistant", block)


def _native_part(b: _Builder, role: str, part: Any, where: str) -> None:
    if not isinstance(part, dict):
        raise RequestError(f"{where}: expected a part object", param="input")
    if isinstance(fc := part.get("functionCall"), dict):
        step = {"name": fc.get("name"), "id": fc.get("id"), "arguments": fc.get("args", {})}
        if isinstance(sig := part.get("thoughtSignature"), str):
            step["signature"] = sig
        b.call(step, where)
    elif isinstance(fr := part.get("functionResponse"), dict):
        b.result({"name": fr.get("name"), "id": fr.get("id"), "result": fr.get("response", {})}, where)
    else:
        block = content_block(part, where, thought=part.get("thought") is True)
        if block is not None:
            b.add(role, block)


def _add_item(b: _Builder, item: Any, default_role: str, where: str) -> None:
    if isinstance(item, str):
        b.add(default_role, ir.Text(item))
        return
    if not isinstance(item, dict):
        raise RequestError(f"{where}: expected a string or an object", param="input")
    role_raw = item.get("role")
    role = "assistant" if role_raw in _MODEL_ROLES else "user" if role_raw == "user" else default_role
    if isinstance(steps := item.get("steps"), list):
        for i, step in enumerate(steps):
            _add_item(b, step, role, f"{where}.steps[{i}]")
        return
    kind = item.get("type") or ""
    if kind == "model_output":
        _add_content(b, "assistant", item.get("content"), f"{where}.content")
    elif kind == "thought":
        _add_thought(b, item, where)
    elif kind == "function_call":
        b.call(item, where)
    elif kind == "function_result":
        b.result(item, where)
    elif isinstance(parts := item.get("parts"), list):
        for i, part in enumerate(parts):
            _native_part(b, role, part, f"{where}.parts[{i}]")
    elif "content" in item:
        _add_content(b, role, item.get("content"), f"{where}.content")
    elif kind in ("", "user_input", "text") or "text" in item:
        block = content_block(item, where)
        if block is not None:
            b.add(role, block)
    else:
        _add_content(b, role, item, where)


def _system(value: Any) -> ir.Message | None:
    if isinstance(value, str):
        return ir.Message(role="system", content=[ir.Text(value)])
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("text"), str) and "parts" not in value:
        return ir.Message(role="system", content=[ir.Text(value["text"])])
    parts = value.get("parts")
    texts = (
        [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if isinstance(parts, list)
        else []
    )
    return ir.Message(role="system", content=[ir.Text(t) for t in texts]) if texts else None


def _tools(tools: list[Any]) -> list[ir.Tool]:
    out: list[ir.Tool] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise RequestError(f"tools[{i}]: expected an object", param="tools")
        decls = tool.get("function_declarations", tool.get("functionDeclarations"))
        if isinstance(decls, list):
            out.extend(_function(d, f"tools[{i}]") for d in decls)
        elif tool.get("type") in ("function", None) and "name" in tool:
            out.append(_function(tool, f"tools[{i}]"))
        else:
            kind = str(tool.get("type") or next(iter(tool), "tool"))
            raw = {k: v for k, v in tool.items() if k != "type"}
            out.append(
                ir.Tool(name=kind, kind="builtin", extras={"raw": {_camel(kind): raw}, "family": FAMILY})
            )
    return out


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _function(decl: Any, where: str) -> ir.Tool:
    if not isinstance(decl, dict) or not isinstance(decl.get("name"), str) or not decl["name"]:
        raise RequestError(f"{where}.name: a function tool needs a name", param="tools")
    params = decl.get("parameters", decl.get("parameters_json_schema"))
    desc = decl.get("description")
    return ir.Tool(
        name=decl["name"],
        description=desc if isinstance(desc, str) else None,
        parameters=params if isinstance(params, dict) else None,
    )


def _tool_choice(value: Any) -> str | dict[str, Any] | None:
    if isinstance(value, str):
        mode = value.strip().lower()
        return {"none": "none", "auto": "auto", "required": "required", "any": "required"}.get(mode)
    if isinstance(value, dict):
        kind = str(value.get("type") or "").lower()
        if kind in ("none", "auto"):
            return kind
        if kind in ("required", "any"):
            return "required"
        fn = value.get("function")
        name = fn.get("name") if kind == "function" and isinstance(fn, dict) else value.get("name")
        if kind in ("function", "tool"):
            return {"name": name} if isinstance(name, str) and name else "required"
    return None


def _get(cfg: dict[str, Any], snake: str) -> Any:
    return cfg[snake] if snake in cfg else cfg.get(_camel(snake))


def _generation(cfg: dict[str, Any], req: ir.Request) -> None:
    for key, attr in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("presence_penalty", "presence_penalty"),
        ("frequency_penalty", "frequency_penalty"),
    ):
        value = _get(cfg, key)
        if isinstance(value, _NUMBERS) and not isinstance(value, bool):
            setattr(req, attr, float(value))
    for key, attr in (("top_k", "top_k"), ("max_output_tokens", "max_tokens"), ("seed", "seed")):
        value = _get(cfg, key)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(req, attr, value)
    stops = _get(cfg, "stop_sequences")
    if isinstance(stops, list) and all(isinstance(s, str) for s in stops):
        req.stop = stops
    schema = _get(cfg, "response_json_schema") or _get(cfg, "response_schema")
    if isinstance(schema, dict):
        req.response_format = {"type": "json_schema", "schema": schema, "name": "response"}
    reasoning: dict[str, Any] = {}
    nested = _get(cfg, "thinking_config")
    if isinstance(nested, dict):  # Gemini's own spelling, in snake or camel case
        cfg = {**cfg, **{k: v for k, v in nested.items() if _get(cfg, k) is None}}
    level = _get(cfg, "thinking_level")
    if isinstance(level, str) and level:
        reasoning["effort"] = level.lower()
    budget = _get(cfg, "thinking_budget")
    if isinstance(budget, int) and not isinstance(budget, bool):
        reasoning["budget"] = budget
    summaries = _get(cfg, "thinking_summaries")
    if isinstance(summaries, str) and summaries.lower() in ("auto", "none"):  # wins over the alias (CPA)
        reasoning["include_thoughts"] = summaries.lower() == "auto"
    elif isinstance(include := _get(cfg, "include_thoughts"), bool):
        reasoning["include_thoughts"] = include
    if reasoning:
        req.reasoning = reasoning
    if (choice := _tool_choice(_get(cfg, "tool_choice"))) is not None:
        req.tool_choice = choice


def _response_format(body: dict[str, Any], req: ir.Request) -> None:
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt:
        schema = fmt.get("schema", fmt.get("json_schema", fmt))
        req.response_format = {
            "type": "json_schema",
            "schema": schema if isinstance(schema, dict) else fmt,
            "name": "response",
        }
    elif body.get("response_mime_type") == "application/json":
        req.response_format = {"type": "json_object"}


def _compat_summary(reasoning: dict[str, Any], cfg: Any, req: ir.Request) -> None:
    """A top-level ``reasoning.summary`` (``auto`` / ``none``), read as CPA reads it: after
    ``generation_config.thinking_summaries``, before its ``include_thoughts`` alias."""
    summary = reasoning.get("summary")
    if not isinstance(summary, str) or summary.lower() not in ("auto", "none"):
        return
    stated = _get(cfg, "thinking_summaries") if isinstance(cfg, dict) else None
    if isinstance(stated, str) and stated.lower() in ("auto", "none"):
        return
    r = req.reasoning if req.reasoning is not None else {}
    r["include_thoughts"] = summary.lower() == "auto"
    req.reasoning = r


def parse_request(body: dict[str, Any]) -> ir.Request:
    """An Interactions request body -> IR (``RequestError`` on bad input)."""
    model = body.get("model") or body.get("agent") or ""
    req = ir.Request(model=str(model).removeprefix("models/"), source="interactions")
    req.stream = body.get("stream") is True
    if (system := _system(body.get("system_instruction", body.get("systemInstruction")))) is not None:
        req.messages.append(system)
    b = _Builder()
    inp = body.get("input")
    if isinstance(inp, list):
        for i, item in enumerate(inp):
            _add_item(b, item, "user", f"input[{i}]")
    elif inp is not None:
        _add_item(b, inp, "user", "input")
    req.messages.extend(b.messages)
    cfg = body.get("generation_config", body.get("generationConfig"))
    if isinstance(cfg, dict):
        _generation(cfg, req)
    if isinstance(compat := body.get("reasoning"), dict):  # the OpenAI-style object clients send
        _compat_summary(compat, cfg, req)
    if isinstance(tools := body.get("tools"), list) and tools:
        req.tools = _tools(tools)
    if "tool_choice" in body and (choice := _tool_choice(body["tool_choice"])) is not None:
        req.tool_choice = choice
    _response_format(body, req)
    if isinstance(prev := body.get("previous_interaction_id"), str) and prev:
        req.extras["_previous_interaction_id"] = prev
    for key in _KEPT:
        if key in body:
            req.extras[key] = body[key]
    return req
