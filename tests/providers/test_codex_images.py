"""The ``image_generation`` tool on Codex requests: CPA's ``ensureImageGenerationTool`` and
``disable-image-generation`` filter cases, ported (inputs and asserted facts)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.codex_images import IMAGE_TOOL, apply_image_tool

CRED = Credential(id="c1", provider="codex")
FREE = Credential(id="c2", provider="codex", attributes={"plan_type": "free"})


def _apply(
    body: dict[str, Any],
    mode: str = "off",
    *,
    model: str = "gpt-5.4",
    cred: Credential = CRED,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    apply_image_tool(body, mode, model=model, cred=cred, headers=headers or {})
    return body


def test_no_tools_gets_the_image_tool() -> None:
    """codex_executor_imagegen_test.go TestEnsureImageGenerationTool_NoTools."""
    body = _apply({"model": "gpt-5.4", "input": "draw a cat"})
    assert body["tools"] == [{"type": "image_generation", "output_format": "png"}]


def test_existing_tools_get_it_appended() -> None:
    """TestEnsureImageGenerationTool_ExistingToolsWithoutImageGen."""
    client_tools = [{"type": "function", "name": "get_weather", "parameters": {}}]
    body = _apply({"tools": client_tools})
    assert [t["type"] for t in body["tools"]] == ["function", "image_generation"]
    assert client_tools == [
        {"type": "function", "name": "get_weather", "parameters": {}}
    ]  # not the client's list


def test_already_present_is_not_duplicated() -> None:
    """TestEnsureImageGenerationTool_AlreadyPresent: the client's output_format stays."""
    body = _apply(
        {"tools": [{"type": "image_generation", "output_format": "webp"}, {"type": "function", "name": "f1"}]}
    )
    assert len(body["tools"]) == 2 and body["tools"][0]["output_format"] == "webp"


@pytest.mark.parametrize(
    "tool",
    [
        {
            "type": "namespace",
            "name": "image_gen",
            "tools": [{"type": "function", "name": "imagegen", "parameters": {}}],
        },
        {"type": "function", "name": "image_gen.imagegen", "parameters": {}},
    ],
    ids=["namespace", "flattened"],
)
def test_codex_image_gen_function_means_no_injection(tool) -> None:
    """TestEnsureImageGenerationTool_ImageGenNamespaceDoesNotInjectTool and
    TestEnsureImageGenerationTool_FlattenedImageGenFunctionDoesNotInjectTool."""
    body = _apply({"tools": [tool]})
    assert body["tools"] == [tool]


def test_similar_namespace_still_gets_the_tool() -> None:
    """TestEnsureImageGenerationTool_SimilarNamespaceStillInjectsTool."""
    tool = {"type": "namespace", "name": "image_tools", "tools": [{"type": "function", "name": "imagegen"}]}
    body = _apply({"tools": [tool]})
    assert body["tools"][1]["type"] == "image_generation"


def test_empty_tools_array_gets_the_tool() -> None:
    """TestEnsureImageGenerationTool_EmptyToolsArray."""
    assert _apply({"tools": []})["tools"] == [IMAGE_TOOL]


def test_web_search_keeps_its_place() -> None:
    """CPA: TestEnsureImageGenerationTool_WebSearchAndImageGen."""
    body = _apply({"tools": [{"type": "web_search"}]})
    assert [t["type"] for t in body["tools"]] == ["web_search", "image_generation"]


@pytest.mark.parametrize("flag", ["true", True])
def test_responses_lite_metadata_means_no_injection(flag) -> None:
    """TestEnsureImageGenerationTool_ResponsesLiteMetadataDoesNotInjectTool and
    TestEnsureImageGenerationTool_ResponsesLiteBooleanMetadataDoesNotInjectTool."""
    body = {
        "client_metadata": {"ws_request_header_x_openai_internal_codex_responses_lite": flag},
        "input": "hi",
    }
    assert "tools" not in _apply(body)


def test_responses_lite_header_means_no_injection() -> None:
    """TestEnsureImageGenerationTool_ResponsesLiteHeaderDoesNotInjectTool."""
    body = _apply({"input": "hi"}, headers={"X-OpenAI-Internal-Codex-Responses-Lite": "true"})
    assert "tools" not in body


def test_responses_lite_false_metadata_still_injects() -> None:
    """TestEnsureImageGenerationTool_ResponsesLiteFalseMetadataStillInjectsTool."""
    body = {
        "client_metadata": {"ws_request_header_x_openai_internal_codex_responses_lite": "false"},
        "input": "hi",
    }
    assert _apply(body)["tools"][0]["type"] == "image_generation"


def test_spark_models_and_free_plans_get_no_tool() -> None:
    """CPA ensureImageGenerationTool: ``*spark`` models and free-plan accounts are skipped.
    CPA: TestEnsureImageGenerationTool_GPT53CodexSparkDoesNotInjectTool,
    TestEnsureImageGenerationTool_FreeCodexAuthDoesNotInjectTool."""
    assert "tools" not in _apply({"input": "hi"}, model="gpt-5.3-codex-spark")
    assert "tools" not in _apply({"input": "hi"}, cred=FREE)


@pytest.mark.parametrize("mode", ["all", "chat"])
def test_disabled_removes_the_tool_entry(mode) -> None:
    """payload_helpers_disable_image_generation_test.go
    TestApplyPayloadConfigWithRoot_DisableImageGeneration_RemovesToolsEntry (and chat mode,
    off the /v1/images routes); the entry half of
    TestApplyPayloadConfigWithRoot_DisableImageGeneration_RemovesToolsEntryWithRoot, on the
    Codex body (see the next test on CPA's Antigravity root)."""
    body = _apply({"tools": [{"type": "image_generation"}, {"type": "function", "name": "f"}]}, mode)
    assert body["tools"] == [{"type": "function", "name": "f"}]


@pytest.mark.parametrize(
    "choice",
    ["image_generation", {"type": "image_generation"}, {"type": "tool", "name": "image_generation"}],
    ids=["string", "by-type", "by-name"],
)
def test_disabled_removes_the_tool_choice(choice) -> None:
    """TestApplyPayloadConfigWithRoot_DisableImageGeneration_RemovesToolChoiceByType and the
    choice half of TestApplyPayloadConfigWithRoot_DisableImageGeneration_RemovesToolChoiceByNameWithRoot
    (CPA's Antigravity ``request`` root has no counterpart: cliproxy strips the tool from
    Codex requests, the only upstream it is offered to)."""
    body = _apply({"tools": [{"type": "image_generation"}], "tool_choice": choice}, "all")
    assert "tool_choice" not in body and body["tools"] == []


def test_disabled_keeps_other_tool_choices() -> None:
    body = _apply(
        {"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "f"}},
        "all",
    )
    assert body["tool_choice"] == {"type": "function", "name": "f"}


def test_passthrough_keeps_the_payload_unchanged() -> None:
    """TestApplyPayloadConfigWithRoot_DisableImageGenerationPassthrough_KeepsPayloadUnchanged."""
    body = {"tools": [{"type": "image_generation"}], "tool_choice": {"type": "image_generation"}}
    assert _apply(dict(body), "passthrough") == body
    assert "tools" not in _apply({"input": "hi"}, "passthrough")
