"""CPA's ``claude_executor_wire_casing_test.go`` on :func:`cliproxy.providers.claude_wire.wire_order`
(the order and casing on the wire through the proxy: ``test_claude_wire_order.py``)."""

from __future__ import annotations

from cliproxy.providers.claude_wire import wire_order
from tests.providers.test_claude_wire_order import SORTED_BLOCK

# what the provider builds: every name in lower case, in no particular order
BUILT = {
    "x-app": "cli",
    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
    "host": "api.anthropic.com",
    "content-type": "application/json",
    "x-stainless-os": "MacOS",
    "user-agent": "claude-cli/2.1.220 (external, cli)",
    "accept-encoding": "gzip, deflate, br, zstd",
    "anthropic-version": "2023-06-01",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-client-request-id": "7d1c0a4e-0000-4000-8000-000000000000",
    "connection": "keep-alive",
    "accept": "application/json",
    "authorization": "Bearer sk-ant-oat01-wire",
}


def test_claude_codes_block_is_a_bytewise_sort() -> None:
    """The captured order of Claude Code's own headers is a plain bytewise sort of their
    wire names (User-Agent among them: the real client writes it inside the block, which
    CPA's Go serialiser cannot, TestApplyClaudeHeaders_UserAgentStillHoistedByGo; here it
    is in place).

    CPA: TestClaudeWireHeaderOrderIsBytewiseSorted."""
    assert sorted(SORTED_BLOCK) == SORTED_BLOCK
    names = list(wire_order(BUILT))
    block = names[: names.index("Connection")]
    assert block == sorted(block) and "User-Agent" in block
    assert names[-3:] == ["Connection", "Host", "Accept-Encoding"]


def test_the_casing_keeps_every_value() -> None:
    """Each header keeps its value under its wire name, and no name stays twice (the
    lower-case spelling gone where the wire name differs).

    CPA: TestApplyClaudeHeaders_WireCasingPreservesValues."""
    out = wire_order(BUILT)
    assert len(out) == len(BUILT)
    assert {name.lower(): value for name, value in out.items()} == BUILT
    assert out["X-Stainless-OS"] == "MacOS" and out["anthropic-beta"] == BUILT["anthropic-beta"]
    assert out["x-app"] == "cli" and out["Authorization"] == BUILT["authorization"]
