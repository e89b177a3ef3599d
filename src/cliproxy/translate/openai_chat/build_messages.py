"""IR messages -> Chat Completions ``messages``.

``same`` is true when the IR came from Chat Completions: private markers and extras
are then written back for an exact round trip. For other sources:

* leading system and developer messages become ``system`` messages (several text
  blocks as several parts); Claude Code's billing block is left out, an empty prompt is
  no message, and a Claude mid-conversation system turn becomes a
  ``<system-reminder>`` user turn (CPA);
* a user turn that comes while tool results are owed waits until they are in, so the
  tool messages follow the assistant's tool_calls as OpenAI requires;
* texts around a tool call stay separate parts; custom calls go as the JSON tool they
  are declared as (``{"input": text}``); long call ids and tool names are shortened
  (``names``);
* thinking of other families (signed Claude, Gemini) is dropped; OpenAI or unsigned
  thinking becomes ``reasoning_content`` on the assistant message; from a Responses
  client, as CPA merges it: each reasoning item's summary run (``[reasoning unavailable]``
  for one with none) and an assistant item's own ``reasoning_content``, repeats dropped
  and distinct texts joined by a blank line;
* a tool output that is the JSON text of an image array becomes real images (CPA);
* each tool result becomes one ``role: "tool"`` message (text only). Images and files
  inside tool results cannot ride in a tool message, so they follow the run of tool
  messages in one ``user`` message;
* namespaced tool names are flattened with ``translate.naming.flat_name``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.custom_tools import wrap_input
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.names import short_id
from cliproxy.translate.openai_chat.parts import block_parts
from cliproxy.translate.signatures import compatible_signature
from cliproxy.translate.system_turns import claude_system_turn
from cliproxy.translate.tool_output import unpack_images

__all__ = ["build_messages"]


# Claude Code's per-request billing/attribution block (left out of system prompts): it
# changes on every request, so it would bust the upstream's prompt cache, and it means
# nothing to other models
_BILLING = "x-anthropic-billing-header:"
_RESPONSES = frozenset({"openai-response", "codex"})
UNAVAILABLE = "[reasoning unavailable]"
_REMINDER = "<system-reminder>\n{}\n</system-reminder>"
_SYSTEM_ROLES = ("system", "developer")


def build_messages(
    messages: list[ir.Message], same: bool, source: str = "", short: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """``short``: tool names too long for OpenAI and the names they are sent under."""
    out: list[dict[str, Any]] = []
    media: list[ir.Block] = []  # images/files from tool results, owed as a user message
    leading = True  # system turns before the first other turn are the system prompt
    calls_made = False
    for m in messages:
        if leading and claude_system_turn(source, m):
            leading = False  # a Claude client's role: system turn is no system prompt (CPA)
        content = m.content
        if (
            not same
            and len(content) == 1
            and type(text := content[0]) is ir.Text
            and m.name is None
            and not media
            and (m.role == "user" or (leading and m.role in _SYSTEM_ROLES))
        ):  # the common turn, one text of a user or of the system prompt: as below, no walk
            if m.role == "user":
                leading = False
                out.append({"role": "user", "content": text.text})
            elif text.text and not text.text.lstrip().startswith(_BILLING):
                out.append({"role": "system", "content": text.text})
            continue
        if m.role not in _SYSTEM_ROLES:
            leading = False
        elif not same:
            texts: list[ir.Text] = []
            for b in m.content:  # a loop, not a comprehension: no call per system turn
                if isinstance(b, ir.Text) and b.text and not b.text.lstrip().startswith(_BILLING):
                    texts.append(b)
            if not texts:
                continue  # an empty system prompt is no message at all (CPA)
            if source == "claude" and not leading:
                # a Claude mid-conversation system turn: a reminder in a user turn (CPA)
                joined = "\n".join(b.text for b in texts)
                out.append({"role": "user", "content": [{"type": "text", "text": _REMINDER.format(joined)}]})
                continue
            if len(texts) != len(m.content):
                m = ir.Message(m.role, list(texts), m.name, m.extras)
        if m.role == "tool":
            for b in m.content:
                if isinstance(b, ir.ToolResult):
                    out.append(_tool_message(b, m, same, media))
            continue
        content = m.content
        results: list[ir.ToolResult] | tuple[()] = ()
        if m.role == "user" and (len(content) != 1 or type(content[0]) is not ir.Text):
            results = [b for b in content if isinstance(b, ir.ToolResult)]
            for r in results:
                out.append(_tool_message(r, m, same, media))
        if media:
            _flush_media(media, out)
        if m.role == "assistant":
            msg = _assistant(m, same, short or {}, source in _RESPONSES)
            if "tool_calls" in msg:
                calls_made = True
            if same or msg.get("content") or msg.get("tool_calls") or msg.get("reasoning_content"):
                out.append(msg)  # a turn left empty (thinking only, dropped) is no turn (CPA)
        elif results:
            rest: list[ir.Block] = [b for b in m.content if not isinstance(b, ir.ToolResult)]
            if rest:
                out.append({"role": "user", "content": _content(rest, None, False, "user")})
        elif not same and m.name is None and len(content) == 1 and type(content[0]) is ir.Text:
            # one text and no name (the common turn): what _plain makes of it
            out.append({"role": "system" if m.role == "developer" else m.role, "content": content[0].text})
        else:
            out.append(_plain(m, same))
    if media:
        _flush_media(media, out)
    # results can only be owed after an assistant turn that made calls
    return out if same or not calls_made else _results_first(out)


def _results_first(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool messages right after the assistant's tool_calls, as OpenAI requires: a
    user or system turn that comes while results are still owed waits until they are
    all in (or until the next assistant turn, if they never come), as CPA orders it."""
    out: list[dict[str, Any]] = []
    owed: set[str] = set()
    held: list[dict[str, Any]] = []
    for msg in msgs:
        role = msg["role"]
        if role == "assistant":
            out.extend(held)
            held.clear()
            owed = {c["id"] for c in msg.get("tool_calls") or ()}
            out.append(msg)
        elif role == "tool":
            owed.discard(msg.get("tool_call_id", ""))
            out.append(msg)
            if not owed:
                out.extend(held)
                held.clear()
        elif owed:
            held.append(msg)
        else:
            out.append(msg)
    out.extend(held)
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
    if len(blocks) == 1 and type(blocks[0]) is ir.Text:  # one text: the string itself
        return blocks[0].text
    texts = [b.text for b in blocks if isinstance(b, ir.Text)]
    has_media = any(isinstance(b, ir.MEDIA) for b in blocks)
    if not has_media and len(texts) <= 1:
        return texts[0] if texts else ""
    if role in ("system", "developer"):  # several system blocks stay apart, as CPA sends them
        return [{"type": "text", "text": t} for t in texts]
    return block_parts(blocks, False)


def _plain(m: ir.Message, same: bool) -> dict[str, Any]:
    role = m.role if same or m.role != "developer" else "system"
    msg: dict[str, Any] = {"role": role}
    if not (same and m.extras and m.extras.get("_content") == "absent"):
        msg["content"] = _content(m.content, m.extras, same, m.role)
    if m.name is not None:
        msg["name"] = m.name
    return _writeback(msg, m.extras) if same else msg


def _keep_thinking(b: ir.Thinking, same: bool, empty_ok: bool = False) -> bool:
    if same:
        return True
    if b.redacted or not (b.text or empty_ok):
        return False
    if b.compat or b.family == "openai" or (b.family is None and not b.signature):
        return True
    # reasoning a GPT model made, replayed by a Claude client under its signature (CPA)
    return bool(b.signature) and compatible_signature("gpt", b.signature) is not None


def _combine(held: str, new: str) -> str:
    """CPA's rule for the reasoning of one Responses assistant turn: the placeholder gives
    way to real text, a repeat is dropped, distinct texts are joined by a blank line."""
    h, n = held.strip(), new.strip()
    if not h or h == UNAVAILABLE:
        return new if n or not h else held
    if not n or n in (UNAVAILABLE, h):
        return held
    return held + "\n\n" + new


def _responses_reasoning(b: ir.Block) -> str | None:
    """The reasoning one Responses item adds to its assistant turn (CPA): a reasoning
    item's summary run, or the placeholder when it has none (thinking-mode Chat upstreams
    such as DeepSeek and Kimi want reasoning on every assistant turn); an assistant
    message item's own ``reasoning_content`` key."""
    if isinstance(b, ir.Thinking):
        if b.extras and b.extras.get("_call_carrier"):
            return None
        text = "".join(b.summary) if b.summary else b.text
        return text or UNAVAILABLE
    item = b.extras.get("_item") if isinstance(b, ir.Text) and b.extras else None
    value = item.get("reasoning_content") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _assistant(m: ir.Message, same: bool, short: dict[str, str], responses: bool = False) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant"}
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    joined = ""
    key = "reasoning_content"
    for b in m.content:
        if isinstance(b, ir.ToolCall):
            if same and b.extras and b.extras.get("_legacy"):
                msg["function_call"] = {"name": b.name, "arguments": b.arguments}
            else:
                calls.append(_tool_call(b, same, short))
        elif responses and (
            isinstance(b, ir.Text) or (isinstance(b, ir.Thinking) and _keep_thinking(b, same, True))
        ):
            piece = _responses_reasoning(b)
            if piece is not None:
                joined = _combine(joined, piece)
        elif isinstance(b, ir.Thinking) and _keep_thinking(b, same):
            # Responses summary parts are one text run (CPA concatenates them)
            reasoning.append("".join(b.summary) if b.summary and not same else b.text)
            if b.extras and b.extras.get("_key") == "reasoning":
                key = "reasoning"
    if reasoning or joined:
        msg[key] = "".join(reasoning) if reasoning else joined
    if same:
        if not (m.extras and m.extras.get("_content") == "absent"):
            blocks = [
                b for b in m.content if not (type(b) is ir.Text and b.extras and "_refusal_field" in b.extras)
            ]
            msg["content"] = _content(blocks, m.extras, True, "assistant")
    else:
        texts = [b.text for b in m.content if isinstance(b, ir.Text) and b.text]
        if len(texts) > 1:  # text around a tool call: one part each, never run together
            msg["content"] = [{"type": "text", "text": t} for t in texts]
        else:
            msg["content"] = texts[0] if texts else ("" if not calls else None)
    if calls:
        msg["tool_calls"] = calls
    if m.name is not None:
        msg["name"] = m.name
    return _writeback(msg, m.extras) if same else msg


def _tool_call(b: ir.ToolCall, same: bool, short: dict[str, str]) -> dict[str, Any]:
    name = flat_name(b.name, b.namespace)
    name = short.get(name, name)
    ex = b.extras if same else None
    if not same:
        # a custom call goes as the JSON tool it was declared as, its text in "input"
        args = wrap_input(b.arguments) if b.kind == "custom" else b.arguments or "{}"
        return {"id": short_id(b.id), "type": "function", "function": {"name": name, "arguments": args}}
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
        msg = {"role": "tool", "tool_call_id": r.call_id if same else short_id(r.call_id)}
    if same:
        if not (r.extras and r.extras.get("_content") == "absent"):
            msg["content"] = _content(r.content, r.extras, True, "tool")
        return _writeback(msg, m.extras)
    content = unpack_images(r.content)  # a JSON-text image array: real images (CPA)
    texts = [b for b in content if isinstance(b, ir.Text)]
    media.extend(b for b in content if isinstance(b, ir.MEDIA))
    if len(texts) <= 1:
        msg["content"] = texts[0].text if texts else ""
    else:
        msg["content"] = [{"type": "text", "text": t.text} for t in texts]
    return msg
