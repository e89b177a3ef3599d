"""Property: any valid Responses request survives Responses -> IR -> Responses unchanged.

Documented normalisations (kept out of the strategies): optional keys given as null,
and assistant message items with an empty content list.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy.translate.openai_responses import ADAPTER, CODEX_ADAPTER

text = st.text(max_size=20)
ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12)
b64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=16)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), text)
small_obj = st.dictionaries(ident, json_scalar, max_size=3)


def opt(d: dict, **maybe) -> st.SearchStrategy[dict]:
    """d plus any subset of the optional keys."""
    keys = list(maybe)
    return st.fixed_dictionaries(d, optional=dict(zip(keys, (maybe[k] for k in keys), strict=True)))


input_text = opt({"type": st.just("input_text"), "text": text})
image = st.one_of(
    opt(
        {
            "type": st.just("input_image"),
            "image_url": st.builds(
                lambda m, d: f"data:image/{m};base64,{d}", st.sampled_from(["png", "jpeg"]), b64
            ),
        },
        detail=st.sampled_from(["low", "high", "auto"]),
    ),
    opt(
        {"type": st.just("input_image"), "image_url": st.just("https://example.com/a.png")},
        detail=st.sampled_from(["low", "auto"]),
    ),
    opt({"type": st.just("input_image"), "file_id": ident}, detail=st.just("auto")),
)
file_part = st.one_of(
    opt(
        {
            "type": st.just("input_file"),
            "file_data": st.builds(lambda d: f"data:application/pdf;base64,{d}", b64),
        },
        filename=text,
    ),
    opt({"type": st.just("input_file"), "file_id": ident}),
    opt({"type": st.just("input_file"), "file_url": st.just("https://example.com/d.pdf")}, filename=text),
)
user_part = st.one_of(input_text, image, file_part)
output_text = opt(
    {"type": st.just("output_text"), "text": text},
    annotations=st.lists(small_obj, max_size=2),
    logprobs=st.just([]),
)
refusal = st.fixed_dictionaries({"type": st.just("refusal"), "refusal": text})

user_msg = opt(
    {
        "role": st.sampled_from(["user", "system", "developer"]),
        "content": st.one_of(text, st.lists(user_part, max_size=3)),
    },
    type=st.just("message"),
    id=ident,
    status=st.just("completed"),
)
assistant_msg = opt(
    {
        "role": st.just("assistant"),
        "content": st.one_of(text, st.lists(st.one_of(output_text, refusal), min_size=1, max_size=3)),
    },
    type=st.just("message"),
    id=ident,
    status=st.sampled_from(["completed", "incomplete"]),
)
reasoning = opt(
    {
        "type": st.just("reasoning"),
        "summary": st.lists(
            st.fixed_dictionaries({"type": st.just("summary_text"), "text": text}), max_size=2
        ),
    },
    id=ident,
    encrypted_content=b64,
    content=st.one_of(
        st.none(),
        st.lists(st.fixed_dictionaries({"type": st.just("reasoning_text"), "text": text}), max_size=2),
    ),
    status=st.just("completed"),
)
server_item = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["web_search_call", "file_search_call", "image_generation_call"]),
        "id": ident,
        "status": st.just("completed"),
    }
)


@st.composite
def call_pair(draw: st.DrawFn) -> tuple[dict, dict]:
    call_id = "call_" + draw(ident)
    if draw(st.booleans()):
        call = draw(
            opt(
                {
                    "type": st.just("function_call"),
                    "call_id": st.just(call_id),
                    "name": ident,
                    "arguments": st.just('{"a": 1}'),
                },
                id=ident,
                status=st.just("completed"),
                namespace=ident,
            )
        )
        out_type = "function_call_output"
    else:
        call = draw(
            opt(
                {
                    "type": st.just("custom_tool_call"),
                    "call_id": st.just(call_id),
                    "name": ident,
                    "input": text,
                },
                id=ident,
            )
        )
        out_type = "custom_tool_call_output"
    output = draw(st.one_of(text, st.lists(st.one_of(input_text, image), max_size=2)))
    result = draw(
        opt(
            {"type": st.just(out_type), "call_id": st.just(call_id), "output": st.just(output)},
            id=ident,
            status=st.just("completed"),
        )
    )
    return call, result


@st.composite
def input_items(draw: st.DrawFn) -> list[dict]:
    items: list[dict] = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["user", "assistant", "reasoning", "calls", "server"]))
        if kind == "user":
            items.append(draw(user_msg))
        elif kind == "assistant":
            items.append(draw(assistant_msg))
        elif kind == "reasoning":
            items.append(draw(reasoning))
        elif kind == "server":
            items.append(draw(server_item))
        else:
            pairs = draw(st.lists(call_pair(), min_size=1, max_size=3, unique_by=lambda p: p[0]["call_id"]))
            items.extend(p[0] for p in pairs)
            items.extend(p[1] for p in pairs)
    return items


function_tool = opt(
    {"type": st.just("function"), "name": ident},
    description=text,
    parameters=st.just({"type": "object", "properties": {}}),
    strict=st.booleans(),
    defer_loading=st.booleans(),
)
custom_tool = opt(
    {"type": st.just("custom"), "name": ident}, description=text, format=st.just({"type": "text"})
)
namespace_tool = opt(
    {
        "type": st.just("namespace"),
        "name": ident,
        "tools": st.lists(st.one_of(function_tool, custom_tool), min_size=1, max_size=3),
    },
    description=text,
)
builtin_tool = st.one_of(
    st.just({"type": "web_search", "external_web_access": False}),
    st.just({"type": "web_search_preview"}),
    st.just({"type": "file_search", "vector_store_ids": ["vs_1"]}),
    st.just({"type": "image_generation", "output_format": "png"}),
)
tool_choice = st.one_of(
    st.sampled_from(["auto", "none", "required"]),
    st.builds(lambda n: {"type": "function", "name": n}, ident),
    st.builds(lambda n: {"type": "custom", "name": n}, ident),
    st.just({"type": "web_search"}),
    st.just({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]}),
)
text_cfg = opt(
    {},
    format=st.one_of(
        st.just({"type": "text"}),
        st.just({"type": "json_object"}),
        st.builds(
            lambda n, s: {"type": "json_schema", "name": n, "schema": {"type": "object"}, "strict": s},
            ident,
            st.booleans(),
        ),
    ),
    verbosity=st.sampled_from(["low", "medium", "high"]),
)

request = st.builds(
    lambda base, inp: {**base, **inp},
    opt(
        {"model": ident},
        instructions=text,
        tools=st.lists(st.one_of(function_tool, custom_tool, namespace_tool, builtin_tool), max_size=4),
        tool_choice=tool_choice,
        parallel_tool_calls=st.booleans(),
        max_output_tokens=st.integers(1, 10_000),
        temperature=st.floats(0, 2),
        top_p=st.floats(0, 1),
        reasoning=opt(
            {},
            effort=st.sampled_from(["minimal", "low", "medium", "high"]),
            summary=st.sampled_from(["auto", "concise", "detailed"]),
            generate_summary=st.just("auto"),
        ),
        text=text_cfg,
        stream=st.booleans(),
        store=st.booleans(),
        include=st.just(["reasoning.encrypted_content"]),
        prompt_cache_key=ident,
        user=ident,
        metadata=st.dictionaries(ident, text, max_size=2),
        safety_identifier=ident,
        service_tier=st.sampled_from(["auto", "default", "flex", "priority"]),
        truncation=st.sampled_from(["auto", "disabled"]),
        client_metadata=small_obj,
        top_logprobs=st.integers(0, 5),
    ),
    st.one_of(
        st.fixed_dictionaries({"input": text}), st.fixed_dictionaries({"input": input_items()}), st.just({})
    ),
)


def _summary_normalised(body: dict) -> dict:
    """The body as it goes up: the deprecated ``reasoning.generate_summary`` folded into
    ``summary`` (CPA TestApplySummaryConfig_ResponsesNormalizesDeprecatedGenerateSummary)."""
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict) or "generate_summary" not in reasoning:
        return body
    reasoning = dict(reasoning)
    old = reasoning.pop("generate_summary")
    reasoning.setdefault("summary", old)
    return {**body, "reasoning": reasoning}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request)
def test_responses_request_round_trip(body):
    original = copy.deepcopy(body)
    req = ADAPTER.parse_request(body)
    assert body == original  # parse does not mutate the client's body
    expected = _summary_normalised(original)
    assert ADAPTER.build_request(req) == expected
    codex = CODEX_ADAPTER.build_request(req)
    assert codex["stream"] is True and codex["store"] is False
    assert isinstance(codex["instructions"], str) and isinstance(codex["input"], list)
    assert "reasoning.encrypted_content" in codex["include"]
    assert ADAPTER.build_request(req) == expected  # building twice (and codex) changed nothing
