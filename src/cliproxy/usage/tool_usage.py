"""Tokens an upstream's own tool spent on an answer, recorded under the tool's model.

Codex's built-in ``image_generation`` tool runs an image model that is billed apart: the
stream's ``response.completed`` carries ``response.tool_usage.image_gen`` beside
``response.usage`` (``cliproxy.providers.codex_image_usage`` reads it). CPA publishes it as a
second usage record of the request (``UsageReporter.PublishAdditionalModel``): the same
provider, credential, client key, alias and timings; the tool's model; the tool's tokens;
never failed; none when every count is zero. Here that second record is a second ledger row
(its own row under the tool's model wherever the ledger's records are listed: ``/usage``,
``/usage/summary``, ``/usage/series``, exports), a second usage-queue record and a second
record for the usage plugins (``plugins.flow``).

It is no second request on the credential's and the client key's counters (``success``,
``failed``, ``recent_requests`` of ``/auth-files``, ``/api-key-usage``, ``/usage/keys``): CPA
counts a credential's result once per request (``MarkResult``), and its additional record
never reaches those counts. Its tokens do add to their token totals. Its ledger row says so
with ``attempts`` :data:`~cliproxy.usage.ledger_totals.TOOL_ATTEMPTS`, so the totals kept
beside the rows and the counters read back after a restart (``usage.restore``) count it the
same way. (A row this wrote before, with ``attempts`` 1, stays a request where it is counted.)

A provider hands a :class:`ToolUsage` over on its ``UpstreamRequest``; the pipeline puts it
on the request's trace (``RequestTrace.tool_usage``); its ``usage`` is set while the answer
streams by. A request without one pays one attribute test.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol

from cliproxy.usage.ledger_totals import TOOL_ATTEMPTS

if TYPE_CHECKING:
    from cliproxy.formats.ir import Usage
    from cliproxy.usage.record import UsageFacts

__all__ = ["ToolUsage", "tool_facts", "tool_row"]

TOOL_STATUS = 200  # a tool's record is never a failed one (CPA builds it with Failed false)


class ToolUsage(Protocol):
    """One answer's tool usage: ``usage`` stays ``None`` unless the answer names tokens."""

    usage: Usage | None

    @property
    def model(self) -> str:
        """The model the tool's tokens are recorded under."""


def tool_row(row: tuple[Any, ...], model: str, tokens: tuple[int, ...]) -> tuple[Any, ...]:
    """The ledger row of a request's tool usage (``ledger.ROW_COLUMNS``), beside the
    request's own ``row``: its time, ids, key, credential, provider, endpoint, alias, stream
    flag and timings; the tool's model and tokens, a success, ``attempts``
    :data:`TOOL_ATTEMPTS` (no request: its tokens only on the counters), no failed
    credentials (the request's own row names those)."""
    return (*row[:9], model, TOOL_STATUS, 0, row[12], *tokens, row[19], row[20], TOOL_ATTEMPTS, "")


def tool_facts(facts: UsageFacts, tool: ToolUsage) -> UsageFacts:
    """The usage-queue facts of a request's tool usage, from the request's own."""
    return dataclasses.replace(
        facts,
        model=tool.model,
        usage=tool.usage,
        failed=False,
        status=TOOL_STATUS,
        error="",
        response_service_tier="",
    )
