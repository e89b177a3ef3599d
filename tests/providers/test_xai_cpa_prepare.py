"""CPA's xAI executor cases (``internal/runtime/executor/xai_executor_test.go``) that
test_xai_cpa_executor.py (and test_xai_cpa_headers.py, test_xai_cpa_media.py) do not hold:
what of a client's request reaches xAI (output controls, ``stop``, reasoning effort, the
tool list and ``tool_choice``), and a client's own tools named as X Search's, through a
running proxy against the fake Responses upstream where a client sees the result.
"""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest

from cliproxy.providers.xai_request import qualify, shape
from tests.e2e.clients import KEY
from tests.providers.test_xai_cpa_executor import SHAPES, data_events, frames, post

_CLI_ONLY = (
    "X-XAI-Token-Auth",
    "x-grok-client-version",
    "x-grok-client-identifier",
    "x-authenticateresponse",
)


def xai_config(base: str, extra: str = "") -> str:
    return f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{base}/v1"\n' + extra


# ---------------------------------------------------------------- tools and tool_choice


def shaped(body: dict[str, Any], model: str = "grok-4.5", x_search: bool = False) -> dict[str, Any]:
    shape(body, model, x_search=x_search)
    return body


def test_grok_4_6_keeps_native_image_generation_and_its_choice() -> None:
    """CPA: TestXAIExecutorPrepareKeepsNativeImageGenerationForGrok46: the tool with its
    ``action``, and the forced choice as ``allowed_tools`` (xAI has no hosted choice)."""
    body = shaped(
        {
            "input": "draw a red circle",
            "tools": [{"type": "image_generation", "action": "generate"}],
            "tool_choice": {"type": "image_generation"},
        },
        "grok-4.6",
    )
    assert body["tools"] == [{"type": "image_generation", "action": "generate"}]
    assert body["tool_choice"] == {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "image_generation"}],
    }


def test_promote_additional_tools() -> None:
    """CPA: TestPromoteXAIAdditionalTools: every ``additional_tools`` item leaves the input
    and its tools join the top-level list after the client's, flattened and as functions."""
    lookup = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    search = {"type": "function", "name": "search", "parameters": {"type": "object"}}
    body = shaped(
        {
            "tools": [lookup],
            "input": [
                {
                    "type": "additional_tools",
                    "role": "developer",
                    "tools": [{"type": "namespace", "name": "mcp__exa", "tools": [search]}],
                },
                {"role": "user", "content": "hello"},
                {
                    "type": "additional_tools",
                    "role": "developer",
                    "tools": [{"type": "custom", "name": "custom_lookup"}],
                },
            ],
        }
    )
    assert body["input"] == [{"role": "user", "content": "hello"}]
    assert [t["name"] for t in body["tools"]] == ["lookup", "mcp__exa__search", "custom_lookup"]
    assert body["tools"][2]["type"] == "function" and "parameters" in body["tools"][2]


def test_namespace_tool_choice() -> None:
    """CPA: TestNormalizeXAINamespaceToolChoice."""
    search = {"type": "function", "name": "search", "parameters": {"type": "object"}}
    body = shaped(
        {
            "tools": [{"type": "namespace", "name": "mcp__exa", "tools": [search]}],
            "tool_choice": {"type": "function", "name": "search", "namespace": "mcp__exa"},
        }
    )
    assert body["tools"][0]["name"] == "mcp__exa__search"
    assert body["tool_choice"] == {"type": "function", "name": "mcp__exa__search"}


def test_namespace_tool_choice_allowed_tools() -> None:
    """CPA: TestNormalizeXAINamespaceToolChoiceAllowedTools: each namespaced function of
    ``allowed_tools`` qualified once (an already qualified name stays), others as sent."""
    fn = {"type": "function", "parameters": {"type": "object"}}
    body = shaped(
        {
            "tools": [
                {"type": "namespace", "name": "mcp__exa", "tools": [{**fn, "name": "search"}]},
                {
                    "type": "namespace",
                    "name": "collaboration",
                    "tools": [{**fn, "name": "collaboration__send_message"}],
                },
                {**fn, "name": "lookup"},
                {"type": "web_search"},
            ],
            "tool_choice": {
                "type": "allowed_tools",
                "tools": [
                    {"type": "function", "name": "search", "namespace": "mcp__exa"},
                    {"type": "function", "name": "collaboration__send_message", "namespace": "collaboration"},
                    {"type": "function", "name": "lookup"},
                    {"type": "web_search", "namespace": "ignored"},
                ],
            },
        }
    )
    assert body["tool_choice"]["tools"] == [
        {"type": "function", "name": "mcp__exa__search"},
        {"type": "function", "name": "collaboration__send_message"},
        {"type": "function", "name": "lookup"},
        {"type": "web_search", "namespace": "ignored"},
    ]


@pytest.mark.parametrize(
    "choice",
    ["auto", {"type": "function", "name": "search"}],
    ids=["automatic", "top-level-function"],
)
def test_namespace_tool_choice_preserves_other_choices(choice: Any) -> None:
    """CPA: TestNormalizeXAINamespaceToolChoice_PreservesOtherChoices (a choice of a tool
    that is offered; its malformed-JSON row has no counterpart: a body here is parsed)."""
    body = shaped(
        {
            "tools": [{"type": "function", "name": "search", "parameters": {"type": "object"}}],
            "tool_choice": choice,
        }
    )
    assert body["tool_choice"] == choice


@pytest.mark.parametrize(
    ("namespace", "tool", "want"),
    [
        ("mcp__exa", "search", "mcp__exa__search"),
        ("mcp__exa", "mcp__exa__search", "mcp__exa__search"),
        ("collaboration", "collaboration__send_message", "collaboration__send_message"),
        ("collaboration__", "send_message", "collaboration__send_message"),
        ("exa", "example_tool", "exa__example_tool"),
    ],
)
def test_qualify_preserves_qualified_names(namespace: str, tool: str, want: str) -> None:
    """CPA: TestQualifyXAINamespaceToolNamePreservesQualifiedNames."""
    assert qualify(namespace, tool) == want


_CRON = {
    "type": "object",
    "properties": {"cron": {"type": "string"}},
    "required": ["cron"],
    "additionalProperties": False,
}
_LARGE = {
    "oneOf": [{"type": "object", "properties": {"mode": {"type": "string"}}}],
    "$defs": {"a": {"type": "string"}},
    "x": "y" * 1600,
}


@pytest.mark.parametrize(
    ("tool", "params"),
    [
        ({"type": "function", "name": "automation_update", "strict": True, "parameters": _CRON}, _CRON),
        (
            {
                "type": "namespace",
                "name": "calendar",
                "tools": [
                    {"type": "function", "name": "automation_update", "strict": True, "parameters": _CRON}
                ],
            },
            _CRON,
        ),
        (
            {
                "type": "namespace",
                "name": "codex_app",
                "tools": [
                    {"type": "custom", "name": "automation_update", "strict": True, "parameters": _CRON}
                ],
            },
            _CRON,
        ),
        (
            {
                "type": "namespace",
                "name": "codex_app",
                "tools": [{"type": "function", "name": "exec_command", "strict": True, "parameters": _LARGE}],
            },
            _LARGE,
        ),
    ],
    ids=["top-level", "other-namespace", "custom-in-codex_app", "large-schema-in-codex_app"],
)
def test_unrelated_schemas_are_kept(tool: dict[str, Any], params: dict[str, Any]) -> None:
    """CPA: TestNormalizeXAITools_PreservesUnrelatedSchemas and the negative rows of
    TestXAIFunctionParametersNeedSimplification: only Codex Desktop's
    ``codex_app.automation_update`` function (or a root union xAI refuses) is simplified."""
    out = shaped({"tools": [tool]})["tools"][0]
    assert out["strict"] is True and out["parameters"] == params


@pytest.mark.parametrize(
    ("tool", "simplified"),
    [
        (
            {
                "type": "namespace",
                "name": "codex_app",
                "tools": [{"type": "function", "name": "automation_update"}],
            },
            True,
        ),
        ({"type": "function", "name": "codex_app__automation_update"}, True),
        (
            {
                "type": "custom",
                "name": "nullable_lookup",
                "parameters": {"oneOf": [{"type": "object"}, {"type": "null"}]},
            },
            True,
        ),
        (
            {
                "type": "function",
                "name": "l",
                "parameters": {"anyOf": [{"type": "object"}, {"type": ["object", "null"]}]},
            },
            True,
        ),
        (
            {"type": "function", "name": "l", "parameters": {"oneOf": [{"type": "object"}, {"const": None}]}},
            True,
        ),
        (
            {
                "type": "function",
                "name": "l",
                "parameters": {"oneOf": [{"type": "object"}, {"type": "object"}]},
            },
            False,
        ),
        (
            {
                "type": "function",
                "name": "l",
                "parameters": {
                    "type": "object",
                    "properties": {"v": {"oneOf": [{"type": "string"}, {"type": "null"}]}},
                },
            },
            False,
        ),
        (
            {
                "type": "namespace",
                "name": "codex_app",
                "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
            },
            False,
        ),
    ],
)
def test_function_parameters_need_simplification(tool: dict[str, Any], simplified: bool) -> None:
    """CPA: TestXAIFunctionParametersNeedSimplification: simplified means the permissive
    object schema in place of the tool's."""
    params = shaped({"tools": [tool]})["tools"][0]["parameters"]
    loose = params == {"type": "object", "properties": {}, "additionalProperties": True}
    assert loose is simplified


def test_no_tool_choice_and_no_tools_is_left_alone() -> None:
    """CPA: TestNormalizeXAIToolChoiceForTools_NoOpWhenBothAbsent."""
    assert shaped({"model": "grok-4", "input": "hi"}) == {"model": "grok-4", "input": "hi"}


# ---------------------------------------------------------------- what reaches xAI


@pytest.mark.parametrize(
    ("extra", "want", "absent"),
    [
        (
            {
                "max_completion_tokens": 64,
                "max_tokens": 128,
                "temperature": 0,
                "top_p": 0.25,
                "top_k": 7,
                "stop": ["END"],
            },
            {"max_output_tokens": 64, "temperature": 0, "top_p": 0.25, "top_k": 7},
            ("max_completion_tokens", "max_tokens", "stop"),
        ),
        (
            {"max_completion_tokens": None, "max_tokens": 128},
            {"max_output_tokens": 128},
            ("max_completion_tokens", "max_tokens", "temperature", "top_p", "top_k"),
        ),
        ({}, {}, ("max_output_tokens", "temperature", "top_p", "top_k", "stop")),
    ],
    ids=["max_completion_tokens-wins", "max_tokens-fallback", "none"],
)
async def test_chat_client_output_controls(start_proxy, fake_openai, extra, want, absent) -> None:
    """CPA: TestXAIExecutorPrepareResponsesRequestPreservesSupportedOutputControls, the
    Chat Completions rows, with the openai SDK: the output limit, sampling and ``top_k``
    reach xAI as Responses fields; ``stop`` (which xAI refuses) does not."""
    proxy = await start_proxy(xai_config(fake_openai.base_url))
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        done = await client.chat.completions.create(
            model="grok-4.5", messages=[{"role": "user", "content": "hello"}], extra_body=extra
        )
    assert done.choices[0].message.content
    sent = fake_openai.last.json
    assert {k: sent.get(k) for k in want} == want, sent
    assert not [k for k in absent if k in sent], sent


async def test_responses_client_output_controls_and_stop_rule(start_proxy, fake_openai) -> None:
    """CPA: TestXAIExecutorPrepareResponsesRequestPreservesSupportedOutputControls (the
    Responses row) and TestXAIExecutorPrepareResponsesRequestDropsPayloadStopOverride: a
    Responses client's controls as sent, and ``stop`` gone, whether the client or a
    payload rule put it there."""
    rule = "payload:\n  override:\n    - models: [{name: grok-4.5}]\n      params: {stop: [END]}\n"
    proxy = await start_proxy(xai_config(fake_openai.base_url, rule))
    controls = {"max_output_tokens": 256, "temperature": 0.4, "top_p": 0.8, "top_k": 20}
    for extra in ({**controls, "stop": ["END"]}, {}):
        status, data = await post(proxy, "/v1/responses", {"model": "grok-4.5", "input": "hello", **extra})
        assert status == 200, data
        sent = fake_openai.last.json
        assert "stop" not in sent, sent
        assert {k: sent.get(k) for k in controls} == ({**controls} if extra else dict.fromkeys(controls))


@pytest.mark.parametrize(
    ("model", "body", "upstream", "effort"),
    [
        (
            "grok-4.20-0309-non-reasoning",
            {"reasoning": {"effort": "high"}},
            "grok-4.20-0309-non-reasoning",
            None,
        ),
        ("grok-composer-2.5-fast", {"reasoning": {"effort": "high"}}, "grok-composer-2.5-fast", None),
        ("grok-4.5", {"reasoning": {"effort": "high"}}, "grok-4.5", "high"),
        ("grok-3-mini", {"reasoning": {"effort": "low"}}, "grok-3-mini", "low"),
        ("grok-4.3(low)", {}, "grok-4.3", "low"),
    ],
    ids=["non-reasoning-unsupported", "composer-unsupported", "grok-4.5", "grok-3-mini", "suffix"],
)
async def test_reasoning_effort_by_model(start_proxy, fake_openai, model, body, upstream, effort) -> None:
    """CPA: TestXAIExecutorOmitsUnsupportedReasoningEffort, TestXAIExecutorKeepsReasoningEffortForGrok45,
    TestXAIExecutorAppliesThinkingSuffix and TestXAISupportsReasoningEffortUsesModelRegistry
    (through the proxy: the catalog's thinking levels decide): a model without reasoning
    levels gets no ``reasoning``; a ``(level)`` suffix becomes the effort. CPA's unsupported
    model is ``grok-4``, which is not in our catalog (a request for it is a 400 here, as
    routing finds no provider); ``grok-4.20-0309-non-reasoning`` is its row of the
    registry table."""
    proxy = await start_proxy(xai_config(fake_openai.base_url))
    status, data = await post(proxy, "/v1/responses", {"model": model, "input": "hello", **body})
    assert status == 200, data
    sent = fake_openai.last.json
    assert sent["model"] == upstream
    assert (sent.get("reasoning") or {}).get("effort") == effort, sent
    if effort is None:
        assert "reasoning" not in sent, sent


async def test_payload_rule_reasoning_effort_is_kept(start_proxy, fake_openai) -> None:
    """CPA: TestXAIExecutorKeepsPayloadOverrideReasoningEffortForGrok45."""
    rule = (
        'payload:\n  override:\n    - models: [{name: grok-4.5}]\n      params: {"reasoning.effort": high}\n'
    )
    proxy = await start_proxy(xai_config(fake_openai.base_url, rule))
    status, data = await post(proxy, "/v1/responses", {"model": "grok-4.5", "input": "hello"})
    assert status == 200, data
    assert fake_openai.last.json["reasoning"]["effort"] == "high"


# ---------------------------------------------------------------- a client's tools named as X Search's


def _same_name_stream(items: list[dict[str, Any]]) -> bytes:
    events = [
        {"type": "response.output_item.done", "output_index": i, "item": {**item, "status": "completed"}}
        for i, item in enumerate(items)
    ]
    response = {"id": "resp_1", "object": "response", "status": "completed", "output": items}
    return frames(*events, {"type": "response.completed", "response": response})


_TRACE = {
    "id": "ctc_1",
    "type": "custom_tool_call",
    "call_id": "xs_call-1",
    "name": "x_keyword_search",
    "input": "{}",
}
_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "answer"}],
}


def _call(item_id: str, call_id: str, name: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "call_id": call_id, "name": name, "arguments": "{}"}


_DECLARED = {
    "namespaced": (
        [
            {"type": "x_search"},
            {"type": "function", "name": "x_keyword_search", "parameters": {"type": "object"}},
            {
                "type": "namespace",
                "name": "acme",
                "tools": [{"type": "function", "name": "x_keyword_search", "parameters": {"type": "object"}}],
            },
        ],
        [
            _TRACE,
            _call("fc_ns", "call_ns", "acme__x_keyword_search"),
            _call("fc_plain", "call_plain", "x_keyword_search"),
            _MESSAGE,
        ],
        [("call_ns", "acme"), ("call_plain", None)],
    ),
    "custom": (
        [{"type": "x_search"}, {"type": "custom", "name": "x_keyword_search"}],
        [_TRACE, _call("fc_custom", "call_custom", "x_keyword_search"), _MESSAGE],
        [("call_custom", None)],
    ),
}


def _client_calls(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    out = []
    for item in items:
        assert item["type"] != "custom_tool_call", item
        if item["type"] in ("function_call", "custom_tool_call"):
            assert item["name"] == "x_keyword_search"
            out.append((item["call_id"], item.get("namespace")))
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["execute", "stream"])
@pytest.mark.parametrize("case", ["namespaced", "custom"])
async def test_client_tools_named_as_x_search_survive(
    start_proxy, fake_openai, case: str, stream: bool
) -> None:
    """CPA: TestXAIExecutorExecutePreservesClientSameNameToolsWithXSearch,
    TestXAIExecutorExecuteStreamPreservesClientSameNameToolsWithXSearch,
    TestXAIExecutorExecutePreservesNormalizedCustomSameNameToolWithXSearch and
    TestXAIExecutorExecuteStreamPreservesNormalizedCustomSameNameToolWithXSearch: X
    Search's own ``x_keyword_search`` trace is hidden, the client's function (plain, in a
    namespace, or its custom tool sent as a function) of the same name reaches it."""
    tools, items, want = _DECLARED[case]
    fake_openai.raw_streams = [_same_name_stream(items)]
    proxy = await start_proxy(xai_config(fake_openai.base_url))
    body = {"model": "grok-4.5", "input": "search X", "tools": tools, "stream": stream}
    status, data = await post(proxy, "/v1/responses", body)
    assert status == 200, data
    sent = fake_openai.last.json["tools"]
    assert ("custom" in [t["type"] for t in sent]) is False
    assert any(t["type"] == "function" and t["name"] == "x_keyword_search" for t in sent)
    assert b"xs_call" not in data and b"custom_tool_call" not in data, data
    if stream:
        events = data_events(data)
        done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
        assert sorted(_client_calls(done), key=str) == sorted(want, key=str)
        output = next(e for e in events if e["type"] == "response.completed")["response"]["output"]
    else:
        output = orjson.loads(data)["output"]
    assert sorted(_client_calls(output), key=str) == sorted(want, key=str)
    assert len(output) == len(items) - 1


async def test_stream_request_shaped_with_x_search(start_proxy, fake_openai) -> None:
    """CPA: TestXAIExecutorExecuteStreamFiltersToolSearchTool: a streamed Codex-style
    request reaches xAI shaped as a whole one does (test_execute_shapes_responses_request),
    with X Search added; a reasoning item after the user's message is not merged into the
    one before it."""
    proxy = await start_proxy(xai_config(fake_openai.base_url, "xai:\n  inject-x-search: true\n"))
    separate = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "separate"}]}
    body = {**SHAPES, "input": [*SHAPES["input"], separate], "stream": True}
    body.pop("tool_choice")
    status, data = await post(proxy, "/v1/responses", body)
    assert status == 200 and b"response.completed" in data, data
    sent = fake_openai.last.json
    first = sent["input"][0]
    assert "content" not in first and "encrypted_content" not in first
    assert [s["text"] for s in first["summary"]] == ["test", "second"]
    assert sent["input"][1]["role"] == "user"
    assert [s["text"] for s in sent["input"][2]["summary"]] == ["separate"]
    tools = sent["tools"]
    assert len(tools) == 6 and {t["type"] for t in tools} == {"function", "web_search", "x_search"}
    names = {t.get("name") for t in tools}
    assert {
        "codex_app__automation_update",
        "codex_app__namespace_custom",
    } <= names and "apply_patch" not in names
