"""CPA's xAI executor tests (``internal/runtime/executor/xai_*_test.go``), ported.

Request shaping (``xai_request``), the answer's repairs (``xai_stream``) and error
classification, as pure functions and through a running proxy against the fake
Responses upstream (``fake.raw_streams`` plays xAI's own SSE).
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers import codex_cache, xai_session
from cliproxy.providers.codex_ws_wire import SESSION_HEADER
from cliproxy.providers.xai import FREE_USAGE_WINDOW, XAIProvider
from cliproxy.providers.xai_request import (
    ResponsePlan,
    declared_tools,
    has_x_search,
    shape,
    supports_image_generation,
)
from cliproxy.providers.xai_stream import XAIStream, is_x_search_trace
from tests.e2e.clients import KEY
from tests.fakes.openai_responses import grok_encrypted

# ---------------------------------------------------------------- helpers


def frames(*events: dict[str, Any], named: bool = True) -> bytes:
    out = b""
    for event in events:
        if named:
            out += b"event: " + str(event["type"]).encode() + b"\n"
        out += b"data: " + orjson.dumps(event) + b"\n\n"
    return out


def data_events(stream: bytes) -> list[dict[str, Any]]:
    out = []
    for line in stream.split(b"\n"):
        if line.startswith(b"data:") and line[5:].strip().startswith(b"{"):
            out.append(orjson.loads(line[5:]))
    return out


def shaped(body: dict[str, Any], model: str = "grok-4.5", x_search: bool = False) -> dict[str, Any]:
    shape(body, model, x_search=x_search)
    return body


@pytest.fixture
async def xai(start_proxy, fake_openai):
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\n'
        "xai:\n  inject-x-search: true\n"
        f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    )
    proxy.fake = fake_openai
    yield proxy
    fake_openai.raw_streams = []


async def post(proxy, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with session.post(proxy.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.read()


# ---------------------------------------------------------------- xai_status_err_test.go


def classify(status: int, body: bytes):
    return XAIProvider().classify(status, {}, body, "xai:apikey:1")


def test_free_usage_exhausted_sets_24h_retry_after() -> None:
    """CPA: TestXAIStatusErr_FreeUsageExhaustedSets24hRetryAfter."""
    body = (
        b'{"code":"subscription:free-usage-exhausted","error":"You\'ve used all the included free usage '
        b"for model grok-4.5-build-free for now. Usage resets over a rolling 24-hour window \xe2\x80\x94 "
        b'tokens (actual/limit): 1065387/1000000."}'
    )
    err = classify(429, body)
    assert err.status == 429 and err.retry_after == FREE_USAGE_WINDOW == 24 * 3600


def test_generic_429_has_no_retry_after() -> None:
    """CPA: TestXAIStatusErr_Generic429HasNoRetryAfter."""
    assert classify(429, b'{"code":"rate_limit","error":"too many requests"}').retry_after is None


def test_non_429_unchanged() -> None:
    """CPA: TestXAIStatusErr_Non429Unchanged."""
    err = classify(400, b'{"error":"nope"}')
    assert err.status == 400 and err.retry_after is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"code":"unauthenticated:bad-credentials","error":"The OAuth2 access token could not be validated."}',
        b'{"error":"The OAuth2 access token could not be validated."}',
        b'{"type":"error","status":403,"error":{"code":"unauthenticated:bad-credentials",'
        b'"message":"The OAuth2 access token could not be validated."}}',
    ],
    ids=["code", "message-only", "nested"],
)
def test_bad_credentials_403_is_a_401(body: bytes) -> None:
    """CPA: TestXAIStatusErr_BadCredentials403RemapsToUnauthorized,
    TestXAIStatusErr_BadCredentialsByMessageOnly, TestXAIStatusErr_BadCredentialsNestedErrorCode."""
    err = classify(403, body)
    assert err.status == 401 and err.retry_after is None
    assert err.body == body  # the upstream's words are kept


@pytest.mark.parametrize("body", [b'{"code":"permission_denied","error":"model access is not allowed"}', b""])
def test_other_403_unchanged(body: bytes) -> None:
    """CPA: TestXAIStatusErr_Generic403Unchanged, TestXAIStatusErr_EmptyBodyForbiddenUnchanged."""
    err = classify(403, body)
    assert err.status == 403 and err.retry_after is None


async def test_bad_credentials_403_fails_over_like_a_401(xai) -> None:
    """Through the proxy: the credential is taken out as for a 401, not as forbidden."""
    bad = {
        "code": "unauthenticated:bad-credentials",
        "error": "The OAuth2 access token could not be validated.",
    }
    xai.fake.fail_next(403, body=bad)
    status, data = await post(xai, "/v1/responses", {"model": "grok-4.5", "input": "hi"})
    assert status == 401, data


# ---------------------------------------------------------------- request shaping


SHAPES = {
    "model": "grok-4.3",
    "input": [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "test"}],
            "content": None,
            "encrypted_content": None,
        },
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "second"}]},
        {"role": "user", "content": "hello"},
    ],
    "include": ["reasoning.encrypted_content"],
    "reasoning": {"effort": "high"},
    "tools": [
        {"type": "tool_search"},
        {"type": "image_generation"},
        {"type": "custom", "name": "apply_patch"},
        {"type": "custom", "name": "custom_lookup"},
        {"type": "function", "name": "lookup"},
        {"type": "web_search", "external_web_access": True, "search_content_types": ["text", "image"]},
        {
            "type": "namespace",
            "name": "codex_app",
            "description": "Tools in the codex_app namespace.",
            "tools": [
                {"type": "function", "name": "automation_update"},
                {"type": "custom", "name": "namespace_custom"},
            ],
        },
    ],
    "tool_choice": {
        "type": "allowed_tools",
        "tools": [
            {"type": "function", "name": "automation_update", "namespace": "codex_app"},
            {"type": "function", "name": "lookup"},
            {"type": "web_search"},
        ],
    },
}


async def test_execute_shapes_responses_request(xai) -> None:
    """TestXAIExecutorExecuteShapesResponsesRequest. Differences: CPA's payload also has a
    ``tool_search`` inside the namespace, which our Responses reader refuses (a tool
    without a name) before any provider sees it; its execution session is
    ``test_execution_session_is_the_conversation``."""
    status, data = await post(xai, "/v1/responses", SHAPES)
    assert status == 200, data
    body = xai.fake.last.json
    assert body["stream"] is True and body["reasoning"]["effort"] == "high"
    first = body["input"][0]
    assert "content" not in first and "encrypted_content" not in first
    assert [s["text"] for s in first["summary"]] == ["test", "second"]  # the two merged
    assert body["input"][1]["role"] == "user" and len(body["input"]) == 2
    tools = body["tools"]
    assert len(tools) == 6
    assert {t["type"] for t in tools} == {"function", "web_search", "x_search"}
    assert all("parameters" in t for t in tools if t["type"] == "function")
    names = [t.get("name") for t in tools]
    assert "apply_patch" not in names
    assert {"codex_app__automation_update", "codex_app__namespace_custom", "custom_lookup"} <= set(names)
    web = next(t for t in tools if t["type"] == "web_search")
    assert "external_web_access" not in web and web["search_content_types"][1] == "image"
    allowed = body["tool_choice"]["tools"]
    assert allowed[0] == {"type": "function", "name": "codex_app__automation_update"}
    assert allowed[1]["name"] == "lookup" and allowed[2]["type"] == "web_search"
    assert [t["type"] for t in allowed].count("x_search") == 1 and allowed[3]["type"] == "x_search"
    assert "reasoning.encrypted_content" in body["include"]


async def test_execute_restores_additional_tools_namespace_calls(xai) -> None:
    """TestXAIExecutorExecuteRestoresAdditionalToolsNamespaceCalls."""
    call = {
        "type": "function_call",
        "name": "mcp__exa__web_search_exa",
        "call_id": "call_1",
        "arguments": "{}",
    }
    xai.fake.raw_streams = [
        frames(
            {"type": "response.output_item.done", "output_index": 0, "item": call},
            {
                "type": "response.completed",
                "response": {"id": "resp_1", "object": "response", "status": "completed", "output": []},
            },
            named=False,
        )
    ]
    request = {
        "model": "grok-4.3",
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "mcp__exa",
                        "tools": [
                            {"type": "function", "name": "web_search_exa", "parameters": {"type": "object"}}
                        ],
                    }
                ],
            },
            {"role": "user", "content": "use Exa"},
        ],
    }
    status, data = await post(xai, "/v1/responses", request)
    assert status == 200, data
    sent = xai.fake.last.json
    assert all(item.get("type") != "additional_tools" for item in sent["input"])
    assert sent["input"][0]["role"] == "user"
    tool = sent["tools"][0]
    assert tool["name"] == "mcp__exa__web_search_exa" and tool["type"] == "function" and "tools" not in tool
    output = orjson.loads(data)["output"][0]
    assert output["name"] == "web_search_exa" and output["namespace"] == "mcp__exa"


def test_normalizes_custom_tool_call_history() -> None:
    """TestXAIExecutorExecuteNormalizesCustomToolCallHistory."""
    meta = {"internal_chat_message_metadata_passthrough": {"turn_id": "turn-1"}}
    body = shaped(
        {
            "model": "grok-4.5",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "search"}]},
                {"type": "custom_tool_call", "name": "missing_call_id", "input": "invalid"},
                {"type": "custom_tool_call_output", "output": "missing call id"},
                {
                    "type": "custom_tool_call",
                    "status": "completed",
                    "call_id": "xs_call-1",
                    "name": "x_semantic_search",
                    "input": '{"query":"US stocks","limit":"10"}',
                    **meta,
                },
                {
                    "type": "custom_tool_call_output",
                    "call_id": "xs_call-1",
                    "output": "unsupported custom tool call: x_semantic_search",
                    **meta,
                },
                {
                    "type": "custom_tool_call",
                    "call_id": "call-2",
                    "name": "apply_patch",
                    "input": "*** Begin Patch",
                },
                {
                    "type": "custom_tool_call_output",
                    "call_id": "call-2",
                    "output": [{"type": "input_text", "text": "done"}],
                },
            ],
            "tools": [{"type": "x_search"}],
            "tool_choice": "auto",
        }
    )
    items = body["input"]
    assert len(items) == 5
    assert items[1]["type"] == "function_call"
    assert orjson.loads(items[1]["arguments"])["query"] == "US stocks"
    assert "input" not in items[1] and "internal_chat_message_metadata_passthrough" not in items[1]
    assert items[2] == {
        "type": "function_call_output",
        "call_id": "xs_call-1",
        "output": "unsupported custom tool call: x_semantic_search",
    }
    assert orjson.loads(items[3]["arguments"])["input"] == "*** Begin Patch"
    assert orjson.loads(items[4]["output"]) == [{"type": "input_text", "text": "done"}]
    assert body["tools"][0]["type"] == "x_search"


@pytest.mark.parametrize(
    ("model", "want"),
    [
        ("", False),
        ("grok-4.5", False),
        ("grok-4.3", False),
        ("grok-4", False),
        ("grok-4.20-0309-reasoning", False),
        ("grok-4.20-multi-agent-0309", False),
        ("grok-build-0.1", False),
        ("grok-composer-2.5-fast", False),
        ("grok-3-mini", False),
        ("gpt-5.6", False),
        ("grok-4.6", True),
        ("grok-4.6(high)", True),
        ("xai/grok-4.6", True),
        ("grok-4.7", True),
        ("grok-5", True),
        ("grok-5.0", True),
    ],
)
def test_supports_native_image_generation(model: str, want: bool) -> None:
    """CPA: TestXAISupportsNativeImageGeneration."""
    assert supports_image_generation(model) is want


@pytest.mark.parametrize(
    ("model", "keep"),
    [("", False), ("grok-4.5", False), ("grok-4.20-0309-reasoning", False), ("grok-4.6", True)],
)
def test_image_generation_by_model(model: str, keep: bool) -> None:
    """CPA: TestNormalizeXAITools_ImageGenerationByModel."""
    tools = [{"type": "image_generation", "action": "generate"}, {"type": "web_search"}]
    body = shaped({"model": model, "tools": tools}, model)
    kinds = [t["type"] for t in body["tools"]]
    assert "web_search" in kinds and ("image_generation" in kinds) is keep
    if keep:
        assert body["tools"][0]["action"] == "generate"


def test_claude_web_search_tool_choice_becomes_allowed_tools() -> None:
    """TestXAIExecutorPrepareNormalizesClaudeWebSearchToolChoice, from the choice a Claude
    client's forced web_search arrives as (our translator's part is not ported)."""
    body = shaped({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}})
    assert body["tool_choice"] == {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "web_search"}],
    }


def test_prune_orphaned_tool_choice() -> None:
    """CPA: TestPruneXAIOrphanedToolChoice."""
    lookup = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    body = shaped({"tools": [lookup], "tool_choice": {"type": "image_generation"}})
    assert "tool_choice" not in body
    allowed = [{"type": "function", "name": "lookup"}, {"type": "image_generation"}, {"type": "web_search"}]
    body = shaped(
        {
            "tools": [lookup, {"type": "web_search"}],
            "tool_choice": {"type": "allowed_tools", "tools": allowed},
        }
    )
    assert body["tool_choice"]["tools"] == [allowed[0], allowed[2]]
    body = shaped(
        {"tools": [], "tool_choice": {"type": "allowed_tools", "tools": [{"type": "image_generation"}]}}
    )
    assert "tool_choice" not in body
    body = shaped({"tools": [{"type": "web_search"}], "tool_choice": "auto"})
    assert body["tool_choice"] == "auto"


def test_orphaned_tool_choice_dropped_before_x_search_inject() -> None:
    """CPA: TestXAIExecutorPrepareDropsOrphanedToolChoiceBeforeXSearchInject."""
    body = shaped(
        {"tools": [{"type": "image_generation"}], "tool_choice": {"type": "image_generation"}}, x_search=True
    )
    assert body["tools"] == [{"type": "x_search"}] and "tool_choice" not in body


def test_allowed_tools_sync_injected_x_search() -> None:
    """CPA: TestXAIExecutorPrepareAllowedToolsSyncsInjectedXSearch: the image tool Grok 4.5
    does not take leaves the tools and the allowed list; X Search joins both."""
    image = {"type": "image_generation"}
    choice = {"type": "allowed_tools", "tools": [image, {"type": "function", "name": "lookup"}]}
    lookup = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    body = shaped({"tools": [image, lookup], "tool_choice": choice}, x_search=True)
    assert [t["type"] for t in body["tools"]] == ["function", "x_search"]
    assert [t["type"] for t in body["tool_choice"]["tools"]] == ["function", "x_search"]


def test_drops_stop() -> None:
    assert "stop" not in shaped({"input": "hi", "stop": ["END"]})


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        ({"tools": [], "tool_choice": "auto", "parallel_tool_calls": True, "input": "hi"}, False),
        ({"tool_choice": "auto", "input": "hi"}, False),
        ({"parallel_tool_calls": True, "input": "hi"}, False),
        ({"tools": [{"type": "function", "name": "Bash"}], "tool_choice": "auto", "input": "hi"}, True),
        (
            {
                "input": [{"type": "additional_tools", "tools": [{"type": "function", "name": "Bash"}]}],
                "tool_choice": "auto",
                "parallel_tool_calls": True,
            },
            True,
        ),
    ],
)
def test_tool_choice_needs_tools(body: dict[str, Any], kept: bool) -> None:
    """CPA: TestNormalizeXAIToolChoiceForTools_DropsWhenToolsEmpty,
    TestNormalizeXAIToolChoiceForTools_DropsWhenToolsMissing,
    TestNormalizeXAIToolChoiceForTools_DropsOrphanedParallelToolCalls,
    TestNormalizeXAIToolChoiceForTools_KeepsWhenToolsPresent,
    TestNormalizeXAIToolChoiceForTools_KeepsWhenAdditionalToolsPresent."""
    shaped(body)
    assert ("tool_choice" in body or "parallel_tool_calls" in body) is kept
    if kept:
        assert body["tools"][0]["name"] == "Bash" and body.get("tool_choice") == "auto"
    else:
        assert "tools" not in body


def test_simplifies_codex_app_automation_update_schema() -> None:
    """CPA: TestNormalizeXAITools_SimplifiesCodexAppAutomationUpdateSchema."""
    params = {"type": "object", "oneOf": [{"properties": {"mode": {"type": "string"}}}], "$defs": {"a": {}}}
    auto = {"type": "function", "name": "automation_update", "strict": True, "parameters": params}
    exec_cmd = {
        "type": "function",
        "name": "exec_command",
        "parameters": {"type": "object", "properties": {"cmd": {}}},
    }
    body = shaped({"tools": [{"type": "namespace", "name": "codex_app", "tools": [auto]}, exec_cmd]})
    tool = body["tools"][0]
    assert tool["name"] == "codex_app__automation_update" and tool["strict"] is False
    assert tool["parameters"] == {"type": "object", "properties": {}, "additionalProperties": True}
    assert body["tools"][1]["parameters"] == exec_cmd["parameters"]


def test_simplifies_flattened_and_invalid_root_schemas() -> None:
    """CPA: TestNormalizeXAITools_SimplifiesFlattenedAndInvalidRootSchemas."""
    tools = [
        {
            "type": "function",
            "name": "codex_app__automation_update",
            "strict": True,
            "parameters": {"oneOf": [{"type": "object"}, {"type": "null"}]},
        },
        {
            "type": "function",
            "name": "nullable_lookup",
            "strict": True,
            "parameters": {"anyOf": [{"type": "object"}, {"type": ["object", "null"]}]},
        },
        {
            "type": "custom",
            "name": "nullable_custom",
            "strict": True,
            "parameters": {"oneOf": [{"type": "object"}, {"type": "null"}]},
        },
        {
            "type": "function",
            "name": "mixed_nullable",
            "strict": True,
            "parameters": {"type": "object", "oneOf": [{"required": ["query"]}, {"type": "null"}]},
        },
        {
            "type": "function",
            "name": "array_root_union",
            "strict": True,
            "parameters": {"type": ["object"], "anyOf": [{"required": ["query"]}, {"required": ["id"]}]},
        },
        {
            "type": "function",
            "name": "echo_tool",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "additionalProperties": False,
            },
        },
    ]
    out = shaped({"tools": tools})["tools"]
    assert len(out) == 6
    for tool in out[:5]:
        assert tool["type"] == "function" and tool["strict"] is False
        assert tool["parameters"]["type"] == "object" and tool["parameters"]["additionalProperties"] is True
    assert out[5] == tools[5]


def test_adds_object_type_to_root_union_branches() -> None:
    """CPA: TestNormalizeXAITools_AddsObjectTypeToRootUnionBranches,
    TestXAIExecutorPrepareResponsesRequestAddsObjectTypeToRootUnionBranches."""
    crop = {
        "type": "object",
        "additionalProperties": False,
        "required": ["imagePath", "point"],
        "oneOf": [
            {"required": ["radius"], "not": {"required": ["size"]}},
            {"required": ["size"], "not": {"required": ["radius"]}},
        ],
        "properties": {"radius": {"type": "number"}, "nested": {"oneOf": [{"required": ["value"]}, {}]}},
    }
    union = {"type": "object", "anyOf": [{"required": ["query"]}, {"required": ["id"]}]}
    tools = [
        {"type": "function", "name": "crop_around_point", "strict": True, "parameters": crop},
        {"type": "function", "name": "lookup", "strict": True, "parameters": union},
        {
            "type": "custom",
            "name": "custom_lookup",
            "strict": True,
            "parameters": {**union, "oneOf": union["anyOf"]},
        },
    ]
    out = shaped({"tools": tools})["tools"]
    for tool, key in zip(out, ("oneOf", "anyOf", "oneOf"), strict=True):
        assert [b["type"] for b in tool["parameters"][key]] == ["object", "object"] and tool["strict"] is True
        assert tool["type"] == "function"
    params = out[0]["parameters"]
    assert params["additionalProperties"] is False and len(params["required"]) == 2
    assert params["oneOf"][0]["not"] == {"required": ["size"]}
    assert "type" not in params["properties"]["nested"]["oneOf"][0]  # only the root


def test_qualifies_same_named_namespace_tools() -> None:
    """CPA: TestNormalizeXAITools_QualifiesSameNamedNamespaceTools."""
    search = {"type": "function", "name": "search", "parameters": {"type": "object"}}
    tools = [{"type": "namespace", "name": n, "tools": [search]} for n in ("mcp__exa", "mcp__docs")]
    assert [t["name"] for t in shaped({"tools": tools})["tools"]] == ["mcp__exa__search", "mcp__docs__search"]


def test_namespace_tool_choice_and_input_calls_qualified() -> None:
    """CPA: TestNormalizeXAIInputNamespaceToolCalls."""
    body = shaped(
        {
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__exa",
                    "tools": [{"type": "function", "name": "web_search_exa"}],
                }
            ],
            "tool_choice": {"type": "function", "name": "web_search_exa", "namespace": "mcp__exa"},
            "input": [
                {
                    "type": "function_call",
                    "name": "web_search_exa",
                    "namespace": "mcp__exa",
                    "call_id": "c1",
                    "arguments": "{}",
                },
                {"type": "function_call", "name": "plain_tool", "call_id": "c2", "arguments": "{}"},
            ],
        }
    )
    assert body["tool_choice"] == {"type": "function", "name": "mcp__exa__web_search_exa"}
    assert body["input"][0]["name"] == "mcp__exa__web_search_exa" and "namespace" not in body["input"][0]
    assert body["input"][1]["name"] == "plain_tool"


# ---------------------------------------------------------------- the answer


def test_restore_namespace_tool_calls() -> None:
    """CPA: TestRestoreXAINamespaceToolCalls, TestRestoreXAINamespaceToolCallsPreservesMalformedPayload."""
    plan = shape(
        {
            "tools": [
                {
                    "type": "namespace",
                    "name": "mcp__exa",
                    "tools": [{"type": "function", "name": "web_search_exa"}],
                }
            ]
        },
        "grok-4.5",
    )
    assert plan is not None
    call = {
        "type": "function_call",
        "name": "mcp__exa__web_search_exa",
        "call_id": "call_1",
        "arguments": "{}",
    }
    done = XAIStream(plan).data(orjson.dumps({"type": "response.output_item.done", "item": call}))
    assert done is not None and orjson.loads(done)["item"] | {} == {
        **call,
        "name": "web_search_exa",
        "namespace": "mcp__exa",
    }
    completed = orjson.dumps({"type": "response.completed", "response": {"output": [call]}})
    out = XAIStream(plan).data(completed)
    assert out is not None and orjson.loads(out)["response"]["output"][0]["namespace"] == "mcp__exa"
    malformed = b'{"item":{"type":"function_call","name":"mcp__exa__web_search_exa"'
    assert XAIStream(plan).data(malformed) == malformed


def test_x_search_filter_requires_native_tool() -> None:
    """CPA: TestXAIInternalXSearchResponseFilterRequiresNativeTool."""
    assert not has_x_search({"tools": [{"type": "web_search"}]})
    assert has_x_search({"tools": [{"type": "x_search"}]})
    assert shape({"tools": [{"type": "web_search"}]}, "grok-4.5") is None  # no rewriter at all
    event = b'{"type":"response.output_item.done","output_index":0,"item":{"id":"ctc_1","type":"custom_tool_call","name":"x_keyword_search"}}'
    assert XAIStream(ResponsePlan(x_search=False)).data(event) == event
    assert XAIStream(ResponsePlan(x_search=True)).data(event) is None


def test_is_internal_x_search_call_preserves_client_declared_tools() -> None:
    """CPA: TestXAIIsInternalXSearchCallPreservesClientDeclaredTools."""
    fn = {"type": "function", "name": "x_keyword_search", "parameters": {"type": "object"}}
    custom = {"type": "custom", "name": "x_keyword_search"}
    tools = declared_tools(
        {
            "tools": [
                {"type": "x_search"},
                fn,
                custom,
                {"type": "namespace", "name": "acme", "tools": [fn, custom]},
            ]
        }
    )
    assert ("", "x_keyword_search", "function") in tools and ("", "x_keyword_search", "custom") not in tools
    assert ("acme", "x_keyword_search", "function") in tools and (
        "acme",
        "x_keyword_search",
        "custom",
    ) not in tools
    assert is_x_search_trace({"type": "custom_tool_call", "name": "x_user_search"}, tools)
    assert is_x_search_trace({"type": "function_call", "name": "x_semantic_search"}, tools)
    assert not is_x_search_trace(
        {"type": "function_call", "name": "x_keyword_search", "call_id": "call_plain"}, tools
    )
    same_name = {"type": "custom_tool_call", "call_id": "xs_call-1", "name": "x_keyword_search"}
    assert is_x_search_trace(same_name, tools)
    other = {"type": "custom_tool_call", "name": "x_keyword_search", "call_id": "call_other"}
    assert is_x_search_trace(other, declared_tools({"tools": [fn]}))
    custom_only = declared_tools({"tools": [custom]})
    assert ("", "x_keyword_search", "function") in custom_only
    assert not is_x_search_trace(
        {"type": "function_call", "name": "x_keyword_search", "call_id": "c"}, custom_only
    )
    assert is_x_search_trace(other, custom_only) and is_x_search_trace(same_name, custom_only)
    namespaced = {"type": "function_call", "name": "x_keyword_search", "namespace": "acme"}
    assert not is_x_search_trace(namespaced, tools) and not is_x_search_trace(namespaced)


def test_filter_preserves_client_tools_in_completed_output() -> None:
    """CPA: TestXAIInternalXSearchResponseFilterPreservesClientToolsInCompletedOutput."""
    client = frozenset({("", "x_keyword_search", "function"), ("acme", "x_keyword_search", "function")})
    output = [
        {
            "id": "ctc_1",
            "type": "custom_tool_call",
            "call_id": "xs_call-1",
            "name": "x_keyword_search",
            "input": "{}",
        },
        {
            "id": "fc_plain",
            "type": "function_call",
            "call_id": "call_plain",
            "name": "x_keyword_search",
            "arguments": "{}",
        },
        {
            "id": "fc_ns",
            "type": "function_call",
            "call_id": "call_ns",
            "name": "x_keyword_search",
            "namespace": "acme",
            "arguments": "{}",
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "answer"}],
        },
    ]
    out = XAIStream(ResponsePlan(x_search=True, client_tools=client)).data(
        orjson.dumps({"type": "response.completed", "response": {"output": output}})
    )
    assert out is not None
    kept = orjson.loads(out)["response"]["output"]
    assert [i["id"] for i in kept] == ["fc_plain", "fc_ns", "msg_1"]


X_NAMES = ("x_user_search", "x_semantic_search", "x_keyword_search", "x_thread_fetch")


def x_search_stream() -> bytes:
    events: list[dict[str, Any]] = []
    output = []
    for i, name in enumerate(X_NAMES):
        item = {"id": f"ctc_{i}", "type": "custom_tool_call", "call_id": f"xs_call-{i}", "name": name}
        events.append(
            {"type": "response.output_item.added", "output_index": i, "item": {**item, "input": ""}}
        )
        events.append(
            {
                "type": "response.custom_tool_call_input.done",
                "output_index": i,
                "item_id": f"ctc_{i}",
                "input": "{}",
            }
        )
        events.append(
            {"type": "response.output_item.done", "output_index": i, "item": {**item, "input": "{}"}}
        )
        output.append({**item, "input": "{}", "status": "completed"})
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "answer"}],
    }
    events.append(
        {"type": "response.output_item.added", "output_index": 4, "item": {**message, "content": []}}
    )
    events.append(
        {
            "type": "response.output_text.delta",
            "output_index": 4,
            "item_id": "msg_1",
            "content_index": 0,
            "delta": "answer",
        }
    )
    events.append({"type": "response.output_item.done", "output_index": 4, "item": message})
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    response = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": [*output, message],
        "usage": usage,
    }
    events.append({"type": "response.completed", "response": response})
    return frames(*events)


def test_stream_filters_internal_x_search_calls_split_anywhere() -> None:
    """TestXAIExecutorExecuteStreamFiltersInternalXSearchCalls, the rewriter fed the
    stream cut after every line."""
    stream = x_search_stream()
    rewrite = XAIStream(ResponsePlan(x_search=True))
    lines = stream.split(b"\n")
    out = b"".join(rewrite(line + b"\n") for line in lines[:-1])
    text = out.decode()
    assert not any(name in text for name in X_NAMES) and "custom_tool_call_input" not in text
    assert "\n\n\n" not in text  # a dropped event leaves no blank line behind
    events = data_events(out)
    assert all(e["output_index"] == 0 for e in events if e.get("output_index") is not None)
    assert [i["type"] for i in events[-1]["response"]["output"]] == ["message"]


async def test_execute_stream_filters_internal_x_search_calls(xai) -> None:
    xai.fake.raw_streams = [x_search_stream()]
    request = {"model": "grok-4.5", "input": "search X", "tools": [{"type": "x_search"}], "stream": True}
    status, data = await post(xai, "/v1/responses", request)
    assert status == 200, data
    assert not any(name.encode() in data for name in X_NAMES), data
    events = data_events(data)
    assert all(e.get("output_index", 0) == 0 for e in events)
    completed = next(e for e in events if e["type"] == "response.completed")
    assert [i["type"] for i in completed["response"]["output"]] == ["message"]


async def test_execute_filters_internal_x_search_calls_for_every_client(xai) -> None:
    """TestXAIExecutorExecuteFiltersInternalXSearchCalls; a Chat Completions client too
    (with ``xai.inject-x-search`` on, every request carries the tool)."""
    xai.fake.raw_streams = [x_search_stream(), x_search_stream()]
    status, data = await post(xai, "/v1/responses", {"model": "grok-4.5", "input": "search X"})
    assert status == 200 and b"x_user_search" not in data and b"custom_tool_call" not in data, data
    answer = orjson.loads(data)
    assert len(answer["output"]) == 1 and answer["output"][0]["content"][0]["text"] == "answer"
    chat = {"model": "grok-4.5", "messages": [{"role": "user", "content": "search X"}]}
    status, data = await post(xai, "/v1/chat/completions", chat)
    message = orjson.loads(data)["choices"][0]["message"]
    assert status == 200 and message["content"] == "answer" and not message.get("tool_calls"), data


# ---------------------------------------------------------------- facts that held already


INCOMPLETE = frames(
    {
        "type": "response.output_item.done",
        "output_index": 0,
        "item": {"id": "rs_1", "type": "reasoning", "summary": []},
    },
    {
        "type": "response.incomplete",
        "response": {
            "id": "resp_1",
            "object": "response",
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [],
            "usage": {"input_tokens": 8, "output_tokens": 1, "total_tokens": 9},
        },
    },
)


@pytest.mark.parametrize("stream", [False, True])
async def test_accepts_response_incomplete(xai, stream: bool) -> None:
    """TestXAIExecutorExecuteAcceptsResponseIncomplete,
    TestXAIExecutorExecuteStreamAcceptsResponseIncomplete and
    TestXAIPatchCompletedOutput_EnsuresUsageDetails: our Responses encoder builds the
    output from the items, as CPA's patch does, with zero usage details."""
    xai.fake.raw_streams = [INCOMPLETE]
    request = {"model": "grok-4.5", "input": "hi", "max_output_tokens": 1, "stream": stream}
    status, data = await post(xai, "/v1/responses", request)
    assert status == 200, data
    final = (
        next(e for e in data_events(data) if e["type"] == "response.incomplete")["response"]
        if stream
        else orjson.loads(data)
    )
    assert final["status"] == "incomplete" and final["incomplete_details"]["reason"] == "max_output_tokens"
    assert len(final["output"]) == 1 and final["usage"]["total_tokens"] == 9
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 0  # EnsuresUsageDetails
    assert final["usage"]["input_tokens_details"]["cached_tokens"] == 0


async def test_reasoning_text_events_reach_the_client_as_summaries(xai) -> None:
    """TestXAIExecutorExecuteStreamNormalizesReasoningTextEvents: our decoder reads xAI's
    ``reasoning_text`` events and our encoder writes summary events, so no rewrite is needed."""
    item = {"id": "rs_1", "type": "reasoning", "status": "in_progress", "summary": []}
    base = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
    xai.fake.raw_streams = [
        frames(
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.content_part.added", **base, "part": {"type": "reasoning_text", "text": ""}},
            {"type": "response.reasoning_text.delta", **base, "delta": "thinking"},
            {"type": "response.reasoning_text.done", **base, "text": "thinking"},
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {
                    **item,
                    "status": "completed",
                    "content": [{"type": "reasoning_text", "text": "thinking"}],
                },
            },
            {
                "type": "response.completed",
                "response": {
                    "id": "resp_1",
                    "object": "response",
                    "status": "completed",
                    "output": [],
                    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
                },
            },
        )
    ]
    status, data = await post(xai, "/v1/responses", {"model": "grok-4.3", "input": "hello", "stream": True})
    assert status == 200 and b"reasoning_text" not in data, data
    kinds = [e["type"] for e in data_events(data)]
    for kind in ("part.added", "text.delta", "text.done", "part.done"):
        assert f"response.reasoning_summary_{kind}" in kinds
    assert kinds.index("response.reasoning_summary_text.done") < kinds.index(
        "response.reasoning_summary_part.done"
    )
    done = next(e for e in data_events(data) if e["type"] == "response.output_item.done")
    assert done["item"]["summary"] == [{"type": "summary_text", "text": "thinking"}]


# ---------------------------------------------------------------- compact (xai_executor_execute.go)

_API = "https://api.x.ai/v1"
SEALED = grok_encrypted("compaction-in")  # xAI-shaped: another backend's would be dropped
_CLI_PROXY = "https://cli-chat-proxy.grok.com/v1"
_CLI_HEADERS = ("X-XAI-Token-Auth", "x-grok-client-version", "x-grok-client-identifier")


def compact_request(cred: Credential, body: dict[str, Any], model: str = "grok-4.3"):
    return XAIProvider().build(cred, body, model=model, stream=False, client_headers={}, action="compact")


def test_compact_uses_compact_endpoint() -> None:
    """TestXAIExecutorCompactUsesCompactEndpoint: ``{base}/responses/compact``, a JSON
    request, none of ``stream`` and the sampling limits; the compaction item kept."""
    body = {
        "model": "grok-4.3",
        "stream": True,
        "max_output_tokens": 64,
        "temperature": 0.3,
        "top_p": 0.8,
        "top_k": 10,  # a payload override's, applied before the build
        "stop": ["END"],
        "input": [
            {"type": "compaction", "encrypted_content": SEALED},
            {"role": "user", "content": "hello"},
        ],
    }
    cred = Credential(id="xai:apikey:1", provider="xai", api_key="xai-token", base_url="http://gw.example/v1")
    req = compact_request(cred, body)
    assert req.url == "http://gw.example/v1/responses/compact" and not req.stream
    assert req.headers["Authorization"] == "Bearer xai-token"
    assert req.headers["Accept"] == "application/json"
    sent = orjson.loads(req.body)
    for name in ("stream", "max_output_tokens", "temperature", "top_p", "top_k", "stop"):
        assert name not in sent
    assert sent["input"][0] == {"type": "compaction", "encrypted_content": SEALED}
    assert req.rewrite_body is None  # the answer goes back as it came


def test_compact_drops_orphaned_image_generation_tool_choice() -> None:
    """TestXAIExecutorCompactDropsOrphanedImageGenerationToolChoice: on grok-4.6 the
    image tool and its forced choice survive shaping; compact drops the tools, so the
    choice (and ``parallel_tool_calls``) go too."""
    body = {
        "model": "grok-4.6",
        "input": "compact this",
        "tools": [{"type": "image_generation", "action": "generate"}],
        "tool_choice": {"type": "image_generation"},
        "parallel_tool_calls": True,
    }
    sent = orjson.loads(
        compact_request(Credential(id="x", provider="xai", api_key="k"), body, "grok-4.6").body
    )
    assert "tools" not in sent and "tool_choice" not in sent and "parallel_tool_calls" not in sent


def test_compact_drops_compaction_trigger_items() -> None:
    """``xaiRemoveInputItemsByType(body, "compaction_trigger")``: Codex's marker is not an
    item xAI knows."""
    body = {"input": [{"role": "user", "content": "hello"}, {"type": "compaction_trigger"}]}
    sent = orjson.loads(compact_request(Credential(id="x", provider="xai", api_key="k"), body).body)
    assert sent["input"] == [{"role": "user", "content": "hello"}]


def test_compact_oauth_uses_official_api_headers_not_cli_proxy() -> None:
    """TestXAIExecutorCompactOAuthUsesOfficialAPIHeadersNotCLIProxy: an OAuth account
    compacts on its custom base with the API's headers, none of the Grok CLI's."""
    cred = Credential(
        id="xai-a.json",
        provider="xai",
        kind=KIND_OAUTH,
        base_url="http://gw.example/v1",
        metadata={"auth_kind": "oauth", "access_token": "oauth-token"},
    )
    req = compact_request(cred, {"input": [{"role": "user", "content": "hi"}]}, "grok-4.5")
    assert req.url == "http://gw.example/v1/responses/compact"
    assert req.headers["Authorization"] == "Bearer oauth-token"
    for name in _CLI_HEADERS:
        assert name not in req.headers
    assert "xai-grok-workspace/" not in req.headers.get("User-Agent", "")


def _oauth(base: str = "", **meta: Any) -> Credential:
    metadata = {"auth_kind": "oauth", "access_token": "oat", **meta}
    return Credential(id="xai-o.json", provider="xai", kind=KIND_OAUTH, base_url=base, metadata=metadata)


@pytest.mark.parametrize(
    ("cred", "want"),
    [
        (Credential(id="x", provider="xai", api_key="k"), _API),  # empty base: the public API
        (_oauth(_API), _API),  # OAuth on the official default stays there for compact
        (_oauth(_API, using_api="false"), _API),
        (_oauth(_CLI_PROXY), _API),  # an explicit CLI chat proxy is rewritten
        (_oauth(_CLI_PROXY + "/"), _API),
        (_oauth("https://gateway.example.com/v1"), "https://gateway.example.com/v1"),
    ],
)
def test_compact_base_url(cred: Credential, want: str) -> None:
    """TestXAICompactBaseURL: compact never goes to the CLI chat proxy (its 404 would cool
    every account), whatever base chat uses."""
    provider = XAIProvider()
    assert provider.compact_base_url(cred) == want
    assert compact_request(cred, {"input": "hi"}).url == want + "/responses/compact"


async def test_compact_through_the_proxy(xai) -> None:
    """TestXAIExecutorCompactUsesCompactEndpoint through a running proxy: no 501 any
    more; the fake's ``response.compaction`` reaches the client as it came."""
    items = [{"type": "compaction", "encrypted_content": SEALED}, {"role": "user", "content": "hello"}]
    body = {"model": "grok-4.3", "input": items}
    status, raw = await post(xai, "/v1/responses/compact", body)
    assert status == 200, raw
    answer = orjson.loads(raw)
    assert answer["object"] == "response.compaction"
    assert answer["output"][-1]["type"] == "compaction"
    sent = xai.fake.last
    assert sent.path == "/v1/responses/compact"
    assert "stream" not in sent.json and "tools" not in sent.json  # x_search injected, then dropped
    assert sent.json["input"][0] == {"type": "compaction", "encrypted_content": SEALED}


async def test_compact_failure_reaches_the_client(xai) -> None:
    """TestXAIExecutorCompactFailureRetainsReplay: a failed compact is the upstream's
    error (here a 500 with its message). We keep no xAI reasoning replay cache, so there
    is nothing to retain or clear."""
    xai.fake.fail_next(500, message="compact failed", path="/responses/compact")
    status, raw = await post(xai, "/v1/responses/compact", {"model": "grok-4.3", "input": "compact"})
    assert status == 500
    assert b"compact failed" in raw


async def test_post_compact_turn_is_sent_as_the_client_sent_it(xai) -> None:
    """TestXAIExecutorCompactClearsReplayBeforePostCompactTurn: after a compact the next
    turn carries the compaction item and the new message only (no pre-compact state)."""
    compact_body = {
        "model": "grok-4.3",
        "prompt_cache_key": "s",
        "input": [{"role": "user", "content": "old"}],
    }
    status, raw = await post(xai, "/v1/responses/compact", compact_body)
    assert status == 200, raw
    compaction = orjson.loads(raw)["output"][-1]
    turn = [
        compaction,
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]},
    ]
    status, raw = await post(
        xai, "/v1/responses", {"model": "grok-4.3", "prompt_cache_key": "s", "input": turn}
    )
    assert status == 200, raw
    sent = xai.fake.last
    assert sent.path == "/v1/responses"
    assert [i.get("type") for i in sent.json["input"]] == ["compaction", "message"]


# ---------------------------------------------------------------- xai_executor_test.go: session ids


def session_request(
    client_body: dict[str, Any], model: str, headers: dict[str, str] | None = None, action: str = "generate"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The upstream body and headers for ``client_body``: carried as the pipeline does
    (the attempt's body is a translated copy), then built. No client format is given, so
    no derived session, as in CPA's executor tests, which do not run ``session.Enrich``."""
    headers = headers or {}
    body = {"model": model, "input": "hello"}
    if action == "compact":
        body = dict(client_body)
    else:
        xai_session.carry(body, client_body, headers, model)
    req = XAIProvider().build(
        Credential(id="x", provider="xai", api_key="xai-token"),
        body,
        model=model,
        stream=True,
        client_headers=headers,
        action=action,
    )
    return orjson.loads(req.body), req.headers


def test_composer_generates_fresh_session() -> None:
    """TestXAIExecutorComposerSessionIsolation/composer_generates_fresh_session."""
    body, headers = session_request(
        {"model": "grok-composer-2.5-fast", "input": "hello"}, "grok-composer-2.5-fast"
    )
    session = body["prompt_cache_key"]
    assert str(uuid.UUID(session)) == session and headers["x-grok-conv-id"] == session
    again, _ = session_request(
        {"model": "grok-composer-2.5-fast", "input": "hello"}, "grok-composer-2.5-fast"
    )
    assert again["prompt_cache_key"] != session  # isolated: one per request


def test_grok_build_stays_stateless_without_session() -> None:
    """TestXAIExecutorComposerSessionIsolation/grok_build_stays_stateless_without_session."""
    body, headers = session_request({"model": "grok-build-0.1", "input": "hello"}, "grok-build-0.1")
    assert "prompt_cache_key" not in body and "x-grok-conv-id" not in headers


def test_explicit_prompt_cache_key_is_preserved() -> None:
    """TestXAIExecutorComposerSessionIsolation/explicit_prompt_cache_key_is_preserved, and
    TestXAIExecutionSessionIDUsesDerivedStableUUID's explicit and blank keys without a
    derived session (no client format given; the derived part is in
    test_xai_derived_session.py)."""
    client = {"model": "grok-composer-2.5-fast", "prompt_cache_key": "client-session", "input": "hello"}
    body, headers = session_request(client, "grok-composer-2.5-fast")
    assert body["prompt_cache_key"] == "client-session" and headers["x-grok-conv-id"] == "client-session"
    assert xai_session.session_id({"prompt_cache_key": "client-session"}, {}, "grok-4.3") == "client-session"
    assert xai_session.session_id({"prompt_cache_key": "   "}, {}, "grok-4.3") == ""


def test_composer_reuses_claude_code_session() -> None:
    """TestXAIExecutorComposerReusesClaudeCodeSession: one Claude Code session, one key
    (the one a Codex upstream gets), sent as the header too."""
    model = "grok-composer-2.5-fast"
    client = {"model": model, "metadata": {"user_id": '{"session_id":"cache-session-1"}'}, "messages": []}
    first, headers = session_request(client, model)
    second, _ = session_request(client, model)
    key = first["prompt_cache_key"]
    assert key and second["prompt_cache_key"] == key and headers["x-grok-conv-id"] == key
    assert key == codex_cache.claude_code_key(client, {}, model)


def test_execution_session_is_the_conversation() -> None:
    """TestXAIExecutorExecuteShapesResponsesRequest's session part: a client on the
    Responses WebSocket names its conversation by its downstream socket, as it is."""
    body, headers = session_request({"input": "hello"}, "grok-4.3", {SESSION_HEADER: "conv-xai-1"})
    assert body["prompt_cache_key"] == "conv-xai-1" and headers["x-grok-conv-id"] == "conv-xai-1"


def test_compact_carries_the_client_key() -> None:
    """TestXAIExecutorCompact*'s ``prompt_cache_key``: the compact request's own key."""
    client = {"model": "grok-4.3", "prompt_cache_key": "compact-session", "input": []}
    body, headers = session_request(client, "grok-4.3", action="compact")
    assert body["prompt_cache_key"] == "compact-session" and headers["x-grok-conv-id"] == "compact-session"


def claude_code_turn(session: str, text: str) -> tuple[dict[str, Any], dict[str, str]]:
    user_id = orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session}).decode()
    body = {
        "model": "grok-composer-2.5-fast",
        "max_tokens": 64,
        "metadata": {"user_id": user_id},
        "messages": [{"role": "user", "content": text}],
    }
    return body, {"X-Claude-Code-Session-Id": session}


def codex_turn(session: str, text: str) -> tuple[dict[str, Any], dict[str, str]]:
    body = {
        "model": "grok-4.3",
        "stream": False,
        "prompt_cache_key": session,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
    }
    return body, {"session_id": session}


@pytest.mark.parametrize(
    ("path", "turn"), [("/v1/messages", claude_code_turn), ("/v1/responses", codex_turn)]
)
async def test_client_sessions_through_the_proxy(xai, path: str, turn: Any) -> None:
    """A Claude Code session on a composer model and a Codex CLI session: one key (body)
    and conversation (header) across a session's turns, another for another session."""
    seen: list[tuple[str, str]] = []
    for session, text in (("sess-a", "first"), ("sess-a", "second"), ("sess-b", "first")):
        body, extra = turn(session, text)
        async with aiohttp.ClientSession() as client:
            headers = {"Authorization": f"Bearer {KEY}", **extra}
            async with client.post(xai.url + path, json=body, headers=headers) as resp:
                assert resp.status == 200, await resp.read()
        sent = xai.fake.last
        seen.append((sent.json["prompt_cache_key"], sent.headers["x-grok-conv-id"]))
    (a1, c1), (a2, c2), (b1, cb) = seen
    assert a1 == c1 and a1 == a2 == c2 and b1 == cb and b1 != a1
