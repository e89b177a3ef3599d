"""The text CPA counts in a request, per upstream format.

Each function takes a request body in one wire format and returns the pieces of text a
local count encodes, in order; ``cliproxy.translate.tokens.count`` joins them with
newlines. Every piece is stripped and empty ones are left out. What is counted follows
CPA's counters exactly (``codex_executor_tokens.go``, ``xai_executor_tokens.go``,
``helps/token_helpers.go``, ``helps/claude_input_tokens.go``): message text, tool
calls and results, tool declarations and schemas; not model names, sampling settings,
metadata or signatures. Images are counted as CPA approximates them: a Chat
``image_url`` by its URL, a Responses ``input_image`` by its URL for xAI, not at all for
Codex and Claude. Unlike CPA, media sent inline (a ``data:`` URL, a Chat ``file`` part's
data) and a tool output's images and files count nothing: CPA counts their base64 as text,
so a 300 KB screenshot read as some 270,000 tokens (more than a context window).

Where CPA reads a JSON value's raw bytes (a tool's schema, a call's arguments object),
the value is written here as compact JSON with its keys in the client's order, which
is what the official SDKs send.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["chat_segments", "claude_segments", "codex_segments", "xai_segments"]


def _text(value: Any) -> str:
    """A JSON value as gjson's ``String()`` reads it: strings as they are, numbers and
    booleans as written, objects and arrays as JSON, null or absent as nothing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def _json(value: Any) -> str:
    """A JSON value's raw text (gjson ``Raw``): a string keeps its quotes."""
    return "" if value is None else orjson.dumps(value).decode()


def _add(out: list[str], value: Any) -> None:
    text = _text(value).strip()
    if text:
        out.append(text)


def _add_raw(out: list[str], value: Any) -> None:
    """A value that may be a JSON string (added as it is) or structure (added as JSON)."""
    if value is None:
        return
    if isinstance(value, str):
        _add(out, value)
        return
    text = _json(value).strip()
    if text:
        out.append(text)


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _ref(value: Any) -> Any:
    """A media reference as counted: a URL or id as it is; inline data (``data:``) is none."""
    return None if isinstance(value, str) and value.startswith("data:") else value


def _output(out: list[str], output: Any) -> None:
    """A tool output: a string as it is; an array (text, images, files) by its text parts."""
    if isinstance(output, list):
        for part in output:
            _add(out, _get(part, "text"))
    else:
        _add_raw(out, output)


# ---------------------------------------------------------------------- Codex (Responses)


def codex_segments(body: dict[str, Any]) -> list[str]:
    """CPA ``countCodexInputTokens``: instructions, input items, function tools and the
    structured-output format. A string ``input`` or message ``content`` counts as its
    text (CPA's translator turns those into arrays before its counter sees them)."""
    out: list[str] = []
    _add(out, body.get("instructions"))
    items = body.get("input")
    if isinstance(items, str):
        _add(out, items)
    elif isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "message" or (kind is None and "role" in item):
                content = item.get("content")
                if isinstance(content, str):
                    _add(out, content)
                elif isinstance(content, list):
                    for part in content:
                        _add(out, _get(part, "text"))
            elif kind == "function_call":
                _add(out, item.get("name"))
                _add(out, item.get("arguments"))
            elif kind == "function_call_output":
                _output(out, item.get("output"))
            else:
                _add(out, item.get("text"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            _add(out, tool.get("name"))
            _add(out, tool.get("description"))
            _add_raw(out, tool.get("parameters"))
    _text_format(out, body)
    return out


def _text_format(out: list[str], body: dict[str, Any]) -> None:
    fmt = _get(body.get("text"), "format")
    if isinstance(fmt, dict):
        _add(out, fmt.get("name"))
        _add_raw(out, fmt.get("schema"))


# ---------------------------------------------------------------------- xAI (Responses)


def xai_segments(body: dict[str, Any]) -> list[str]:
    """CPA ``countXAIInputTokens``: like Codex, and also file, image and audio references,
    refusals and reasoning summaries; only ``function`` tools."""
    out: list[str] = []
    _add(out, body.get("instructions"))
    items = body.get("input")
    if isinstance(items, str):
        _add(out, items)
    elif isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind == "message" or (kind is None and "role" in item):
                _xai_content(out, item.get("content"))
            elif kind == "function_call":
                _add(out, item.get("name"))
                _add_raw(out, item.get("arguments"))
            elif kind == "function_call_output":
                _output(out, item.get("output"))
            elif kind == "reasoning":
                for part in item.get("summary") or ():
                    _add(out, _get(part, "text"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict) and tool.get("type") == "function":
                _add(out, tool.get("name"))
                _add(out, tool.get("description"))
                _add_raw(out, tool.get("parameters"))
    _text_format(out, body)
    return out


def _xai_content(out: list[str], content: Any) -> None:
    if isinstance(content, str):
        _add(out, content)
        return
    if not isinstance(content, list):
        return
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            _add(out, part.get("text"))
        elif kind == "refusal":
            _add(out, part.get("refusal"))
        elif kind == "input_image":
            _add(out, _ref(part.get("image_url")))
            _add(out, part.get("file_id"))
        elif kind == "input_file":
            for key in ("file_data", "file_url", "file_id", "filename"):
                _add(out, _ref(part.get(key)))
        elif kind == "input_audio":
            _add(out, part.get("data"))
            _add(out, _get(part.get("input_audio"), "data"))


# ---------------------------------------------------------------------- Chat Completions


def chat_segments(body: dict[str, Any]) -> list[str]:
    """CPA ``CountOpenAIChatTokens``: roles, names, content, tool calls, tools, legacy
    functions, tool choice, response format, and a bare ``input`` / ``prompt``."""
    out: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, dict):
                continue
            _add(out, message.get("role"))
            _add(out, message.get("name"))
            _chat_content(out, message.get("content"))
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    _chat_tool_call(out, call)
            legacy = message.get("function_call")
            if isinstance(legacy, dict):
                _add(out, legacy.get("name"))
                _add(out, legacy.get("arguments"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            _chat_tool(out, tool)
    elif tools is not None:
        _chat_tool(out, tools)
    functions = body.get("functions")
    if isinstance(functions, list):
        for function in functions:
            _add(out, _get(function, "name"))
            _add(out, _get(function, "description"))
            _add_json(out, _get(function, "parameters"))
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        _add(out, choice)
    else:
        _add_json(out, choice)
    fmt = body.get("response_format")
    if fmt is not None:
        _add(out, _get(fmt, "type"))
        _add(out, _get(fmt, "name"))
        _add_json(out, _get(fmt, "json_schema"))
        _add_json(out, _get(fmt, "schema"))
    _add(out, body.get("input"))
    _add(out, body.get("prompt"))
    return out


def _add_json(out: list[str], value: Any) -> None:
    if value is not None:
        _add(out, _json(value))


def _chat_content(out: list[str], content: Any) -> None:
    if content is None:
        return
    if isinstance(content, str):
        _add(out, content)
        return
    if isinstance(content, dict):
        _add(out, _json(content))
        return
    if not isinstance(content, list):
        return
    for part in content:
        kind = _get(part, "type")
        if kind in ("text", "input_text", "output_text"):
            _add(out, part.get("text"))
        elif kind == "image_url":
            _add(out, _ref(_get(part.get("image_url"), "url")))
        elif kind == "file":
            _add(out, _get(part.get("file"), "filename"))
            _add(out, _get(part.get("file"), "file_id"))
        elif kind in ("input_audio", "output_audio", "audio"):
            _add(out, part.get("id"))
        elif kind == "tool_result":
            _add(out, part.get("name"))
            _chat_content(out, part.get("content"))
        elif isinstance(part, list):
            _chat_content(out, part)
        else:
            _add(out, part)


def _chat_tool_call(out: list[str], call: Any) -> None:
    _add(out, _get(call, "id"))
    _add(out, _get(call, "type"))
    function = _get(call, "function")
    if isinstance(function, dict):
        _add(out, function.get("name"))
        _add(out, function.get("description"))
        _add(out, function.get("arguments"))
        _add_json(out, function.get("parameters"))


def _chat_tool(out: list[str], tool: Any) -> None:
    if not isinstance(tool, dict):
        return
    _add(out, tool.get("type"))
    _add(out, tool.get("name"))
    _add(out, tool.get("description"))
    function = tool.get("function")
    if isinstance(function, dict):
        _add(out, function.get("name"))
        _add(out, function.get("description"))
        _add_json(out, function.get("parameters"))


# ---------------------------------------------------------------------- Claude Messages

_CLAUDE_RESULTS = frozenset(
    {
        "tool_result",
        "mcp_tool_result",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
    }
)
_CLAUDE_EXEC_RESULTS = frozenset(
    {"code_execution_result", "bash_code_execution_result", "text_editor_code_execution_result"}
)
_CLAUDE_UNCOUNTED = frozenset({"image", "input_audio", "audio", "video", "redacted_thinking"})


def claude_segments(body: dict[str, Any]) -> list[str]:
    """CPA ``collectClaudeInputTokenSegments``: system text, each message's role and
    content (text, thinking, text documents, tool uses and results, search and fetch
    results), tools and tool choice; never media, signatures or encrypted content."""
    out: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        _add(out, system)
    elif isinstance(system, list):
        for part in system:
            if isinstance(part, str):
                _add(out, part)
            elif _get(part, "type") == "text":
                _add(out, part.get("text"))
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            _add(out, _get(message, "role"))
            _claude_content(out, _get(message, "content"))
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            _add(out, _get(tool, "type"))
            _add(out, _get(tool, "name"))
            _add(out, _get(tool, "description"))
            _add_raw(out, _get(tool, "input_schema"))
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        _add(out, choice)
    elif isinstance(choice, dict):
        _add(out, choice.get("type"))
        _add(out, choice.get("name"))
    return out


def _claude_content(out: list[str], content: Any) -> None:
    if content is None:
        return
    if isinstance(content, str):
        _add(out, content)
        return
    if isinstance(content, list):
        for part in content:
            _claude_content(out, part)
        return
    if not isinstance(content, dict):
        return
    kind = content.get("type") or ""
    if kind == "text":
        _add(out, content.get("text"))
    elif kind == "thinking":
        _add(out, content.get("thinking"))
    elif kind == "document":
        source = content.get("source")
        if _get(source, "type") == "text":
            _add(out, content.get("title"))
            _add(out, content.get("context"))
            _add(out, _get(source, "data"))
            _add(out, _get(source, "content"))
    elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        _add(out, content.get("id"))
        _add(out, content.get("name"))
        _add_raw(out, content.get("input"))
    elif kind in _CLAUDE_RESULTS:
        _add(out, content.get("tool_use_id"))
        _add(out, content.get("tool_call_id"))
        _claude_content(out, content.get("content"))
    elif kind in ("web_search_result", "search_result"):
        source = content.get("source")
        if isinstance(source, str):
            _add(out, source)
        for key in ("title", "url", "page_age"):
            _add(out, content.get(key))
        _claude_content(out, content.get("content"))
    elif kind == "web_fetch_result":
        _add(out, content.get("url"))
        _add(out, content.get("retrieved_at"))
        _claude_content(out, content.get("content"))
    elif kind in _CLAUDE_EXEC_RESULTS:
        for key in ("stdout", "stderr", "return_code"):
            _add(out, content.get(key))
        _claude_content(out, content.get("content"))
        _claude_content(out, content.get("output"))
    elif kind == "tool_reference":
        _add(out, content.get("tool_name"))
    elif kind in _CLAUDE_UNCOUNTED:
        return
    elif not kind:
        _add_raw(out, content)
    else:
        _add(out, content.get("text"))
