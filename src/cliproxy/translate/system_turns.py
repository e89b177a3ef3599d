"""A Claude client's message-level ``role: system`` turn.

Claude's system prompt is the body's ``system`` field (its IR message carries the
``_system`` marker); a ``role: system`` entry inside ``messages`` is something else. CPA
sends such a turn to every non-Claude upstream as a user turn wrapped in
``<system-reminder>``, wherever it stands, even first (TestConvertClaudeRequestToCodex_
SystemMessageScenarios "Message system role does not become developer"): it never gets the
system prompt's authority.
"""

from __future__ import annotations

from cliproxy.translate import ir

__all__ = ["claude_system_turn"]


def claude_system_turn(source: str, msg: ir.Message) -> bool:
    """Whether ``msg`` is a system turn a Claude client put inside ``messages``."""
    return (
        source == "claude"
        and msg.role in ("system", "developer")
        and not (msg.extras and "_system" in msg.extras)
    )
