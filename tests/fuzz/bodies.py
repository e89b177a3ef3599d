"""Hostile request bodies for each client format.

``body_for(fmt, kind, model)`` is a strategy of bodies that start from a valid request
and bend it: odd roles, mixed and unknown content parts, odd tool definitions, wrong
``stream`` types, huge and deep values, then up to two random edits anywhere.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from cliproxy.formats import Format
from tests.fuzz.strategies import GOOD_SCHEMA, choose, hostile, odd_names, odd_text, schemas, with_mutations

__all__ = ["body_for", "model_names"]

HI = "hi"
# prompts the fakes answer with one or two calls of a declared tool (tests/fakes/dialog.py)
PROMPTS = st.sampled_from(["FAKE_TOOL", "FAKE_TOOLS2", "FAKE_TOOL=a b", "FAKE_TOOL=x"])
ODD_ROLES = st.sampled_from(
    [
        "wizard",
        "",
        "USER",
        " user",
        "model",
        "human",
        "system",
        "tool",
        "function",
        "developer",
        "assistant",
        "user",
        5,
        None,
        ["user"],
        {"role": "user"},
        "r" * 5000,
    ]
)
STREAM_VALUES = st.sampled_from([True, False, None, "true", "false", 1, 0, "", [], {}, "yes", 1.0])
NUMBERS = st.sampled_from([-1, 0, 1, 2**31, 2**63 - 1, -(2**63), 1.5, 1e308, "10", "", None, True, [], {}])
URLS = st.sampled_from(
    [
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/png;base64,!!!",
        "data:;base64,",
        "data:image/png,raw",
        "data:",
        "http://127.0.0.1:1/x.png",
        "file:///etc/passwd",
        "",
        "javascript:alert(1)",
        5,
        None,
        "data:image/png;base64," + "A" * 100_000,
    ]
)
B64 = st.sampled_from(["iVBORw0KGgo=", "!!!", "", "A", "====", 5, None, "A" * 100_000])
MIMES = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "", "x/y", "text/plain", 5, None])


@st.composite
def model_names(draw: st.DrawFn, model: str) -> Any:
    """The routed model, or something odd in its place."""
    return choose(
        draw,
        model,
        st.sampled_from(
            [
                "",
                " ",
                "m" * 100_000,
                model * 500,
                model + "(high)",
                model + "(-5)",
                model + "(99999999999999999999)",
                model + "(",
                model + "\x00",
                "\u202e" + model,
                "models/" + model,
                "../" + model,
                model.upper(),
                "auto",
                model + " ",
                "nope-model",
                5,
                None,
                [model],
                {"id": model},
                True,
            ]
        ),
        12,
    )


# ---- OpenAI Chat Completions ---------------------------------------------------------


@st.composite
def _chat_tool_call(draw: st.DrawFn) -> Any:
    call = {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"command":"ls"}'}}
    return choose(
        draw,
        call,
        st.one_of(
            st.fixed_dictionaries(
                {
                    "id": st.sampled_from(["call_1", 5, None, ""]),
                    "type": st.just("function"),
                    "function": st.fixed_dictionaries(
                        {
                            "name": odd_names,
                            "arguments": st.sampled_from(["{", "", "[]", '"s"', "null", 5, None, {"a": 1}]),
                        }
                    ),
                }
            ),
            st.sampled_from(
                [
                    {"type": "function"},
                    {"function": None},
                    {"function": 5},
                    {"type": "custom", "custom": {}},
                    5,
                    None,
                    "call",
                ]
            ),
            hostile,
        ),
        50,
    )


def _chat_parts() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": odd_text}),
        st.fixed_dictionaries(
            {"type": st.just("image_url"), "image_url": st.one_of(st.fixed_dictionaries({"url": URLS}), URLS)}
        ),
        st.sampled_from(
            [
                {"type": "input_audio", "input_audio": {"data": "!!", "format": "wav"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                },
                {"type": "file", "file": 5},
                {"type": "video_url", "video_url": {"url": "http://127.0.0.1:1/v"}},
                {"type": "refusal", "refusal": "no"},
                {"text": "no type"},
                {"type": None},
                {"type": 5, "text": "x"},
                {"type": "text"},
                {"type": "text", "text": None},
                {"type": "thinking", "thinking": "x"},
                {"type": "image_url"},
                {"type": "image_url", "image_url": {}},
                {"type": "tool_result", "content": "x"},
            ]
        ),
        odd_text,
        hostile,
    )


@st.composite
def _chat_message(draw: st.DrawFn) -> Any:
    role = choose(draw, "user", ODD_ROLES, 40)
    msg: dict[str, Any] = {"role": role}
    content = choose(
        draw, HI, st.one_of(st.lists(_chat_parts(), max_size=4), odd_text, st.none(), hostile), 50
    )
    if draw(st.integers(0, 9)) < 9:
        msg["content"] = content
    if draw(st.integers(0, 9)) >= 7:
        msg["tool_calls"] = draw(st.one_of(st.lists(_chat_tool_call(), max_size=3), hostile))
    if draw(st.integers(0, 9)) >= 8:
        msg["tool_call_id"] = draw(st.one_of(st.just("call_1"), odd_names))
    if draw(st.integers(0, 9)) >= 8:
        msg["name"] = draw(odd_names)
    if draw(st.integers(0, 9)) >= 8:
        msg["reasoning_content"] = draw(st.one_of(odd_text, hostile))
    return msg


@st.composite
def _chat_tool(draw: st.DrawFn) -> Any:
    fn = {"name": draw(st.one_of(st.just("bash"), odd_names)), "parameters": draw(schemas)}
    if draw(st.booleans()):
        fn["description"] = draw(odd_text)
    if draw(st.integers(0, 9)) >= 8:
        fn["strict"] = draw(st.sampled_from([True, "yes", None]))
    tool = {"type": "function", "function": fn}
    return choose(
        draw,
        tool,
        st.sampled_from(
            [
                {"type": "function"},
                {"type": "function", "function": None},
                {"type": "function", "function": 5},
                {"function": {"name": "bash"}},
                {"type": "web_search"},
                {"type": "custom", "custom": {"name": "x"}},
                {"type": 5},
                "bash",
                5,
                None,
                [],
                {},
            ]
        ),
        30,
    )


TOOL_CHOICE_CHAT = st.sampled_from(
    [
        "auto",
        "none",
        "required",
        "any",
        5,
        None,
        {},
        {"type": "function", "function": {"name": "missing"}},
        {"type": "function"},
        {"type": "function", "function": 5},
        {"type": "tool", "name": "bash"},
        {"type": "allowed_tools", "allowed_tools": 5},
    ]
)


@st.composite
def chat_body(draw: st.DrawFn, model: str) -> dict[str, Any]:
    messages = draw(st.lists(_chat_message(), max_size=4))
    if draw(st.integers(0, 9)) < 8:
        messages.append({"role": "user", "content": choose(draw, HI, PROMPTS, 30)})
    body: dict[str, Any] = {"model": draw(model_names(model)), "messages": messages}
    if draw(st.integers(0, 9)) >= 6:
        body["tools"] = draw(st.one_of(st.lists(_chat_tool(), max_size=3), hostile))
    extras = {
        "stream": STREAM_VALUES,
        "stream_options": st.one_of(
            st.just({"include_usage": True}), st.sampled_from([{"include_usage": "yes"}, 5, None, []])
        ),
        "max_tokens": NUMBERS,
        "max_completion_tokens": NUMBERS,
        "temperature": NUMBERS,
        "top_p": NUMBERS,
        "n": NUMBERS,
        "stop": st.one_of(st.sampled_from([5, ["a"] * 100, None, "", [None]]), odd_text),
        "tool_choice": TOOL_CHOICE_CHAT,
        "parallel_tool_calls": st.sampled_from([True, "yes", 5, None]),
        "response_format": st.sampled_from(
            [
                {"type": "json_object"},
                {"type": "json_schema", "json_schema": 5},
                {"type": "weird"},
                {"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/x"}}},
                5,
                None,
                {"type": "json_schema", "json_schema": {"name": 5, "schema": GOOD_SCHEMA, "strict": "y"}},
            ]
        ),
        "reasoning_effort": st.sampled_from(["low", "extreme", "none", "", 5, None, "xhigh", "minimal"]),
        "user": st.one_of(odd_text, NUMBERS),
        "seed": NUMBERS,
        "logit_bias": hostile,
        "metadata": hostile,
        "modalities": st.sampled_from([["text"], ["audio"], "text", 5]),
        "thinking": st.sampled_from([{"type": "enabled", "budget_tokens": "x"}, {"type": "adaptive"}, 5]),
        "messages": hostile,
    }
    _add_extras(draw, body, extras)
    return with_mutations(draw, body)


def _add_extras(draw: st.DrawFn, body: dict[str, Any], extras: dict[str, st.SearchStrategy[Any]]) -> None:
    names = draw(st.lists(st.sampled_from(sorted(extras)), max_size=4, unique=True))
    for name in names:
        body[name] = draw(extras[name])


# ---- OpenAI Responses --------------------------------------------------------------------


def _responses_parts() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["input_text", "output_text", "text"]), "text": odd_text}
        ),
        st.fixed_dictionaries({"type": st.just("input_image"), "image_url": URLS}),
        st.sampled_from(
            [
                {"type": "input_image"},
                {"type": "input_image", "image_url": {"url": "x"}},
                {
                    "type": "input_file",
                    "file_data": "data:application/pdf;base64,JVBERi0=",
                    "filename": "a.pdf",
                },
                {"type": "input_file", "file_id": 5},
                {"type": "input_audio", "input_audio": 5},
                {"type": "refusal", "refusal": 5},
                {"type": "summary_text", "text": "x"},
                {"type": "weird"},
                {},
                {"type": "input_text"},
                {"type": "input_text", "text": None},
                {"text": "no type"},
            ]
        ),
        odd_text,
        hostile,
    )


def _responses_items() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"role": ODD_ROLES, "content": st.one_of(odd_text, st.lists(_responses_parts(), max_size=3))}
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("message"),
                "role": ODD_ROLES,
                "content": st.lists(_responses_parts(), max_size=3),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("function_call"),
                "call_id": st.one_of(st.just("c1"), odd_names),
                "name": odd_names,
                "arguments": st.sampled_from(['{"command":"ls"}', "{", "", 5, None, {"a": 1}]),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("function_call_output"),
                "call_id": st.one_of(st.just("c1"), odd_names),
                "output": st.one_of(odd_text, hostile, st.lists(_responses_parts(), max_size=2)),
            }
        ),
        st.sampled_from(
            [
                {"type": "reasoning", "encrypted_content": 5, "summary": 5},
                {
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": 5}],
                    "encrypted_content": "!!",
                },
                {"type": "reasoning"},
                {"type": "custom_tool_call", "call_id": "c2", "name": "x", "input": 5},
                {"type": "custom_tool_call_output", "call_id": "c2", "output": None},
                {"type": "local_shell_call", "action": 5},
                {"type": "item_reference", "id": 5},
                {"type": "web_search_call", "action": {}},
                {"type": "compaction", "encrypted_content": 5},
                {"type": "unknown_item"},
                {"type": None},
                {},
                {"role": "user"},
                {"content": "no role"},
            ]
        ),
        odd_text,
        hostile,
    )


@st.composite
def _responses_tool(draw: st.DrawFn) -> Any:
    tool = {
        "type": "function",
        "name": draw(st.one_of(st.just("bash"), odd_names)),
        "parameters": draw(schemas),
    }
    if draw(st.integers(0, 9)) >= 8:
        tool["strict"] = draw(st.sampled_from([True, "yes", None]))
    return choose(
        draw,
        tool,
        st.sampled_from(
            [
                {"type": "web_search"},
                {"type": "web_search_preview", "search_context_size": 5},
                {"type": "custom", "name": "x", "format": 5},
                {
                    "type": "custom",
                    "name": "x",
                    "format": {"type": "grammar", "syntax": "lark", "definition": "("},
                },
                {"type": "local_shell"},
                {"type": "file_search", "vector_store_ids": 5},
                {"type": "mcp", "server_label": 5},
                {"type": "image_generation"},
                {"type": "code_interpreter", "container": 5},
                {"type": "apply_patch"},
                {"type": "function"},
                {"type": "function", "function": {"name": "bash"}},
                {"type": 5},
                "bash",
                5,
                None,
                {},
            ]
        ),
        30,
    )


@st.composite
def responses_body(draw: st.DrawFn, model: str, codex: bool = False) -> dict[str, Any]:
    items = draw(st.one_of(st.just(HI), st.lists(_responses_items(), max_size=4)))
    if isinstance(items, list) and draw(st.integers(0, 9)) < 8:
        items.append({"role": "user", "content": choose(draw, HI, PROMPTS, 30)})
    body: dict[str, Any] = {"model": draw(model_names(model)), "input": items}
    if codex:
        body["stream"] = True
        body["instructions"] = "be brief"
    if draw(st.integers(0, 9)) >= 6:
        body["tools"] = draw(st.one_of(st.lists(_responses_tool(), max_size=3), hostile))
    extras = {
        "stream": STREAM_VALUES,
        "instructions": st.one_of(odd_text, hostile),
        "max_output_tokens": NUMBERS,
        "temperature": NUMBERS,
        "top_p": NUMBERS,
        "tool_choice": st.sampled_from(
            [
                "auto",
                "none",
                "required",
                5,
                {"type": "function", "name": 5},
                {"type": "function"},
                {"type": "web_search"},
                {},
                None,
            ]
        ),
        "reasoning": st.sampled_from(
            [
                {"effort": "high"},
                {"effort": "x"},
                5,
                {"summary": 5},
                None,
                {"effort": None, "summary": "auto"},
                {"effort": "none"},
            ]
        ),
        "text": st.sampled_from(
            [
                {"format": {"type": "json_schema", "schema": 5}},
                5,
                {"verbosity": 5},
                {"format": {"type": "json_schema", "name": "x", "schema": GOOD_SCHEMA}},
                {"format": {"type": "weird"}},
                {"format": 5},
            ]
        ),
        "previous_response_id": st.one_of(odd_text, NUMBERS),
        "store": st.sampled_from([True, "x", None]),
        "include": st.sampled_from([5, ["reasoning.encrypted_content"], [5], "x"]),
        "parallel_tool_calls": st.sampled_from([True, "yes", None]),
        "metadata": hostile,
        "prompt_cache_key": st.one_of(odd_text, NUMBERS),
        "truncation": st.sampled_from(["auto", 5, "weird"]),
        "service_tier": st.sampled_from(["auto", "priority", 5, ""]),
        "input": hostile,
    }
    _add_extras(draw, body, extras)
    return with_mutations(draw, body)


# ---- Anthropic Messages ----------------------------------------------------------------


def _claude_blocks() -> st.SearchStrategy[Any]:
    source = st.one_of(
        st.fixed_dictionaries({"type": st.just("base64"), "media_type": MIMES, "data": B64}),
        st.fixed_dictionaries({"type": st.just("url"), "url": URLS}),
        st.sampled_from([{"type": "file", "file_id": 5}, {"type": "text", "data": "x"}, 5, None, {}]),
    )
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": odd_text}),
        st.fixed_dictionaries({"type": st.sampled_from(["image", "document"]), "source": source}),
        st.fixed_dictionaries(
            {
                "type": st.just("tool_use"),
                "id": st.one_of(st.just("toolu_1"), odd_names),
                "name": odd_names,
                "input": st.one_of(st.just({"command": "ls"}), hostile),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("tool_result"),
                "tool_use_id": st.one_of(st.just("toolu_1"), odd_names),
                "content": st.one_of(odd_text, st.lists(st.deferred(_claude_blocks), max_size=2), hostile),
                "is_error": st.sampled_from([False, True, "x", None]),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("thinking"),
                "thinking": st.one_of(odd_text, hostile),
                "signature": st.sampled_from(["sig", "", 5, None, "A" * 10_000]),
            }
        ),
        st.sampled_from(
            [
                {"type": "redacted_thinking", "data": 5},
                {"type": "redacted_thinking"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": 5},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": 5},
                {"type": "search_result", "source": 5, "title": None, "content": [5]},
                {"type": "container_upload", "file_id": 5},
                {"type": "video"},
                {"type": None},
                {"text": "no type"},
                {"type": "text"},
                {"type": "text", "text": None, "cache_control": {"type": "ephemeral", "ttl": 5}},
                {"type": "text", "text": "x", "citations": 5},
                {},
            ]
        ),
        odd_text,
        hostile,
    )


@st.composite
def _claude_message(draw: st.DrawFn) -> Any:
    role = choose(draw, "user", ODD_ROLES, 40)
    content = choose(
        draw, HI, st.one_of(st.lists(_claude_blocks(), max_size=4), odd_text, st.none(), hostile), 50
    )
    msg: dict[str, Any] = {"role": role}
    if draw(st.integers(0, 9)) < 9:
        msg["content"] = content
    return msg


@st.composite
def _claude_tool(draw: st.DrawFn) -> Any:
    tool = {"name": draw(st.one_of(st.just("bash"), odd_names)), "input_schema": draw(schemas)}
    if draw(st.booleans()):
        tool["description"] = draw(odd_text)
    return choose(
        draw,
        tool,
        st.sampled_from(
            [
                {"type": "web_search_20250305", "name": "web_search", "max_uses": "x"},
                {"type": "bash_20250124", "name": "bash"},
                {"type": "text_editor_20250124", "name": "str_replace_editor"},
                {"type": "custom", "name": "x", "input_schema": 5},
                {"type": "computer_20250124", "name": "computer", "display_width_px": "x"},
                {"name": "x"},
                {"input_schema": GOOD_SCHEMA},
                {"type": "weird_tool_2099"},
                {"type": 5},
                "bash",
                5,
                None,
                {},
            ]
        ),
        30,
    )


@st.composite
def claude_body(draw: st.DrawFn, model: str, count: bool = False) -> dict[str, Any]:
    messages = draw(st.lists(_claude_message(), max_size=4))
    if draw(st.integers(0, 9)) < 8:
        messages.append({"role": "user", "content": choose(draw, HI, PROMPTS, 30)})
    body: dict[str, Any] = {"model": draw(model_names(model)), "messages": messages}
    if not count:
        body["max_tokens"] = choose(draw, 64, NUMBERS, 15)
    if draw(st.integers(0, 9)) >= 6:
        body["tools"] = draw(st.one_of(st.lists(_claude_tool(), max_size=3), hostile))
    extras = {
        "stream": STREAM_VALUES,
        "system": st.one_of(odd_text, st.lists(_claude_blocks(), max_size=3), hostile),
        "tool_choice": st.sampled_from(
            [
                {"type": "auto"},
                {"type": "any"},
                {"type": "tool", "name": 5},
                {"type": "tool"},
                {"type": "none"},
                "auto",
                5,
                None,
                {},
                {"type": "weird"},
                {"type": "auto", "disable_parallel_tool_use": "x"},
            ]
        ),
        "thinking": st.sampled_from(
            [
                {"type": "enabled", "budget_tokens": "x"},
                {"type": "adaptive"},
                {"type": "enabled"},
                {"type": "enabled", "budget_tokens": -5},
                5,
                None,
                {"type": "weird"},
                {"type": "disabled"},
                {"type": "enabled", "budget_tokens": 2**40},
            ]
        ),
        "metadata": st.sampled_from([{"user_id": 5}, 5, None, {"user_id": "u" * 10_000}]),
        "stop_sequences": st.sampled_from([5, [5], ["a"] * 1000, None, "stop"]),
        "temperature": NUMBERS,
        "top_p": NUMBERS,
        "top_k": NUMBERS,
        "max_tokens": NUMBERS,
        "output_config": st.sampled_from([{"effort": "x"}, 5, {"effort": "high"}, {"format": 5}]),
        "context_management": hostile,
        "mcp_servers": hostile,
        "container": hostile,
        "service_tier": st.sampled_from(["auto", 5, None]),
        "messages": hostile,
    }
    _add_extras(draw, body, extras)
    return with_mutations(draw, body)


# ---- Gemini generateContent ---------------------------------------------------------------


def _gemini_parts() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"text": odd_text}),
        st.fixed_dictionaries({"inlineData": st.fixed_dictionaries({"mimeType": MIMES, "data": B64})}),
        st.fixed_dictionaries(
            {
                "functionCall": st.fixed_dictionaries(
                    {"name": odd_names, "args": st.one_of(st.just({"command": "ls"}), hostile)}
                )
            }
        ),
        st.fixed_dictionaries(
            {
                "functionResponse": st.fixed_dictionaries(
                    {"name": odd_names, "response": st.one_of(st.just({"output": "ok"}), hostile)}
                )
            }
        ),
        st.sampled_from(
            [
                {"fileData": {"fileUri": 5}},
                {"fileData": {"mimeType": "image/png", "fileUri": "gs://x/y"}},
                {"thought": "yes", "text": "x"},
                {"thought": True, "text": "x", "thoughtSignature": 5},
                {"thoughtSignature": "!!", "text": "x"},
                {"executableCode": {"language": 5, "code": None}},
                {"codeExecutionResult": {"outcome": "WEIRD"}},
                {"videoMetadata": 5},
                {"unknownPart": 1},
                {},
                {"text": "a", "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"inline_data": {"mime_type": "image/png", "data": "!!"}},
                {"function_call": {"name": 5}},
                {"text": None},
                {"functionCall": None},
                {"functionResponse": {"name": "x"}},
            ]
        ),
        odd_text,
        hostile,
    )


@st.composite
def _gemini_content(draw: st.DrawFn) -> Any:
    content: dict[str, Any] = {
        "role": choose(
            draw,
            "user",
            st.sampled_from(
                ["model", "function", "system", "tool", "", "USER", "assistant", 5, None, ["user"]]
            ),
            40,
        ),
        "parts": choose(draw, [{"text": HI}], st.one_of(st.lists(_gemini_parts(), max_size=4), hostile), 60),
    }
    return choose(
        draw,
        content,
        st.one_of(
            st.sampled_from([{"parts": [{"text": "no role"}]}, {"role": "user"}, {}, "hi", 5, None]), hostile
        ),
        15,
    )


@st.composite
def _gemini_tool(draw: st.DrawFn) -> Any:
    decl = {"name": draw(st.one_of(st.just("bash"), odd_names)), "parameters": draw(schemas)}
    if draw(st.integers(0, 9)) >= 7:
        decl["parametersJsonSchema"] = decl.pop("parameters")
    tool = {"functionDeclarations": [decl]}
    return choose(
        draw,
        tool,
        st.sampled_from(
            [
                {"function_declarations": [{"name": "bash", "parameters": GOOD_SCHEMA}]},
                {"function_declarations": 5},
                {"googleSearch": {}},
                {"google_search": 5},
                {"codeExecution": {}},
                {"urlContext": {}},
                {"functionDeclarations": 5},
                {"functionDeclarations": [5]},
                {"functionDeclarations": [{}]},
                {"googleSearchRetrieval": {"dynamicRetrievalConfig": 5}},
                {},
                5,
                None,
                "bash",
            ]
        ),
        30,
    )


@st.composite
def gemini_body(draw: st.DrawFn, count: bool = False) -> dict[str, Any]:
    contents = draw(st.lists(_gemini_content(), max_size=4))
    if draw(st.integers(0, 9)) < 8:
        contents.append({"role": "user", "parts": [{"text": choose(draw, HI, PROMPTS, 30)}]})
    body: dict[str, Any] = {"contents": contents}
    if draw(st.integers(0, 9)) >= 6:
        body["tools"] = draw(st.one_of(st.lists(_gemini_tool(), max_size=3), hostile))
    gen = st.fixed_dictionaries(
        {},
        optional={
            "maxOutputTokens": NUMBERS,
            "temperature": NUMBERS,
            "topP": NUMBERS,
            "topK": NUMBERS,
            "candidateCount": NUMBERS,
            "stopSequences": st.sampled_from([5, [5], None, "x"]),
            "responseMimeType": st.sampled_from(["application/json", 5, "x/y"]),
            "responseSchema": schemas,
            "responseJsonSchema": schemas,
            "responseModalities": st.sampled_from([5, ["TEXT"], ["WEIRD"], "TEXT"]),
            "thinkingConfig": st.sampled_from(
                [
                    {"thinkingBudget": "x"},
                    {"includeThoughts": "yes"},
                    {"thinkingLevel": "extreme"},
                    {"thinkingBudget": -1},
                    5,
                    {"thinkingBudget": 2**40, "includeThoughts": True},
                ]
            ),
        },
    )
    extras = {
        "systemInstruction": st.one_of(
            st.fixed_dictionaries({"parts": st.lists(_gemini_parts(), max_size=2)}), odd_text, hostile
        ),
        "system_instruction": st.sampled_from([{"parts": [{"text": 5}]}, "be brief", {"role": "system"}]),
        "generationConfig": st.one_of(gen, hostile),
        "generation_config": st.one_of(gen, hostile),
        "toolConfig": st.sampled_from(
            [
                {"functionCallingConfig": {"mode": "WEIRD", "allowedFunctionNames": 5}},
                {"functionCallingConfig": 5},
                5,
                {"functionCallingConfig": {"mode": "ANY"}},
            ]
        ),
        "safetySettings": st.sampled_from(
            [5, [{"category": 5}], [{"category": "HARM_CATEGORY_X", "threshold": "BLOCK_NONE"}], None]
        ),
        "cachedContent": st.one_of(odd_text, NUMBERS),
        "labels": hostile,
        "contents": hostile,
        "model": st.one_of(odd_text, NUMBERS),
    }
    _add_extras(draw, body, extras)
    body = with_mutations(draw, body)
    if count and draw(st.integers(0, 9)) >= 7:
        return {"generateContentRequest": choose(draw, {**body, "model": "models/x"}, hostile, 30)}
    return body


def body_for(fmt: Format, kind: str, model: str, codex: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Hostile bodies for one client route."""
    if fmt is Format.OPENAI:
        return chat_body(model)
    if fmt is Format.RESPONSES:
        return responses_body(model, codex)
    if fmt is Format.CLAUDE:
        return claude_body(model, kind == "count")
    return gemini_body(kind == "count")
