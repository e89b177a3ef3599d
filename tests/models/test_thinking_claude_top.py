"""The top effort intents ("xhigh", "max") from other formats on Claude adaptive models.

CPA writes the validated level as ``output_config.effort`` (its validator clamps an
unsupported level to the nearest one the model lists), so a model that lists ``xhigh``
gets ``xhigh`` for an "xhigh" intent, and a "max" intent on a model that lists ``xhigh``
but not ``max`` gets ``xhigh``, not ``high`` (issue 15, defect 10).

CPA: TestThinkingE2EClaudeAdaptive_Body A5-A8 (the whole table runs in
tests/models/test_thinking_groups_cpa.py).
"""

from __future__ import annotations

import pytest

from cliproxy.models.thinking.canonical import ThinkingCaps
from cliproxy.models.thinking.resolve import resolve_thinking

BOTH = ThinkingCaps(levels=("low", "medium", "high", "xhigh", "max"))
XHIGH = ThinkingCaps(levels=("low", "medium", "high", "xhigh"))
MAX = ThinkingCaps(levels=("low", "medium", "high", "max"))
HIGH = ThinkingCaps(levels=("low", "medium", "high"))


@pytest.mark.parametrize(
    ("caps", "intent", "effort"),
    [
        (BOTH, "xhigh", "xhigh"),
        (BOTH, "max", "max"),
        (XHIGH, "max", "xhigh"),
        (XHIGH, "xhigh", "xhigh"),
        (MAX, "xhigh", "max"),
        (MAX, "max", "max"),
        (HIGH, "max", "high"),
        (HIGH, "xhigh", "high"),
    ],
)
def test_top_intent_from_a_chat_client(caps: ThinkingCaps, intent: str, effort: str) -> None:
    cfg = resolve_thinking(None, "openai", {"reasoning_effort": intent}, caps, False, target="claude")
    assert cfg is not None and cfg.level == effort


def test_top_intent_from_a_responses_client() -> None:
    body = {"reasoning": {"effort": "max"}}
    cfg = resolve_thinking(None, "openai-response", body, XHIGH, False, target="claude")
    assert cfg is not None and cfg.level == "xhigh"
