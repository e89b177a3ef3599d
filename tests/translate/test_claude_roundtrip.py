"""Property: a valid Claude request survives Claude -> IR -> Claude unchanged.

Documented normalisations the generator stays clear of: empty text blocks, empty
message contents and thinking blocks without a signature are dropped (the API rejects
them); a ``tool_use`` without ``input`` gets ``{}``.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy.translate.claude import ADAPTER

texts = st.text(min_size=1, max_size=20)
ids = st.from_regex(r"[a-zA-Z0-9_-]{1,24}", fullmatch=True)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
cache = st.sampled_from(
    [{}, {"cache_control": {"type": "ephemeral"}}, {"cache_control": {"type": "ephemeral", "ttl": "1h"}}]
)


@st.composite
def text_block(draw):
    block = {"type": "text", "text": draw(texts)} | draw(cache)
    if draw(st.booleans()):
        block["citations"] = draw(st.sampled_from([None, [{"type": "char_location", "cited_text": "x"}]]))
    return block


@st.composite
def image_block(draw):
    source = draw(
        st.sampled_from(
            [
                {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                {"type": "url", "url": "https://example.com/a.png"},
                {"type": "file", "file_id": "file_011"},
            ]
        )
    )
    return {"type": "image", "source": source} | draw(cache)


@st.composite
def document_block(draw):
    source = draw(
        st.sampled_from(
            [
                {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
                {"type": "text", "media_type": "text/plain", "data": "plain text"},
                {"type": "url", "url": "https://example.com/a.pdf"},
                {"type": "content", "content": [{"type": "text", "text": "chunk"}]},
            ]
        )
    )
    block = {"type": "document", "source": source} | draw(cache)
    if draw(st.booleans()):
        block["title"] = draw(texts)
    if draw(st.booleans()):
        block["context"] = draw(texts)
        block["citations"] = {"enabled": True}
    return block


@st.composite
def tool_result(draw, call_ids):
    block = {"type": "tool_result", "tool_use_id": draw(st.sampled_from(call_ids))} | draw(cache)
    kind = draw(st.sampled_from(["string", "blocks", "absent"]))
    if kind == "string":
        block["content"] = draw(st.text(max_size=20))
    elif kind == "blocks":
        block["content"] = draw(st.lists(text_block() | image_block(), max_size=3))
    if draw(st.booleans()):
        block["is_error"] = draw(st.booleans())
    return block


@st.composite
def assistant_content(draw, call_ids):
    out = []
    for kind in draw(
        st.lists(
            st.sampled_from(["text", "thinking", "redacted", "tool_use", "server"]), min_size=1, max_size=4
        )
    ):
        if kind == "text":
            out.append(draw(text_block()))
        elif kind == "thinking":
            out.append({"type": "thinking", "thinking": draw(st.text(max_size=20)), "signature": draw(texts)})
        elif kind == "redacted":
            out.append({"type": "redacted_thinking", "data": draw(texts)})
        elif kind == "server":
            out.append(
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_" + draw(ids),
                    "name": "web_search",
                    "input": {"query": draw(texts)},
                }
            )
        else:
            call_id = draw(ids)
            call_ids.append(call_id)
            out.append(
                {"type": "tool_use", "id": call_id, "name": draw(ids), "input": draw(json_objects)}
                | draw(cache)
            )
    return out


@st.composite
def user_content(draw, call_ids):
    results = draw(st.lists(tool_result(call_ids), max_size=2)) if call_ids else []
    rest = draw(st.lists(text_block() | image_block() | document_block(), max_size=3))
    return results + rest or [draw(text_block())]


@st.composite
def messages(draw):
    out = []
    call_ids: list[str] = []
    for role in draw(st.lists(st.sampled_from(["user", "assistant", "system"]), min_size=1, max_size=6)):
        msg: dict = {"role": role}
        if draw(st.booleans()) and role != "assistant":
            msg["content"] = draw(texts)
        elif role == "assistant":
            msg["content"] = draw(assistant_content(call_ids))
        elif role == "user":
            msg["content"] = draw(user_content(call_ids))
        else:
            msg["content"] = draw(st.lists(text_block(), min_size=1, max_size=2))
        if role == "system" and draw(st.booleans()):
            msg["output_config"] = {"effort": draw(st.sampled_from(["low", "medium", "high"]))}
        out.append(msg)
    return out


tools = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"name": ids, "input_schema": st.just({"type": "object", "properties": {}})},
            optional={
                "description": texts,
                "cache_control": st.just({"type": "ephemeral"}),
                "defer_loading": st.booleans(),
                "eager_input_streaming": st.booleans(),
                "strict": st.booleans(),
                "input_examples": st.just([{"a": 1}]),
                "type": st.just("custom"),
            },
        ),
        st.sampled_from(
            [
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                {"type": "bash_20250124", "name": "bash"},
                {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
                {"type": "code_execution_20250825", "name": "code_execution"},
            ]
        ),
    ),
    max_size=3,
)

tool_choices = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["auto", "any"])}, optional={"disable_parallel_tool_use": st.booleans()}
    ),
    st.fixed_dictionaries(
        {"type": st.just("tool"), "name": ids}, optional={"disable_parallel_tool_use": st.booleans()}
    ),
    st.just({"type": "none"}),
)

thinking = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("enabled"), "budget_tokens": st.integers(1024, 64000)},
        optional={"display": st.sampled_from(["summarized", "omitted"])},
    ),
    st.fixed_dictionaries(
        {"type": st.just("adaptive")},
        optional={"display": st.sampled_from(["summarized", "omitted", "updates"])},
    ),
    st.just({"type": "disabled"}),
)

output_config = st.fixed_dictionaries(
    {},
    optional={
        "effort": st.sampled_from(["low", "medium", "high", "xhigh", "max"]),
        "format": st.just({"type": "json_schema", "schema": {"type": "object", "properties": {}}}),
        "task_budget": st.just({"type": "tokens", "total": 1000}),
    },
)

requests = st.fixed_dictionaries(
    {"model": st.sampled_from(["claude-opus-5-5", "claude-sonnet-4-6"]), "messages": messages()},
    optional={
        "system": texts | st.lists(text_block(), max_size=3),
        "max_tokens": st.integers(1, 128000),
        "temperature": st.floats(0, 1),
        "top_p": st.floats(0, 1),
        "top_k": st.integers(1, 500),
        "stop_sequences": st.lists(texts, max_size=2),
        "stream": st.booleans(),
        "tools": tools,
        "tool_choice": tool_choices,
        "thinking": thinking,
        "output_config": output_config,
        "output_format": st.just({"type": "json_schema", "schema": {"type": "object"}}),
        "metadata": st.fixed_dictionaries({}, optional={"user_id": texts}),
        "context_management": st.just({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}),
        "service_tier": st.sampled_from(["auto", "standard_only"]),
        "container": ids,
        "mcp_servers": st.just([{"type": "url", "url": "https://mcp.test", "name": "m"}]),
        "inference_geo": st.just("us"),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
def test_claude_request_round_trip(body):
    sent = copy.deepcopy(body)
    req = ADAPTER.parse_request(body)
    assert body == sent  # parsing does not touch the client's body
    assert ADAPTER.build_request(req) == body
