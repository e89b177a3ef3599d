"""When the token refresher refreshes a credential a plugin refreshes (its auth provider's
``auth.refresh``), and the hook through which it does.

CPA's auth manager schedules such an auth as any other (``nextRefreshCheckAt``), with no
provider lead (only built-in providers register one): it is due by its own
``refresh_interval_seconds`` (in the metadata or the attributes) counted from its last
refresh, or that far before it expires; never without one, nor for an API key; and not
before the ``NextRefreshAfter`` its plugin gave (``auth.parse``, ``model.for_auth``'s
update, or, here also, ``auth.refresh``'s answer: CPA's manager clears that one after a
refresh). The time is kept among the proxy's own attributes under :data:`NOT_BEFORE`.
When the refresher of such a credential goes (its plugin fused, disabled or unloaded), the
credential leaves the schedule with its back-off; when it comes back (or another file of
the plugin is loaded), the credential is due again by its own times, at once if they have
passed (the token refresher asks :meth:`Delegate.live` and :meth:`Delegate.owner`).
"""

from __future__ import annotations

from typing import Any, Protocol

from cliproxy import times

from .record import KIND_APIKEY, Credential
from .refresh_times import refresh_interval

__all__ = ["NOT_BEFORE", "Delegate", "not_before", "plugin_due"]

NOT_BEFORE = "next_refresh_after"  # unix seconds, as text: no refresh before


class Delegate(Protocol):
    """Refreshes the credentials the token endpoints do not (``Refresher.delegate``)."""

    def live(self) -> object:
        """What the due times depend on (the live refreshers): a value that compares
        unequal once one goes (fused, disabled, unloaded), comes back or is reloaded."""

    def owner(self, cred: Credential) -> object | None:
        """What refreshes ``cred`` now (a plugin's record), ``None`` for nothing."""

    def due(self, cred: Credential) -> float | None:
        """When ``cred`` is due (0 = now), ``None`` for never or not this delegate's."""

    async def refresh(self, cred: Credential) -> Credential:
        """``cred`` refreshed; raises ``RefreshError``."""


def not_before(value: Any) -> str:
    """A plugin's ``NextRefreshAfter`` (RFC 3339; Go's zero time is none) as the
    :data:`NOT_BEFORE` attribute's text, ``""`` for none."""
    if not isinstance(value, str) or not value.strip() or value.startswith("0001-"):
        return ""
    try:
        return str(times.parse_rfc3339(value).timestamp())
    except ValueError:
        return ""


def plugin_due(cred: Credential) -> float | None:
    """When a plugin's credential is due by its own times (see the module docstring)."""
    if cred.disabled or cred.kind == KIND_APIKEY:
        return None
    step = refresh_interval(cred.metadata) or refresh_interval(cred.attributes)
    if not step:
        return None
    expires = cred.expires_at()
    last = _last(cred)
    due = min(
        expires.timestamp() - step if expires is not None else float("inf"), last + step if last else 0.0
    )
    try:
        gate = float(cred.attributes.get(NOT_BEFORE) or 0.0)
    except ValueError:
        gate = 0.0
    return max(due, gate, 0.0)


def _last(cred: Credential) -> float:
    value = cred.metadata.get("last_refresh")
    if isinstance(value, str) and value.strip():
        try:
            return times.parse_rfc3339(value).timestamp()
        except ValueError:
            return 0.0
    return 0.0
