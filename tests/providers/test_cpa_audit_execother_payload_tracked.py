"""CPA helps/payload_mutations_test.go
TestApplyPayloadConfigWithRequestTrackedReportsContextManagementTouches: whether the
``payload:`` rules claimed ``context_management`` (then Claude Code's automatic object is
not added or settled by the Claude provider: providers/claude_payload.py), case by case
with CPA's inputs, through :meth:`PayloadRules.apply` with ``tracked``."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.config.payload import PayloadConfig
from cliproxy.models.payload import PayloadRules
from cliproxy.models.payload import paths as P

AUTOMATIC = '{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]}'
MODELS = [{"name": "claude-opus-5", "protocol": "claude"}]
NO_CM = {"model": "claude-opus-5"}

CASES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any], bool]] = [
    (
        "default",
        '{"model":"claude-opus-5"}',
        NO_CM,
        {"default": [{"models": MODELS, "params": {"context_management": {"edits": [{"type": "default"}]}}}]},
        True,
    ),
    (
        "raw default",
        '{"model":"claude-opus-5"}',
        NO_CM,
        {
            "default-raw": [
                {"models": MODELS, "params": {"context_management": '{"edits":[{"type":"raw_default"}]}'}}
            ]
        },
        True,
    ),
    (
        "canonical descendant override",
        '{"model":"claude-opus-5","context_management":' + AUTOMATIC + "}",
        None,
        {"override": [{"models": MODELS, "params": {"context_management.edits.0.keep": "all"}}]},
        True,
    ),
    (
        "identical raw override",
        '{"model":"claude-opus-5","context_management":' + AUTOMATIC + "}",
        None,
        {"override-raw": [{"models": MODELS, "params": {"context_management": AUTOMATIC}}]},
        True,
    ),
    (
        "filter already absent",
        '{"model":"claude-opus-5"}',
        None,
        {"filter": [{"models": MODELS, "params": ["context_management"]}]},
        True,
    ),
    (
        "unrelated override",
        '{"model":"claude-opus-5"}',
        None,
        {"override": [{"models": MODELS, "params": {"thinking.type": "enabled"}}]},
        False,
    ),
    (
        "nonmatching override",
        '{"model":"claude-opus-5"}',
        None,
        {
            "override": [
                {
                    "models": [{"name": "other-model", "protocol": "claude"}],
                    "params": {"context_management": {"edits": []}},
                }
            ]
        },
        False,
    ),
    (
        "default skipped for caller owned field",
        '{"model":"claude-opus-5","context_management":{"edits":[{"type":"caller"}]}}',
        {"model": "claude-opus-5", "context_management": {"edits": [{"type": "caller"}]}},
        {"default": [{"models": MODELS, "params": {"context_management": {"edits": [{"type": "default"}]}}}]},
        False,
    ),
]


@pytest.mark.parametrize(
    ("payload", "original", "config", "touched"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rules_that_claim_context_management(
    payload: str, original: dict[str, Any] | None, config: dict[str, Any], touched: bool
) -> None:
    cfg = PayloadConfig.model_validate(config)
    cfg.drop_invalid_raw_rules()
    got = PayloadRules.from_config(cfg).apply(
        orjson.loads(payload),
        model="claude-opus-5",
        requested_model="claude-opus-5",
        protocol="claude",
        from_protocol="claude",
        headers={},
        original=original,
        tracked=P.parse("context_management"),
    )
    assert got is touched
