"""CPA's Interactions translator cases for Antigravity
(``internal/translator/antigravity/interactions``), run through our IR hub and the
Antigravity provider's envelope.

Where we differ on purpose the case says why in its docstring.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.translate.gemini.build import for_antigravity
from cliproxy.translate.registry import default_registry
from tests.translate.cpa._run import GEMINI, feeds, get, resp

I = Format.INTERACTIONS  # noqa: E741
STREAM = {"model": "gemini-3.5-flash", "input": "hi", "stream": True}


# ------------------------------------------------------------------ Antigravity

CRED = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})


def _antigravity(body: dict[str, Any], stream: bool = False) -> tuple[str, dict[str, Any]]:
    """The URL and body Antigravity gets for an Interactions body, translated as the
    pipeline does (Gemini builder for Antigravity, then the provider's envelope)."""
    reg = default_registry()
    parsed = reg.adapter(I).parse_request(body)
    parsed.model = "gemini-3-flash"
    gemini = reg.adapter(GEMINI).build_request(for_antigravity(parsed))
    up = AntigravityProvider().build(CRED, gemini, model="gemini-3-flash", stream=stream, client_headers={})
    return up.url, orjson.loads(up.body)


def test_antigravity_tool_turn():
    """TestConvertInteractionsRequestToAntigravityWithToolMessagesDirect.
    Differs: the schema goes as ``parameters`` (the provider's Antigravity schema step, see
    test_antigravity_tool_names.py), not ``parametersJsonSchema``."""
    _, body = _antigravity(
        {
            "model": "antigravity-test",
            "system_instruction": "be brief",
            "input": [
                {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
                {"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": {"q": "x"}},
                {"type": "function_result", "name": "lookup", "call_id": "call_1", "result": {"ok": True}},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                }
            ],
        }
    )
    r = body["request"]
    assert (
        get(r, "systemInstruction.parts.0.text") == "be brief" and get(r, "contents.0.parts.0.text") == "hi"
    )
    assert get(r, "contents.1.parts.0.functionCall.name") == "lookup"
    assert get(r, "contents.2.parts.0.functionResponse.name") == "lookup"
    decl = get(r, "tools.0.functionDeclarations.0")
    assert decl["name"] == "lookup" and get(decl, "parameters.properties.q.type") == "string"


def test_antigravity_generation_config():
    """TestConvertInteractionsRequestToAntigravityPreservesGenerationConfig (the executor
    case, TestAntigravityExecutorExecuteStreamTranslatesInteractionsRequest, runs through
    the proxy in tests/e2e/test_interactions_native_cpa.py).
    Differs: ``maxOutputTokens`` is not sent to a Gemini model on Antigravity (the
    provider drops it as CPA's executor does after the translator); the level is in
    Gemini's enum spelling."""
    url, body = _antigravity(
        {
            "model": "antigravity-test",
            "input": "hi",
            "generation_config": {
                "max_output_tokens": 16,
                "top_p": 0.8,
                "tool_choice": "auto",
                "thinking_level": "high",
                "thinking_summaries": "auto",
            },
            "stream": True,
        },
        stream=True,
    )
    r = body["request"]
    assert "input" not in body and "input" not in r and "stream" not in r
    assert url.endswith(":streamGenerateContent?alt=sse")
    cfg = r["generationConfig"]
    assert not {"toolChoice", "thinkingLevel", "thinkingSummaries", "maxOutputTokens"} & cfg.keys()
    assert get(r, "contents.0.parts.0.text") == "hi" and cfg["topP"] == 0.8
    assert (
        cfg["thinkingConfig"]["thinkingLevel"].lower() == "high"
        and cfg["thinkingConfig"]["includeThoughts"] is True
    )
    assert get(r, "toolConfig.functionCallingConfig.mode") == "AUTO"


@pytest.mark.parametrize(("summaries", "shown"), [(None, None), ("auto", True), ("none", False)])
def test_antigravity_summary_is_independent_of_level(summaries, shown):
    """TestConvertInteractionsReasoningToAntigravityKeepsSummaryIndependent: the level alone
    leaves ``includeThoughts`` unset; only a summary setting writes it.
    Differs: the level is read from ``generation_config`` (the API's place), not from CPA's
    Antigravity-only top-level ``reasoning.effort`` alias, so every upstream reads the same
    fields (and the thinking step checks it against the model)."""
    cfg: dict[str, Any] = {"thinking_level": "high"}
    if summaries:
        cfg["thinking_summaries"] = summaries
    _, body = _antigravity({"model": "antigravity-test", "input": "hi", "generation_config": cfg})
    thinking = get(body, "request.generationConfig.thinkingConfig")
    assert thinking["thinkingLevel"].lower() == "high" and thinking.get("includeThoughts") is shown


def test_antigravity_openai_file_part_is_refused():
    """interactions_antigravity_file_data_test.go TestConvertInteractionsRequestToAntigravityNormalizesOpenAIFileDataURL.
    Differs: an OpenAI ``file`` part is not Interactions content; a 400 names it (as for
    a Gemini upstream)."""
    part = {
        "type": "file",
        "file": {"filename": "test.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
    }
    with pytest.raises(RequestError, match="unsupported content type 'file'"):
        _antigravity({"model": "g", "input": [{"type": "user_input", "content": [part]}]})


def test_antigravity_name_mapping_keeps_one_name():
    """TestConvertInteractionsRequestToAntigravityPreservesNameMappingWhitespace: a name
    with spaces and a slash maps to one Gemini name, the same in the declaration, the call
    and the allowed list."""
    name = " read/file "
    _, body = _antigravity(
        {
            "input": [{"type": "function_call", "name": name, "arguments": {}}],
            "tools": [{"type": "function", "name": name, "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "function": {"name": name}},
        }
    )
    r = body["request"]
    decl = get(r, "tools.0.functionDeclarations.0.name")
    call = next(p["functionCall"]["name"] for c in r["contents"] for p in c["parts"] if "functionCall" in p)
    assert decl and call == decl and get(r, "toolConfig.functionCallingConfig.allowedFunctionNames") == [decl]


def test_antigravity_non_string_call_name_is_refused():
    """noop_optimization_test.go TestRewriteInteractionsFunctionNamesNormalizesNonStringNames.
    Differs: a ``function_call`` step whose name is not a string is a 400 naming it (the
    Interactions API's own rule), not sent as the string ``"true"``.
    (TestRewriteInteractionsFunctionNamesReusesNormalizedPayload is about Go's byte slices: n.a.)"""
    with pytest.raises(RequestError, match=r"input\[0\]\.name") as info:
        _antigravity({"input": [{"type": "function_call", "name": True, "arguments": {}}]})
    assert info.value.status == 400


def test_antigravity_answers_to_interactions():
    """TestConvertAntigravityResponseToInteractionsNonStream, TestConvertAntigravityResponseToInteractionsStream,
    TestConvertAntigravityResponseToInteractionsStreamFunctionCallStartHasCallID: once the
    provider has taken the answer out of its ``response`` envelope (tests/e2e
    test_interactions.py test_sdk_through_antigravity), the Gemini reader writes the steps."""
    text = {"text": "ok"}
    call = {"functionCall": {"name": "lookup", "id": "call_1", "args": {"q": "x"}}}
    answer = {
        "responseId": "resp_1",
        "candidates": [{"content": {"role": "model", "parts": [text, call]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
    }
    out = resp(GEMINI, I, answer, {"model": "antigravity-test", "input": "hi"})
    assert get(out, "steps.0.content.0.text") == "ok" and get(out, "steps.1.type") == "function_call"
    assert get(out, "usage.total_tokens") == 5
    first, _ = feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [text]}}]})
    assert next(e for e in first if e["_event"] == "step.delta")["delta"]["text"] == "ok"
    first, _ = feeds(GEMINI, I, STREAM, {"candidates": [{"content": {"role": "model", "parts": [call]}}]})
    assert next(e for e in first if e["_event"] == "step.start")["step"]["call_id"] == "call_1"
