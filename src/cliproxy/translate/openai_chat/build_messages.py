"""IR messages -> Chat Completions ``messages``.

``same`` is true when the IR came from Chat Completions: private markers and extras
are then written back for an exact round trip. For other sources:

* system and developer messages become ``system`` messages, their texts joined;
* thinking of other families (signed Claude, Gemini) is dropped; OpenAI or unsigned
  thinking becomes ``reasoning_content`` on the assistant message;
* each tool result becomes one ``role: "tool"`` message (text only). Images and files
  inside tool results cannot ride in a tool message, so they follow the run of tool
  messages in one ``user`` message;
* namespaced tool names are flattened with ``translate.naming.flat_name``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.parts import block_parts

__all__ = ["build_messages"]


def build_messages(messages: list[ir.Message], same: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    media: list[ir.Block] = []  # images/files from tool results, owed as a user message
    for m in messages:
        if m.role == "tool":
            for b in m.content:
                if isinstance(b, ir.ToolResult):
                    out.append(_tool_message(b, m, same, media))
            continue
        results = [b for b in m.content if isinstance(b, ir.ToolResult)] if m.role == "user" else ()
        for r in results:
            out.append(_tool_message(r, m, same, media))
        _flush_media(media, out)
        if m.role == "assistant":
            out.append(_assistant(m, same))
        elif results:
            rest: list[ir.Block] = [b for b in m.content if not isinstance(b, ir.ToolResult)]
            if rest:
                out.append({"role": "user", "content": _content(rest, None, False, "user")})
        else:
            out.append(_plain(m, same))
    _flush_media(media, out)
    return out


def _flush_media(media: list[ir.Block], out: list[dict[str, Any]]) -> None:
    if media:
        out.append({"role": "user", "content": block_parts(media, False)})
        media.clear()


def _writeback(msg: dict[str, Any], extras: dict[str, Any] | None) -> dict[str, Any]:
    if extras:
        for k, v in extras.items():
            if not k.startswith("_"):
                msg[k] = v
    return msg


def _content(blocks: list[ir.Block], extras: dict[str, Any] | None, same: bool, role: str) -> Any:
    """The ``content`` value: marker-exact when ``same``, else a string for one text
    (texts joined for system roles) and a parts list otherwise."""
    how = extras.get("_content") if same and extras else None
    if how == "str":
        return "".join(b.text for b in blocks if isinstance(b, ir.Text))
    if how == "empty":
        return ""
    if how == "null":
        return None
    if same:
        return block_parts(blocks, True, extras)
    texts = [b.text for b in blocks if isinstance(b, ir.Text)]
    if role in ("system", "developer"):
        return "\n\n".join(texts)
    has_media = any(isinstance(b, ir.Image | ir.File) for b in blocks)
    if not has_media and len(texts) <= 1:
        return texts[0] if texts else ""
    return block_parts(blocks, False)


def _plain(m: ir.Message, same: bool) -> dict[str, Any]:
    role = m.role if same or m.role != "developer" else "system"
    msg: dict[str, Any] = {"role": role}
    if not (same and m.extras and m.extras.get("_content") == "absent"):
        msg["content"] = _content(m.content, m.extras, same, m.role)
    if m.name is not None:
        msg["name"] = m.name
    return _writeback(msg, m.extras) if same else msg


def _keep_thinking(b: ir.Thinking, same: bool) -> bool:
    if same:
        return True
    if b.redacted or not b.text:
        return False
    return b.family == "openai" or (b.family is None and not b.signature)


def _assistant(m: ir.Message, same: bool) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant"}
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    key = "reasoning_content"
    for b in m.content:
        if isinstance(b, ir.ToolCall):
            if same and b.extras and b.extras.get("_legacy"):
                msg["function_call"] = {"name": b.name, "arguments": b.arguments}
            else:
                calls.append(_tool_call(b, same))
        elif isinstance(b, ir.Thinking) and _keep_thinking(b, same):
            reasoning.append(b.text)
            if b.extras and b.extras.get("_key") == "reasoning":
                key = "reasoning"
    if reasoning:
        msg[key] = "".join(reasoning)
    if same:
        if not (m.extras and m.extras.get("_content") == "absent"):
            msg["content"] = _content(m.content, m.extras, True, "assistant")
    else:
        text = "".join(b.text for b in m.content if isinstance(b, ir.Text))
        msg["content"] = text if text or not calls else None
    if calls:
        msg["tool_calls"] = calls
    if m.name is not None:
        msg["name"] = m.name
    return _writeback(msg, m.extras) if same else msg


def _tool_call(b: ir.ToolCall, same: bool) -> dict[str, Any]:
    name = flat_name(b.name, b.namespace)
    ex = b.extras if same else None
    if b.kind == "custom":
        call: dict[str, Any] = {"id": b.id, "type": "custom", "custom": {"name": name, "input": b.arguments}}
        return _writeback(call, ex)
    fn: dict[str, Any] = {"name": name, "arguments": b.arguments}
    call = {"id": b.id, "type": "function", "function": fn}
    if ex:
        inner = ex.get("_fn")
        if inner:
            fn.update(inner)
            if fn.pop("_no_args", None):
                del fn["arguments"]
        if ex.get("_no_type"):
            del call["type"]
    return _writeback(call, ex)


def _tool_message(r: ir.ToolResult, m: ir.Message, same: bool, media: list[ir.Block]) -> dict[str, Any]:
    if same and m.extras and m.extras.get("_legacy"):
        msg: dict[str, Any] = {"role": "function", "name": r.name}
    else:
        msg = {"role": "tool", "tool_call_id": r.call_id}
    if same:
        if not (r.extras and r.extras.get("_content") == "absent"):
            msg["content"] = _content(r.content, r.extras, True, "tool")
        return _writeback(msg, m.extras)
    texts = [b for b in r.content if isinstance(b, ir.Text)]
    media.extend(b for b in r.content if isinstance(b, ir.Image | ir.File))
    if len(texts) <= 1:
        msg["content"] = texts[0].text if texts else ""
    else:
        msg["content"] = [{"type": "text", "text": t.text} for t in texts]
    return msg
