"""CPA's TestClaudePayloadHasMidSystemMessage and TestValidateClaudeMidSystemMessageModel
(the body cases; the first-party and real-Claude-Code gates are e2e-tested)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.providers.claude_identity import legacy_mid_system_error, mid_system_turn

TURN = [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}]


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ({"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}]}, 1),
        ({"messages": [{"role": "SySTeM", "content": "s"}]}, 0),
        ({"messages": [{"role": " system ", "content": "s"}]}, 0),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}, -1),
        ({"system": [{"type": "text", "text": "s"}], "messages": [{"role": "user", "content": "a"}]}, -1),
        ({"model": "claude-haiku-4-5"}, -1),
        ({"messages": "system"}, -1),
        ({"messages": ["system"]}, -1),
        ({"messages": [{"role": "user", "content": "role: system"}]}, -1),
    ],
    ids=[
        "mid-conversation turn",
        "role casing is ignored",
        "surrounding whitespace is ignored",
        "only user and assistant turns",
        "top-level system is not a turn",
        "messages missing",
        "messages not a list",
        "a bare string",
        "system only in content",
    ],
)
def test_mid_system_turn(body: dict[str, Any], want: int) -> None:
    assert mid_system_turn(body) == want


@pytest.mark.parametrize(
    ("model", "rejected"),
    [
        ("claude-haiku-4-5-20251001", True),
        ("anthropic/claude-sonnet-4-6", True),  # a vendor prefix
        ("Claude-Haiku-4-5-20251001", True),  # casing is ignored
        ("claude-sonnet-5", False),  # takes the turn
        ("claude-sonnet-9", False),  # unknown models stay optimistic
    ],
)
def test_legacy_models_are_refused_the_turn(model: str, rejected: bool) -> None:
    found = legacy_mid_system_error({"model": model, "messages": TURN})
    assert (found is not None) is rejected
    if found is not None:
        assert model in found[0] and found[1] == 1  # the model named, the turn located


def test_a_legacy_model_without_the_turn_is_forwarded() -> None:
    assert legacy_mid_system_error({"model": "claude-haiku-4-5-20251001", "messages": TURN[:1]}) is None
