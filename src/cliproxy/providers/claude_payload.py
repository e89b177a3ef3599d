"""Claude Code's identity, then the config's ``payload:`` rules over it: CPA's order.

CPA's Claude executor cloaks a request first (Claude Code's system layout and currentDate
reminder, a ``metadata.user_id`` for a cloaked API key, sensitive words hidden), adds
Claude Code's ``context_management`` (and, for a Claude Code credential, its ``diagnostics``,
:mod:`claude_diagnostics`) on api.anthropic.com, and applies the payload rules
only then: whatever a rule writes wins over all of that. What CPA does after the rules
happens after them here too, on the rules' result: the default ``max_tokens``, dropping
thinking for a forced tool, sampling, cache marks, tool aliases and the OAuth
``metadata.user_id`` (:mod:`claude`), signing.

Two decisions the rules can leave stale are settled after them, as CPA does:

- placement: the cloak moves the caller's system text into ``role: system`` turns for a
  model that takes them; a rule that turns the model into one refusing those turns
  (:data:`claude_identity.LEGACY_REMINDER_MODELS`) gets the text as ``<system-reminder>``
  blocks instead, unless a rule also changed those turns (the final check answers 400);
- ``context_management``: the automatic object follows the final thinking (added when a
  rule turned thinking on, removed when a rule or a forced tool turned it off), and a
  member the caller sent or a rule set or removed is left as it is.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_diagnostics as diagnostics
from cliproxy.providers import claude_identity as ident
from cliproxy.providers.base import PayloadStep
from cliproxy.providers.claude_plan import CredentialPlan
from cliproxy.providers.claude_sampling import no_thinking_when_forced

__all__ = ["identity_then_rules", "set_cli_user_id"]

_CONTEXT = ("context_management",)  # the member the identity adds, as a parsed payload path


def identity_then_rules(
    body: dict[str, Any],
    cred: Credential,
    plan: CredentialPlan,
    profile: ident.DeviceProfile,
    *,
    cloaked: bool,
    payload: PayloadStep | None,
    session: str = "",
    table: diagnostics.Diagnostics | None = None,
) -> diagnostics.Ticket | None:
    """A Messages request's identity (when ``cloaked``), the payload rules (when given),
    what they leave stale, and thinking dropped for a forced tool, in place. The ticket
    its answer commits to when Claude Code's ``diagnostics`` went with it (a cloaked
    request of a Claude Code credential in ``session``, to Anthropic; its last ids are
    kept in ``table``)."""
    placed = ticket = None
    automatic = kept = False
    measured = cloaked and plan.anthropic  # context_management: only measured there (CPA)
    if cloaked:
        settings = plan.settings
        now = cloaking.local_now(cred, profile.timezone)
        placed = cloaking.cloak(body, settings, version=profile.version, signed=plan.signed, now=now)
        if measured:
            kept = "context_management" in body  # the caller's own
            automatic = cloaking.inject_context_management(body)
            if plan.cli and table is not None:  # (CPA's InjectDiagnostics: the Claude Code profile)
                ticket = table.inject(body, cred.id, session)
        if not plan.cli:  # (a Claude Code identity gets its own after the rules)
            _ensure_fake_user_id(body, cred.api_key, settings.cache_user_id)
        if settings.words is not None:
            cloaking.obfuscate(body, settings.words)
    if payload is not None:
        kept = payload(body, tracked=_CONTEXT) or kept  # a rule's member is the rule's
        if placed:
            cloaking.replace_placed(body, placed)
    if "tool_choice" in body:
        no_thinking_when_forced(body)
    if measured and not kept and (automatic or payload is not None):
        _settle_context_management(body, automatic)
    return ticket


def _settle_context_management(body: dict[str, Any], automatic: bool) -> None:
    """CPA's ``reconcileClaudeCodeContextManagement`` for a member neither the caller nor a
    rule owns: Claude Code's object when thinking takes it, none when it does not."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        if "context_management" not in body:
            cloaking.inject_context_management(body)
    elif automatic and body.get("context_management") == cloaking.CONTEXT_MANAGEMENT:
        del body["context_management"]


def _ensure_fake_user_id(body: dict[str, Any], api_key: str, cache: bool) -> None:
    metadata = body.get("metadata")
    current = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(current, str) and ident.is_valid_user_id(current):
        return
    uid = ident.fake_user_id(api_key, cache=cache)
    body["metadata"] = {**metadata, "user_id": uid} if isinstance(metadata, dict) else {"user_id": uid}


def set_cli_user_id(body: dict[str, Any], cred: Credential, session: str) -> None:
    """The credential's Claude Code identity in ``metadata.user_id``; other members of a
    JSON user id the caller sent (``parent_session_id``...) are kept after it."""
    device, account = ident.cli_identity(cred)
    metadata = body.get("metadata")
    current = metadata.get("user_id") if isinstance(metadata, dict) else None
    extras: dict[str, Any] = {}
    if isinstance(current, str) and current.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(current)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            extras = {k: v for k, v in parsed.items() if k not in ("device_id", "account_uuid", "session_id")}
    uid = ident.user_id(device, account, session)
    if extras:
        uid = uid[:-1] + "," + orjson.dumps(extras).decode()[1:]
    body["metadata"] = {**metadata, "user_id": uid} if isinstance(metadata, dict) else {"user_id": uid}
