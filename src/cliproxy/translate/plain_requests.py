"""Requests of the common shape, written straight into another format's body.

The request-side twin of :mod:`cliproxy.translate.plain_answers`. A request of plain text
messages with a system prompt and the usual sampling fields is most of what a translating
proxy is sent; parsed into an ``ir.Request`` and built out again, it costs two walks and
an object per message and block. Each writer here makes the upstream body from the
client's body in one walk, and returns ``None`` for anything that is not exactly that
shape (a part that is no text, a key it does not list, a value of another type, an empty
text, a model whose build differs...): the hub (``parse_request`` then ``build_request``)
writes that one, and raises the client's 400 where the body is wrong.

Their output is byte for byte the hub's (``tests/translate/test_plain_requests.py``
builds every shape they take both ways and compares the bodies). The attempt a writer
made a body for has no IR yet (``calls.Attempt.plain``): whatever needs it (a translated
answer, a stream) has the hub parse it then, under the same upstream name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cliproxy.formats import Format
from cliproxy.formats.claude import DEFAULT_MAX_TOKENS
from cliproxy.formats.gemini import DEFAULT_SAFETY_SETTINGS

__all__ = [
    "PLAIN_REQUESTS",
    "RESPONSES_KEYS",
    "PlainRequest",
    "chat_to_claude",
    "chat_to_gemini",
    "claude_to_chat",
    "responses_to_claude",
]

# (client body, upstream model name, whether the client streams) -> the upstream body,
# or None: not the plain shape
PlainRequest = Callable[[dict[str, Any], str, bool], "dict[str, Any] | None"]

_BILLING_HEADER = "x-anthropic-billing-header:"  # (gemini.build drops such a system text)
_CHAT_ROLES = {"system": "user", "developer": "user", "user": "user", "assistant": "model"}
_SYSTEM = frozenset(("system", "developer"))
# Chat fields -> Gemini generationConfig, in the order build_generation_config writes them
_CHAT_SAMPLING = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("max_tokens", "maxOutputTokens"),
    ("max_completion_tokens", "maxOutputTokens"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)
_CHAT_INTS = frozenset(("max_tokens", "max_completion_tokens", "seed"))
_CHAT_KEYS = frozenset(
    ("model", "messages", "stream", "stream_options", "stop", *(k for k, _ in _CHAT_SAMPLING))
)


def _chat_texts(content: Any) -> list[str] | None:
    """The texts of a Chat message's content (a string, or parts of ``type`` and ``text``
    alone), none empty; ``None`` for anything else."""
    if type(content) is str:
        return [content] if content else None
    if type(content) is not list or not content:
        return None
    texts: list[str] = []
    for part in content:
        if type(part) is not dict or len(part) != 2 or part.get("type") != "text":
            return None
        text = part.get("text")
        if type(text) is not str or not text:
            return None
        texts.append(text)
    return texts


def chat_to_gemini(body: dict[str, Any], model: str, stream: bool = False) -> dict[str, Any] | None:
    """A Chat Completions request of text messages (system, developer, user, assistant)
    and the sampling fields as a Gemini ``generateContent`` body (what
    ``openai_chat.parse_request`` then ``gemini.build_request`` write)."""
    if not body.keys() <= _CHAT_KEYS or "claude" in model.lower():  # (a Claude model's hint: the hub)
        return None
    name, messages = body.get("model"), body.get("messages")
    if type(name) is not str or not name or type(messages) is not list or not messages:
        return None
    if "stream" in body and type(body["stream"]) is not bool:
        return None
    if "stream_options" in body and type(body["stream_options"]) is not dict:
        return None
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    lead = True  # still in the leading system messages (systemInstruction)
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return None
        given, content = m.get("role"), m.get("content")
        role = _CHAT_ROLES.get(given) if type(given) is str else None  # (an unhashable role: the hub's 400)
        if role is None:
            return None
        if type(content) is str and content:  # (the common message: one text, no parts to walk)
            if given not in _SYSTEM:
                parts = [{"text": content}]
            elif lead:
                if not content.lstrip().startswith(_BILLING_HEADER):
                    system.append({"text": content})
                continue
            else:
                parts = [{"text": f"<system-reminder>\n{content}\n</system-reminder>"}]
        else:
            texts = _chat_texts(content)
            if texts is None:
                return None
            if given not in _SYSTEM:
                parts = [{"text": t} for t in texts]
            elif lead:
                system.extend({"text": t} for t in texts if not t.lstrip().startswith(_BILLING_HEADER))
                continue
            else:
                parts = [{"text": f"<system-reminder>\n{t}\n</system-reminder>"} for t in texts]
        lead = False
        if contents and contents[-1]["role"] == role:  # one role twice: merged, as the hub does
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if contents and contents[-1]["role"] == "model":  # an OpenAI client's prefill: dropped (CPA)
        contents.pop()
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    # generationConfig: the sampling fields, in the order build_generation_config writes them
    gen: dict[str, Any] = {}
    asked = body.keys() & _SAMPLING_WIRE.keys()
    if asked:
        for key in sorted(asked, key=_SAMPLING_RANK) if len(asked) > 1 else asked:
            value = body[key]
            kind = type(value)
            if kind is not int and (key in _CHAT_INTS or kind is not float):
                return None  # (of the wrong type: the hub's 400)
            wire = _SAMPLING_WIRE[key]
            if wire in gen:  # max_tokens and max_completion_tokens both: the hub's
                return None
            gen[wire] = value
    if "stop" in body:
        stop = body["stop"]
        if type(stop) is str:
            gen["stopSequences"] = [stop]
        elif type(stop) is list and all(type(s) is str for s in stop):
            if stop:
                gen["stopSequences"] = list(stop)
        else:
            return None
    if gen:
        out["generationConfig"] = gen
    out["safetySettings"] = list(map(_copy, DEFAULT_SAFETY_SETTINGS))  # (each the request's own)
    return out


_SAMPLING_WIRE = dict(_CHAT_SAMPLING)
_SAMPLING_RANK = {key: n for n, (key, _) in enumerate(_CHAT_SAMPLING)}.__getitem__
_copy = dict.copy


# the Responses fields responses_to_claude takes (none of them kept in the IR's extras)
RESPONSES_KEYS = frozenset(
    ("model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream")
)
_RESPONSES_ROLES = frozenset(("user", "system", "developer"))


def _responses_texts(item: Any) -> tuple[str, list[str]] | None:
    """The role and texts of a Responses input message of a user, system or developer
    (``type`` ``message`` or none; content a string or ``input_text`` parts), none empty;
    ``None`` for any other item."""
    if type(item) is not dict or not item.keys() <= _ITEM_KEYS or item.get("type", "message") != "message":
        return None
    role, content = item.get("role"), item.get("content")
    if type(role) is not str or role not in _RESPONSES_ROLES:
        return None
    if type(content) is str:
        return (role, [content]) if content else None
    if type(content) is not list or not content:
        return None
    texts: list[str] = []
    for part in content:
        if type(part) is not dict or len(part) != 2 or part.get("type") != "input_text":
            return None
        text = part.get("text")
        if type(text) is not str or not text:
            return None
        texts.append(text)
    return role, texts


_ITEM_KEYS = frozenset(("type", "role", "content"))


def responses_to_claude(body: dict[str, Any], model: str, stream: bool = False) -> dict[str, Any] | None:
    """A Responses request of ``instructions`` and user, system or developer text input
    (a string, or messages) with the sampling fields as a Claude Messages body (what
    ``openai_responses.parse_request`` then ``claude.build_request`` write). An assistant
    turn goes the hub's way: the thinking replay restores into those."""
    if not body.keys() <= RESPONSES_KEYS or type(body.get("model")) is not str:
        return None
    system: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if type(instructions) is not str:
            return None
        if instructions:
            system.append({"type": "text", "text": instructions})
    messages: list[dict[str, Any]] = []
    inp = body.get("input")
    if type(inp) is str:
        if not inp:
            return None
        messages.append({"role": "user", "content": [{"type": "text", "text": inp}]})
    elif type(inp) is list and inp:
        for item in inp:
            found = _responses_texts(item)
            if found is None:
                return None
            role, texts = found
            blocks = [{"type": "text", "text": t} for t in texts]
            if role != "user":  # (system and developer input: the system prompt, in order)
                system.extend(blocks)
            elif messages:  # one role twice: merged, as the hub does
                messages[-1]["content"] = messages[-1]["content"] + blocks
            else:
                messages.append({"role": "user", "content": blocks})
    else:
        return None
    out: dict[str, Any] = {"model": model}
    if system:
        out["system"] = system
    out["messages"] = messages or [{"role": "user", "content": [{"type": "text", "text": ""}]}]
    max_tokens = body.get("max_output_tokens")
    if max_tokens is None:
        out["max_tokens"] = DEFAULT_MAX_TOKENS
    elif type(max_tokens) is int:
        out["max_tokens"] = max_tokens
    else:
        return None
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if temperature is not None and type(temperature) is not int and type(temperature) is not float:
        return None
    if top_p is not None and type(top_p) is not int and type(top_p) is not float:
        return None
    if temperature is not None and top_p is None:  # (CPA keeps top_p alone; Claude's scale ends at 1)
        out["temperature"] = temperature if temperature <= 1 else 1
    if top_p is not None:
        out["top_p"] = top_p
    if stream:
        out["stream"] = True
    return out


# the Claude fields claude_to_chat takes (top_k: read into the IR, written by no Chat body)
_CLAUDE_KEYS = frozenset(
    (
        "model",
        "messages",
        "system",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "metadata",
    )
)
_CLAUDE_ROLES = frozenset(("user", "assistant"))
_USER_ID = frozenset(("user_id",))


def _claude_content(content: Any, assistant: bool) -> Any:
    """A Chat message's ``content`` for a Claude message's (a string, or text blocks of
    ``type`` and ``text`` alone: one is its string, several stay parts), none empty; ``None``
    for anything else. An assistant's text block that may be a Gemini image the proxy
    answered with (``![``: ``claude.request._images_back``) is the hub's."""
    if type(content) is str:
        return content or None
    if type(content) is not list or not content:
        return None
    for block in content:
        if type(block) is not dict or len(block) != 2 or block.get("type") != "text":
            return None
        text = block.get("text")
        if type(text) is not str or not text or (assistant and text.startswith("![")):
            return None
    if len(content) == 1:
        return content[0]["text"]
    return [{"type": "text", "text": b["text"]} for b in content]


def _claude_system(system: Any) -> Any:
    """The Chat system content of a Claude ``system`` (a string, or text blocks of ``type``
    and ``text`` alone), empty texts and Claude Code's billing block left out: ``""`` for
    none left, ``None``: not the plain shape."""
    if type(system) is str:
        return "" if system.lstrip().startswith(_BILLING_HEADER) else system
    if type(system) is not list:
        return None
    texts: list[str] = []
    for block in system:
        if type(block) is not dict or len(block) != 2 or block.get("type") != "text":
            return None
        text = block.get("text")
        if type(text) is not str:
            return None
        if text and not text.lstrip().startswith(_BILLING_HEADER):
            texts.append(text)
    if len(texts) > 1:  # several system blocks stay apart (CPA)
        return [{"type": "text", "text": t} for t in texts]
    return texts[0] if texts else ""


def claude_to_chat(body: dict[str, Any], model: str, stream: bool = False) -> dict[str, Any] | None:
    """A Claude Messages request of ``system`` and user and assistant text turns with the
    sampling fields (and ``metadata.user_id``) as a Chat Completions body (what
    ``claude.parse_request`` then ``openai_chat.build_request`` write)."""
    if not body.keys() <= _CLAUDE_KEYS or type(body.get("model")) is not str:
        return None
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        return None
    out_messages: list[dict[str, Any]] = []
    if "system" in body:
        system = _claude_system(body["system"])
        if system is None:
            return None
        if system:
            out_messages.append({"role": "system", "content": system})
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return None
        role = m.get("role")
        # (a system turn inside messages: the hub's reminder)
        if type(role) is not str or role not in _CLAUDE_ROLES:
            return None
        content = _claude_content(m.get("content"), role == "assistant")
        if content is None:
            return None
        out_messages.append({"role": role, "content": content})
    out: dict[str, Any] = {"model": model, "messages": out_messages}
    if "max_tokens" in body:
        if type(body["max_tokens"]) is not int:
            return None
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if key in body:
            value = body[key]
            if type(value) is not float and type(value) is not int:
                return None
            out[key] = value
    if "top_k" in body and type(body["top_k"]) is not int:
        return None
    if "stop_sequences" in body:
        stop = body["stop_sequences"]
        if type(stop) is not list or not all(type(s) is str for s in stop):
            return None
        if stop:  # (OpenAI refuses an empty stop list) the client's list, as the hub's IR holds it
            out["stop"] = stop
    if "stream" in body and type(body["stream"]) is not bool:
        return None
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    if "metadata" in body:
        metadata = body["metadata"]
        if type(metadata) is not dict or not metadata.keys() <= _USER_ID:
            return None
        if "user_id" in metadata:
            user = metadata["user_id"]
            if type(user) is not str:
                return None
            out["user"] = user
    return out


# the Chat fields chat_to_claude takes (seed and the penalties: read into the IR, written by
# no Claude body; stream_options: kept in the IR's extras, which a Claude body leaves out)
_CHAT_CLAUDE_KEYS = _CHAT_KEYS | {"user"}
# of those, the ones its field loop only checks (model and messages are read before it)
_CHAT_PASSED = frozenset(("model", "messages", "stream", "stream_options"))
_MAX_KEYS = frozenset(("max_tokens", "max_completion_tokens"))


def chat_to_claude(body: dict[str, Any], model: str, stream: bool = False) -> dict[str, Any] | None:
    """A Chat Completions request of text messages (system, developer, user, assistant)
    and the sampling fields (and ``user``) as a Claude Messages body (what
    ``openai_chat.parse_request`` then ``claude.build_request`` write: every system and
    developer text in the top-level ``system``, in order; one role twice merged)."""
    if not body.keys() <= _CHAT_CLAUDE_KEYS:
        return None
    name, messages = body.get("model"), body.get("messages")
    if type(name) is not str or not name or type(messages) is not list or not messages:
        return None
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return None
        role, content = m.get("role"), m.get("content")
        if type(role) is not str or role not in _CHAT_ROLES:
            return None
        if type(content) is str and content:  # (the common message)
            blocks = [{"type": "text", "text": content}]
        elif (texts := _chat_texts(content)) is not None:
            blocks = [{"type": "text", "text": t} for t in texts]
        else:
            return None
        if role in _SYSTEM:
            system.extend(blocks)
        elif turns and turns[-1]["role"] == role:  # one role twice: merged, as the hub does
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    out: dict[str, Any] = {"model": model}
    if system:
        out["system"] = system
        if not turns:  # (a system-only conversation keeps one empty user turn, as CPA sends it)
            turns.append({"role": "user", "content": [{"type": "text", "text": ""}]})
    out["messages"] = turns
    max_tokens = temperature = top_p = stop = None
    user = ""
    for key, value in body.items():  # (checked as the hub's parse checks them: else its 400)
        kind = type(value)
        if key in _CHAT_PASSED:
            if (key == "stream" and kind is not bool) or (key == "stream_options" and kind is not dict):
                return None
        elif key in _MAX_KEYS:
            if kind is not int or max_tokens is not None:  # (both: the hub's)
                return None
            max_tokens = value
        elif key == "stop":
            if kind is str:
                stop = [value]
            elif kind is list and all(type(s) is str for s in value):
                stop = list(value) if value else None  # (another format's empty list: none)
            else:
                return None
        elif key == "user":
            if kind is not str:
                return None
            user = value
        elif kind is not int and (key == "seed" or kind is not float):  # sampling numbers
            return None
        elif key == "temperature":
            temperature = value
        elif key == "top_p":
            top_p = value
    out["max_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if temperature is not None and top_p is None:  # (CPA keeps top_p alone; Claude's scale ends at 1)
        out["temperature"] = temperature if temperature <= 1 else 1
    if top_p is not None:
        out["top_p"] = top_p
    if stop is not None:
        out["stop_sequences"] = stop
    if stream:
        out["stream"] = True
    if user:
        out["metadata"] = {"user_id": user}
    return out


# (client format, upstream format) -> its plain-request writer
PLAIN_REQUESTS: dict[tuple[Format, Format], PlainRequest] = {
    (Format.OPENAI, Format.GEMINI): chat_to_gemini,
    (Format.OPENAI, Format.CLAUDE): chat_to_claude,
    (Format.RESPONSES, Format.CLAUDE): responses_to_claude,
    (Format.CLAUDE, Format.OPENAI): claude_to_chat,
}
