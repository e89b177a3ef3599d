"""One ``GET /auth-files`` entry per credential, in CPA's shape (also a plugin's
``host.auth.list`` / ``host.auth.get_runtime`` entry: CPA builds both alike).

Listed are file credentials and runtime-only (plugin) ones, as in CPA; config API keys
have their own endpoints. Runtime state comes from the pool's cooldown records.
Request counters (``success``, ``failed``, ``recent_requests``, token totals) come from
the usage counters (``cliproxy.usage.counters``) when the caller passes them.

``unavailable`` is CPA's aggregate of the account's model states (``updateAggregatedAvailability``):
true while a credential-wide cooldown blocks, or every model it has answered or cooled for
(``Pool.served`` and its cooldown records) is cooling now; never for a disabled account
(``status: disabled``, ``disabled: true``: CPA clears its cooldown state). An
account with one model cooling (Opus's weekly window spent) while another serves (Sonnet) is
available: ``status`` is ``error`` with the cooling model's message, as in CPA, and
``next_retry_after`` is given only when the account as a whole waits (its earliest end).
CPA computes the flag at each result and keeps it until the next one; here it is read live,
so an account whose cooldowns ran out is available without waiting for a request.

An account whose refresh token was refused but whose access token still serves
(``credentials.suspend``) stays ``active`` and available, with a ``status_message`` naming
the refusal and the moment its token stops working (CPA's panel shows a message as a
warning, ``unavailable`` as broken) and ``refresh_refused`` (``message``, ``serves_until``);
once that moment has passed it is listed out of service, as CPA lists a refused account.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cliproxy.credentials.oauth_tokens import jwt_claims
from cliproxy.credentials.record import KIND_OAUTH, Credential, model_key, parse_bool, parse_int
from cliproxy.credentials.suspend import Refusal, refusal
from cliproxy.state.base import CooldownRecord
from cliproxy.times import format_local, parse_timestamp

if TYPE_CHECKING:
    from cliproxy.credentials.pool import Pool

__all__ = ["FILE_NAME", "auth_file_entry", "file_name", "go_time", "pool_entry", "recent_request_buckets"]

FILE_NAME = "file_name"  # the AuthData's FileName, else the shared file's name (CPA's Auth.FileName)
_BUCKET_SECONDS = 600
_BUCKETS = 20
_LAST_REFRESH_KEYS = ("last_refresh", "lastRefresh", "last_refreshed_at", "lastRefreshedAt")
_CODEX_CLAIMS = (
    ("chatgpt_account_id", "chatgpt_account_id"),
    ("chatgpt_plan_type", "plan_type"),
    ("chatgpt_subscription_active_start", "chatgpt_subscription_active_start"),
    ("chatgpt_subscription_active_until", "chatgpt_subscription_active_until"),
)


def file_name(cred: Credential) -> str:
    """The name a credential is listed and found by besides its id (CPA's ``FileName``):
    its file's name, or the one a plugin gave a credential it read out of a shared file."""
    return cred.attributes.get(FILE_NAME) or (cred.path.name if cred.path is not None else "")


def go_time(ts: float) -> str:
    """A Unix time as Go's JSON time: RFC 3339 with fraction and the local offset."""
    return format_local(ts)


def recent_request_buckets(now: float) -> list[dict[str, Any]]:
    """CPA's 20 ten-minute buckets (oldest first) with local ``HH:MM-HH:MM`` labels."""
    current = int(now) // _BUCKET_SECONDS
    out = []
    for bucket in range(current - _BUCKETS + 1, current + 1):
        start = datetime.fromtimestamp(bucket * _BUCKET_SECONDS)
        end = datetime.fromtimestamp((bucket + 1) * _BUCKET_SECONDS)
        out.append({"time": f"{start:%H:%M}-{end:%H:%M}", "success": 0, "failed": 0})
    return out


def auth_file_entry(
    cred: Credential,
    records: Sequence[CooldownRecord],
    now: float | None = None,
    counts: Mapping[str, Any] | None = None,
    *,
    refused: Refusal | None = None,
    used: Collection[str] | None = None,
) -> dict[str, Any] | None:
    """The listing entry for ``cred`` (``records``: its blocking cooldowns; ``counts``: its
    usage counters, CPA's ``success`` / ``failed`` / ``recent_requests``; ``refused``: the
    refusal of its refresh token; ``used``: the model keys it has answered or cooled for,
    None to count only those of ``records``), or None when CPA would not list it."""
    now = time.time() if now is None else now
    runtime_only = cred.attributes.get("runtime_only", "").lower() == "true"
    if cred.path is None and not runtime_only:
        return None
    if runtime_only and cred.disabled:
        return None
    entry = _base(cred, runtime_only, records, now, used)
    if refused is not None and not cred.disabled:
        _refused(entry, refused, now)
    if counts is not None:
        entry.update(counts)
    entry.update(_metadata_fields(cred))
    if cred.path is not None:
        entry.update(_file_fields(cred))
    return entry


async def pool_entry(
    pool: Pool, cred: Credential, now: float, counts: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """:func:`auth_file_entry` with ``cred``'s state read from ``pool`` (its cooldowns, the
    models it served, the refusal of its refresh token): the panel's and a plugin's listing."""
    records, at = await pool.state.credential_cooldowns(cred.id), pool.clock()
    blocking = [r for r in records if r.blocks(at)]
    used = {r.model for r in records}.union(map(model_key, await pool.served.models(cred.id)))
    used.discard("")
    refused = await refusal(pool, cred)
    return auth_file_entry(cred, blocking, now, counts, refused=refused, used=used)


def _base(
    cred: Credential,
    runtime_only: bool,
    records: Sequence[CooldownRecord],
    now: float,
    used: Collection[str] | None,
) -> dict[str, Any]:
    wide = next((r for r in records if not r.model), None)
    # a disabled account is not unavailable (CPA clears its cooldown state on disabling):
    # the panel tells it apart by ``disabled``, and paints any ``unavailable`` one red
    whole = not cred.disabled and (wide is not None or _all_cooling(records, used))
    status, message = _status(cred, records)
    entry: dict[str, Any] = {
        "id": cred.id,
        "auth_index": cred.index,
        "name": file_name(cred) or cred.id,
        "type": cred.provider,
        "provider": cred.provider,
        "label": cred.label,
        "status": status,
        "status_message": message,
        "disabled": cred.disabled,
        "unavailable": whole,
        "runtime_only": runtime_only,
        "source": "memory",
        "size": 0,
        "success": 0,
        "failed": 0,
        "recent_requests": recent_request_buckets(now),
    }
    if whole and (retry := _next_retry(wide, records)) > 0:
        entry["next_retry_after"] = go_time(retry)
    kind, account = _account(cred)
    if kind:
        entry["account_type"] = kind
    if account:
        entry["account"] = account
    return entry


def _refused(entry: dict[str, Any], refused: Refusal, now: float) -> None:
    until = refused.until
    entry["refresh_refused"] = {
        "message": refused.message,
        "serves_until": go_time(until) if until is not None else None,
    }
    if entry["status"] != "active":
        return
    if until is not None and until <= now:  # its token is due: out of service until a sign-in
        entry.update(status="error", status_message="unauthorized", unavailable=True)
        return
    when = go_time(until) if until is not None else "the upstream refuses it"
    entry["status_message"] = f"refresh token refused: its access token serves until {when}; sign in again"


def _all_cooling(records: Sequence[CooldownRecord], used: Collection[str] | None) -> bool:
    """Whether the model ``records`` (those blocking now) cover every model in ``used``:
    CPA's ``allUnavailable`` over its model states; False when none blocks."""
    if not records:
        return False
    return used is None or {r.model for r in records}.issuperset(used)


def _next_retry(wide: CooldownRecord | None, records: Sequence[CooldownRecord]) -> float:
    """When the credential serves again: a credential-wide record's end, else (as CPA's
    ``updateAggregatedAvailability`` takes it when its model states are all blocked) the
    earliest end among the model records; 0 when nothing blocks."""
    if wide is not None:
        return wide.until()
    return min((until for r in records if (until := r.until()) > 0), default=0.0)


def _status(cred: Credential, records: Sequence[CooldownRecord]) -> tuple[str, str]:
    if cred.disabled:
        return "disabled", ""
    if records:
        # A credential-wide block explains the whole account's state (an account out of
        # service until it signs in again says so, not the 401 body that put it there);
        # otherwise CPA's status message is its latest failure's (a model's, on a tie).
        wide = [r for r in records if not r.model]
        last = max(wide or records, key=lambda r: (r.updated_at, bool(r.model)))
        return "error", last.status_message or last.reason
    return "active", ""


def _account(cred: Credential) -> tuple[str, str]:
    if cred.kind == KIND_OAUTH:
        return "oauth", cred.email
    return "api_key", cred.api_key


def _metadata_fields(cred: Credential) -> dict[str, Any]:
    meta, attrs = cred.metadata, cred.attributes
    out: dict[str, Any] = {}
    if cred.email:
        out["email"] = cred.email
    project = meta.get("project_id")
    if isinstance(project, str) and project.strip():
        out["project_id"] = project.strip()
    if (last := _last_refresh(meta)) is not None:
        out["last_refresh"] = go_time(last)
    if "priority" in attrs or "priority" in meta:
        out["priority"] = cred.priority
    meta_note = meta.get("note")
    note = attrs.get("note") or (meta_note.strip() if isinstance(meta_note, str) else "")
    if note:
        out["note"] = note
    if "weight" in attrs or "weight" in meta:
        out["weight"] = cred.weight
    websockets = parse_bool(attrs.get("websockets", meta.get("websockets")))
    if websockets is not None:
        out["websockets"] = websockets
    if cred.request_retry is not None:
        out["request_retry"] = cred.request_retry
    if cred.provider == "codex" and (claims := _codex_claims(meta)):
        out["id_token"] = claims
    return out


def _file_fields(cred: Credential) -> dict[str, Any]:
    assert cred.path is not None
    out: dict[str, Any] = {"path": str(cred.path), "source": "file"}
    try:
        info = os.stat(cred.path)
    except OSError:
        out["source"] = "memory"
        return out
    out.update(
        {"size": info.st_size, "modtime": go_time(info.st_mtime), "updated_at": go_time(info.st_mtime)}
    )
    return out


def _last_refresh(meta: dict[str, Any]) -> float | None:
    for key in _LAST_REFRESH_KEYS:
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                return parse_timestamp(text, assume=None)  # no offset: local time
            except ValueError:
                number = parse_int(text)
                if number is not None and number > 0:
                    return float(number)
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def _codex_claims(meta: dict[str, Any]) -> dict[str, Any]:
    token = meta.get("id_token")
    if not isinstance(token, str) or not token.strip():
        return {}
    auth = jwt_claims(token.strip()).get("https://api.openai.com/auth")
    if not isinstance(auth, dict):
        return {}
    return {name: auth[key] for key, name in _CODEX_CLAIMS if auth.get(key) not in (None, "")}
