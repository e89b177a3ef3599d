"""``codex.optimize-multi-agent-v2`` rewrites, ported from CPA's
``internal/client/codex/optimize-multi-agent-v2/optimize_multi_agent_v2_test.go`` (each
test names its Go original) onto ``cliproxy.providers.codex_multi_agent``. The Go tests of
the ``gin`` context (TestCodexClientUserAgentPrefersGinRequest: one header source here) and
the Home mode have no counterpart; the registry cache's case is
tests/e2e/test_codex_multi_agent.py::test_the_spawn_agent_list_follows_a_reload."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.models.catalog import ModelInfo, ThinkingSupport
from cliproxy.models.codex_client import codex_client_models
from cliproxy.providers import codex_multi_agent as ma

HEADING = ma.MODELS_HEADING
MSG_TOOLS = frozenset({"spawn_agent", "send_message", "followup_task"})


def encrypted_tool(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        **extra,
        "parameters": {"type": "object", "properties": {"message": {"type": "string", "encrypted": True}}},
    }


def namespace(*tools: dict[str, Any], name: str = "collaboration") -> dict[str, Any]:
    return {"type": "namespace", "name": name, "tools": list(tools)}


def no_models() -> str:
    return ""


def encrypted(tool: dict[str, Any]) -> bool:
    return "encrypted" in tool["parameters"]["properties"]["message"]


ALPHA = {
    "slug": "model-alpha",
    "description": "Alpha model.",
    "supported_reasoning_levels": [{"effort": "low"}, {"effort": "medium"}, {"effort": "high"}],
    "default_reasoning_level": "medium",
    "service_tiers": [{"id": "priority"}],
}
BETA = {
    "slug": "model-beta",
    "description": "Beta model",
    "supported_reasoning_levels": [{"effort": "low"}, {"effort": "high"}],
    "default_reasoning_level": "low",
}


@pytest.mark.parametrize(
    ("agent", "want"),
    [
        ("Codex Desktop/0.146.0-alpha.3 (Mac OS 26.5.2; arm64) unknown (Codex Desktop; 26.721.30844)", True),
        ("codex-tui/0.145.0 (Mac OS 26.5.2; arm64) iTerm.app/3.6.11 (codex-tui; 0.145.0)", True),
        ("codex_cli_rs/0.144.1 (Mac OS 26.3.1; arm64) iTerm.app/3.6.9", True),
        ("codex_cli_rs", True),
        ("curl/8.7.1", False),
        ("proxy Codex Desktop/0.146.0", False),
    ],
)
def test_codex_clients(agent: str, want: bool) -> None:
    """TestIsCodexMultiAgentClient."""
    assert ma.is_codex_client({"user-agent": agent}) is want


def test_description_list_is_normalized() -> None:
    """TestRewriteCodexSpawnAgentDescriptionNormalizesModelList."""
    stale = (
        f"\n        {HEADING}\n- old duplicate\n- old duplicate\n        Spawns an agent to work on a task."
    )
    body = {
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    namespace(
                        {"type": "function", "name": "send_message", "description": "unchanged"},
                        encrypted_tool("spawn_agent", description=stale),
                    )
                ],
            }
        ]
    }
    ma.optimize(body, lambda: ma.format_models([ALPHA, BETA]))
    tools = body["input"][0]["tools"][0]["tools"]
    description = tools[1]["description"]
    assert (
        "- `model-alpha`: Alpha model. Reasoning efforts: low, medium (default), high. Service tiers: priority."
        in description
    )
    assert "- `model-beta`: Beta model. Reasoning efforts: low (default), high." in description
    assert "old duplicate" not in description
    assert description.count("`model-alpha`") == 1 and description.count("`model-beta`") == 1
    assert description.index("`model-beta`") < description.index("Spawns an agent")
    assert tools[0]["description"] == "unchanged"
    assert not encrypted(tools[1])


def test_description_without_marker_gets_the_list_at_its_end() -> None:
    """TestRewriteCodexSpawnAgentDescriptionTopLevelWithoutMarker."""
    entry = {
        "slug": "model-a",
        "description": "Model A.",
        "supported_reasoning_levels": [{"effort": "medium"}],
        "default_reasoning_level": "medium",
    }
    got = ma.replace_models_section("Create a worker.", ma.format_models([entry]))
    assert (
        got
        == "Create a worker.\n\n" + HEADING + "\n- `model-a`: Model A. Reasoning efforts: medium (default)."
    )


def test_tool_paths_ignore_invalid_containers() -> None:
    """TestCodexSpawnAgentToolPathsIgnoreInvalidContainers."""
    body = {
        "input": [{"type": "message", "tools": [{"type": "function", "name": "spawn_agent"}]}],
        "tools": [
            {"type": "function", "name": "wrapper", "tools": [{"type": "function", "name": "spawn_agent"}]},
            {"type": "custom", "name": "spawn_agent"},
            {"type": "namespace", "name": "spawn_agent"},
        ],
    }
    assert ma.tool_paths(body, frozenset({"spawn_agent"})) == []


def test_a_namespace_conflict_changes_nothing() -> None:
    """TestOptimizeCodexMultiAgentV2RequestSkipsNamespaceConflict."""
    body = {
        "tools": [
            namespace({"type": "function", "name": "spawn_agent"}),
            namespace(name="collaboration-optimize"),
        ]
    }
    before = copy.deepcopy(body)
    assert ma.optimize(body, lambda: "- `m`: M.") is False
    assert body == before


def test_namespace_is_renamed_without_models() -> None:
    """TestOptimizeCodexCollaborationNamespaceWithoutModels and
    TestRewriteCodexSpawnAgentDescriptionWithoutModelsStillRemovesEncrypted."""
    body = {"tools": [namespace(encrypted_tool("spawn_agent", description="unchanged"))]}
    assert ma.optimize(body, no_models) is True
    assert body["tools"][0]["name"] == "collaboration-optimize"
    assert body["tools"][0]["tools"][0]["description"] == "unchanged"
    assert not encrypted(body["tools"][0]["tools"][0])


def test_a_body_without_collaboration_tools_is_unchanged() -> None:
    """TestRewriteCodexSpawnAgentDescriptionLeavesPayloadWithoutToolUnchanged."""
    body = {"tools": [{"type": "function", "name": "other", "description": "unchanged"}]}
    before = copy.deepcopy(body)
    assert ma.optimize(body, lambda: "- `model-a`: Model A.") is False
    assert body == before


def test_enabled_request_is_optimized() -> None:
    """TestRewriteCodexSpawnAgentDescriptionEnabledOptimizesTool (the model comes from the
    Codex client catalog entry rather than CPA's registry)."""
    entry = {
        "slug": "codex-spawn-agent-test-model",
        "description": "Test agent model.",
        "supported_reasoning_levels": [{"effort": e} for e in ("low", "medium", "high")],
        "default_reasoning_level": "medium",
    }
    body = {"tools": [namespace(encrypted_tool("spawn_agent", description="Spawns an agent."))]}
    assert ma.optimize(body, lambda: ma.format_models([entry])) is True
    tool = body["tools"][0]["tools"][0]
    assert body["tools"][0]["name"] == "collaboration-optimize"
    assert (
        "- `codex-spawn-agent-test-model`: Test agent model. Reasoning efforts: low, medium (default), high."
        in tool["description"]
    )
    assert not encrypted(tool)


def test_agent_message_content_only_is_normalized() -> None:
    """TestOptimizeCodexMultiAgentV2RequestNormalizesAgentMessageContentOnly."""
    item = {
        "type": "agent_message",
        "id": "amsg_1",
        "author": "/root",
        "recipient": "/root/worker",
        "content": [
            {"type": "input_text", "text": "Payload:\n"},
            {"type": "encrypted_content", "encrypted_content": "delegated task"},
        ],
        "internal_chat_message_metadata_passthrough": {"turn_id": "turn_1"},
    }
    client = {"input": [item]}
    body = dict(client)  # the attempt's own top level, the client's arrays
    assert ma.optimize(body, no_models) is False
    out = body["input"][0]
    assert out["type"] == "agent_message" and "role" not in out
    assert out["content"][1] == {"type": "input_text", "text": "delegated task"}
    assert out["author"] == "/root" and out["recipient"] == "/root/worker"
    assert out["internal_chat_message_metadata_passthrough"] == {"turn_id": "turn_1"}
    assert client["input"][0]["content"][1]["type"] == "encrypted_content"  # copy-on-write


def test_answer_is_restored() -> None:
    """TestRestoreCodexMultiAgentV2Response."""
    payload = {
        "type": "response.completed",
        "response": {
            "output": [
                {
                    "type": "function_call",
                    "name": "spawn_agent",
                    "namespace": "collaboration-optimize",
                    "arguments": {
                        "namespace": "collaboration-optimize",
                        "name": "collaboration-optimize__opaque",
                    },
                },
                {"type": "function_call", "name": "collaboration-optimize__send_message"},
                {
                    "type": "message",
                    "namespace": "collaboration-optimize",
                    "name": "collaboration-optimize__plain",
                },
            ],
            "tools": [{"type": "namespace", "name": "collaboration-optimize"}],
        },
    }
    got = orjson.loads(ma.Restore()(orjson.dumps(payload)))
    out = got["response"]["output"]
    assert out[0]["namespace"] == "collaboration"
    assert out[1]["name"] == "collaboration__send_message"
    assert got["response"]["tools"][0]["name"] == "collaboration"
    assert out[0]["arguments"]["namespace"] == "collaboration-optimize"  # opaque arguments
    assert (
        out[2]["namespace"] == "collaboration-optimize" and out[2]["name"] == "collaboration-optimize__plain"
    )


def test_stream_lines_are_restored_one_by_one() -> None:
    """Not a CPA case by name: its stream path restores each event's data the same way."""
    event = {
        "type": "response.output_item.done",
        "item": {"type": "function_call", "namespace": "collaboration-optimize"},
    }
    raw = b"event: response.output_item.done\ndata: " + orjson.dumps(event) + b"\n\ndata: [DONE]\n"
    lines = ma.Restore()(raw).split(b"\n")
    assert lines[0] == b"event: response.output_item.done"
    assert orjson.loads(lines[1][5:])["item"]["namespace"] == "collaboration"
    assert lines[3] == b"data: [DONE]"
    untouched = b'data: {"type":"response.created"}\n'
    assert ma.Restore()(untouched) is untouched


def test_replacing_sections_keeps_other_instructions() -> None:
    """TestReplaceCodexSpawnAgentModelsNormalizesSectionsAndPreservesInstructions."""
    description = (
        HEADING + "\n- `old-model`: old\nKeep this multi-agent instruction.\nSpawns an agent.\n" + HEADING
    )
    got = ma.replace_models_section(description, "- `new-model`: New model.")
    assert "old-model" not in got and got.count(HEADING) == 1
    assert "Keep this multi-agent instruction." in got


def test_message_tool_paths_find_all_three_tools() -> None:
    """TestCodexCollaborationMessageToolPathsFindsAllThreeTools and
    TestCodexCollaborationMessageToolPathsAdditionalTools."""
    body = {
        "tools": [
            namespace(
                *(
                    encrypted_tool(n)
                    for n in ("spawn_agent", "send_message", "followup_task", "unrelated_tool")
                )
            )
        ]
    }
    assert len(ma.tool_paths(body, MSG_TOOLS)) == 3
    extra = {
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [namespace(encrypted_tool("send_message"), encrypted_tool("followup_task"))],
            }
        ]
    }
    assert len(ma.tool_paths(extra, MSG_TOOLS)) == 2


def test_unrelated_encrypted_fields_stay() -> None:
    """TestRemoveCodexCollaborationMessageEncryptionPreservesUnrelatedEncryptedFields and
    TestRemoveCodexCollaborationMessageEncryptionAllTools (the message type stays)."""
    send = {
        "type": "function",
        "name": "send_message",
        "parameters": {
            "properties": {"message": {"type": "string", "encrypted": True}, "data": {"encrypted": "keep-me"}}
        },
    }
    other = encrypted_tool("unrelated_tool")
    body = {"tools": [send, other]}
    ma.optimize(body, no_models)
    props = body["tools"][0]["parameters"]["properties"]
    assert props["message"] == {"type": "string"} and props["data"] == {"encrypted": "keep-me"}
    assert encrypted(body["tools"][1])


@pytest.mark.parametrize("where", ["tools", "additional_tools"])
def test_encryption_goes_without_spawn_agent(where: str) -> None:
    """TestOptimizeCodexMultiAgentV2RequestRemovesEncryptionWithoutSpawnAgent and
    TestOptimizeCodexMultiAgentV2RequestRemovesEncryptionInAdditionalTools."""
    ns = namespace(encrypted_tool("send_message"), encrypted_tool("followup_task"))
    body: dict[str, Any] = (
        {"tools": [ns]}
        if where == "tools"
        else {"input": [{"type": "additional_tools", "role": "developer", "tools": [ns]}]}
    )
    assert ma.optimize(body, no_models) is False
    tools = (body["tools"] if where == "tools" else body["input"][0]["tools"])[0]["tools"]
    assert not any(encrypted(t) for t in tools)


def test_all_three_tools_with_spawn_agent() -> None:
    """TestOptimizeCodexMultiAgentV2RequestRemovesEncryptionFromAllThreeToolsWithSpawnAgent."""
    body = {
        "tools": [
            namespace(
                encrypted_tool("spawn_agent", description="Spawns an agent."),
                encrypted_tool("send_message"),
                encrypted_tool("followup_task"),
            )
        ]
    }
    assert ma.optimize(body, no_models) is True
    assert not any(encrypted(t) for t in body["tools"][0]["tools"])
    assert body["tools"][0]["name"] == "collaboration-optimize"


def test_no_encryption_is_a_no_op() -> None:
    """TestRemoveCodexCollaborationMessageEncryptionNoOpWithoutEncrypted."""
    body = {
        "tools": [
            {
                "type": "function",
                "name": "send_message",
                "parameters": {"type": "object", "properties": {"message": {"type": "string"}}},
            }
        ]
    }
    before = copy.deepcopy(body)
    ma.optimize(body, no_models)
    assert body == before


def test_prepare_tools_touches_only_the_tool_definitions() -> None:
    """TestPrepareCodexMultiAgentV2ToolsOnlyPreparesToolDefinitions: the Responses-entry step
    (for a non-Codex upstream) drops the collaboration tools' encryption markers and keeps
    the namespace's name; an ``agent_message``'s encrypted content is left as it came (its
    rewrite into a user turn is the translator's)."""
    agent = {"type": "agent_message", "content": [{"type": "encrypted_content", "encrypted_content": "task"}]}
    tools = namespace(
        encrypted_tool("spawn_agent", description="Spawns an agent."), encrypted_tool("send_message")
    )
    body: dict[str, Any] = {
        "input": [copy.deepcopy(agent), {"type": "additional_tools", "role": "developer", "tools": [tools]}]
    }
    assert ma.prepare_tools(body, no_models)
    assert body["input"][0] == agent
    prepared = body["input"][1]["tools"][0]
    assert prepared["name"] == "collaboration"
    assert not any(encrypted(t) for t in prepared["tools"])


def test_a_registered_model_is_listed_with_its_metadata() -> None:
    """TestCodexSpawnAgentModelsFromSourcesIncludesModelMetadata (its registry-model half): a
    model the proxy serves is listed with its description and its reasoning efforts, the
    default medium when it has medium, and no service tiers. Its template half (a catalog
    template's description and tiers) is in tests/e2e/test_codex_multi_agent.py
    (test_the_spawn_agent_list_comes_from_the_templates)."""
    info = ModelInfo(
        id="custom-model",
        display_name="Custom",
        description="Dynamic model.",
        thinking=ThinkingSupport(levels=("none", "low", "medium", "high")),
    )
    entries = codex_client_models([info], lambda _: ["codex"])["models"]
    assert ma.format_models(entries) == (
        "- `custom-model`: Dynamic model. Reasoning efforts: none, low, medium (default), high."
    )
    assert ma.format_models([ALPHA]).endswith("Service tiers: priority.")
