"""CPA's ``internal/client/claude/models/models_test.go`` on :func:`anthropic_models` and
the Claude id cloak (the proxy's side: ``tests/e2e/test_model_lists_cpa.py``)."""

from __future__ import annotations

import pytest

from cliproxy.models.catalog import ModelInfo
from cliproxy.models.listing import anthropic_models, cloak_claude_id, uncloak_claude_id


def test_the_list_is_sorted_cloaked_and_bounded_by_its_ids() -> None:
    """Sorted by display name, then id; another family's model under its cloaked id; a
    model's own output limit kept; the models given are left as they were.

    CPA: TestBuildResponse"""
    models = [
        ModelInfo(id="claude-z", display_name="Zebra", max_output=64000),
        ModelInfo(id="gpt-4o", display_name="Alpha"),
        ModelInfo(id="claude-c", display_name="Alpha"),
        ModelInfo(id="claude-b", display_name="Beta"),
    ]
    listed = anthropic_models(models)
    ids = [m["id"] for m in listed["data"]]
    assert ids == ["claude-c", "claude-fable-5-dd-o4-tpg", "claude-b", "claude-z"]
    assert listed["data"][3]["max_tokens"] == 64000
    assert (listed["has_more"], listed["first_id"], listed["last_id"]) == (False, "claude-c", "claude-z")
    assert [m.id for m in models] == ["claude-z", "gpt-4o", "claude-c", "claude-b"]


def test_without_cloaking_ids_are_the_models_own() -> None:
    """CPA: TestBuildResponseWithCloakingDisabled"""
    listed = anthropic_models([ModelInfo(id="gpt-4o", display_name="GPT-4o")], cloak=False)
    assert [m["id"] for m in listed["data"]] == ["gpt-4o"]
    assert (listed["first_id"], listed["last_id"]) == ("gpt-4o", "gpt-4o")


def test_an_empty_list() -> None:
    """CPA: TestBuildResponseEmpty"""
    assert anthropic_models([]) == {"data": [], "has_more": False, "first_id": "", "last_id": ""}


@pytest.mark.parametrize(
    ("plain", "cloaked"),
    [
        ("", ""),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("my-claude-custom", "claude-fable-5-dd-motsuc-edualc-ym"),
        ("Claude-Opus-4", "claude-fable-5-dd-4-supO-edualC"),
        ("gpt-4o", "claude-fable-5-dd-o4-tpg"),
        ("gemini-2.5-pro", "claude-fable-5-dd-orp-5.2-inimeg"),
    ],
)
def test_only_a_lowercase_claude_prefix_is_kept(plain: str, cloaked: str) -> None:
    """CPA: TestEnsureClaudeModelIDPrefix"""
    assert cloak_claude_id(plain) == cloaked


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("", ""),
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("gpt-4o", "gpt-4o"),
        ("claude-fable-5-dd-o4-tpg", "gpt-4o"),
        ("claude-fable-5-dd-orp-5.2-inimeg", "gemini-2.5-pro"),
        ("claude-fable-5-dd-", "claude-fable-5-dd-"),
        ("claude-fable-5-dd-o4-tpg(high)", "gpt-4o(high)"),
        (cloak_claude_id("custom-model-x"), "custom-model-x"),
    ],
)
def test_a_cloaked_id_resolves_to_its_model(given: str, plain: str) -> None:
    """CPA: TestResolveClaudeModelIDPrefix"""
    assert uncloak_claude_id(given) == plain
