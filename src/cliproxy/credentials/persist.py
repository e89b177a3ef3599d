"""``save-cooldown-status``: cooldowns kept in ``.cds`` files beside the auth files.

One JSON file per credential, in CPA's format::

    {"version": 1, "auth_id": "...", "provider": "...", "updated_at": "<RFC 3339>",
     "records": [{"provider", "auth_id", "model", "status": "cooling",
                  "next_retry_after", "reason", "quota": {...}, "last_error": {...},
                  "updated_at"}]}

A file credential ``sub/claude-a.json`` writes ``sub/claude-a.cds``; a config
credential writes its id with unsafe characters replaced (``claude_apikey_<hash>.cds``).
Files are written atomically (temp file + rename) and removed when nothing cools, or
when their credential is gone for good (:meth:`Pool.replace`, :func:`restore`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from ..state.base import CooldownRecord
from ..times import GO_ZERO_TIME, format_utc, parse_timestamp
from .pool import Pool
from .record import Credential, model_key
from .reloaded import file_missing
from .storage import write_json

__all__ = [
    "CdsStore",
    "cds_path",
    "cds_rel",
    "format_time",
    "parse_time",
    "record_from_json",
    "record_to_json",
    "restore",
]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class CdsStore:
    """Writes and reads ``.cds`` files under ``auth_dir`` (a :class:`~.pool.CooldownStore`)."""

    def __init__(self, auth_dir: str | Path) -> None:
        self.auth_dir = Path(auth_dir)

    def save(self, cred: Credential, records: Sequence[CooldownRecord]) -> None:
        path = cds_path(self.auth_dir, cred)
        if path is None:
            return
        try:
            if records:
                _write_atomic(path, _envelope(cred, records))
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("failed to persist cooldown state %s: %s", path, exc)

    def load(self) -> list[CooldownRecord]:
        """Every record of every ``.cds`` file (unreadable files are skipped)."""
        return [record for _, records in self.files() for record in records]

    def files(self) -> list[tuple[Path, list[CooldownRecord]]]:
        """Every ``.cds`` file with its records (unreadable files are skipped)."""
        out: list[tuple[Path, list[CooldownRecord]]] = []
        for path in sorted(self.auth_dir.rglob("*")):
            if path.suffix.lower() != ".cds" or not path.is_file():
                continue
            try:
                data = orjson.loads(path.read_bytes() or b"{}")
            except (OSError, orjson.JSONDecodeError) as exc:
                log.warning("skipping cooldown state %s: %s", path, exc)
                continue
            raw = data.get("records") if isinstance(data, dict) else None
            out.append((path, [r for r in (record_from_json(item) for item in raw or ()) if r is not None]))
        return out


async def restore(pool: Pool, auth_dir: str | Path) -> int:
    """Load ``.cds`` files into the pool's state; expired, unknown or disabled ones are skipped.

    A model saved with a thinking suffix (``name(high)``, an older CPA's files) cools the
    model itself, until the latest of its records (CPA's canonical model key). The files
    of the credentials found are written again as restored (expired records and suffixes
    gone), as CPA saves once after restoring. Call after :meth:`Pool.replace` at start-up.
    Returns how many records were restored.

    A file whose records all name auth files no longer on disk is deleted: their
    credentials were removed while the proxy was down (CPA's restore deletes every file no
    loaded credential wrote; here those of config keys and plugins stay, as those may not
    be loaded yet).
    """
    now = pool.clock()
    root = Path(auth_dir)
    files = CdsStore(root).files()
    latest: dict[tuple[str, str], CooldownRecord] = {}
    for path, records in files:
        ids = {r.credential_id for r in records}
        if ids and all(pool.get(cid) is None and _file_gone(root, cid) for cid in ids):
            path.unlink(missing_ok=True)
    for record in (record for _, records in files for record in records):
        record.model = model_key(record.model)
        key = (record.credential_id, record.model)
        found = latest.get(key)
        if found is None or record.until() > found.until():
            latest[key] = record
    restored = 0
    seen: dict[str, Credential] = {}
    for record in latest.values():
        cred = pool.get(record.credential_id)
        if cred is None or cred.id != record.credential_id:
            continue
        seen[cred.id] = cred
        if cred.disabled or not record.blocks(now):
            continue
        if pool.disable_cooling if cred.disable_cooling is None else cred.disable_cooling:
            continue
        await pool.state.set_cooldown(record)
        restored += 1
    if pool.store is not None:
        for cred in seen.values():
            pool.store.save(cred, await pool.cooldowns(cred))
    return restored


def _file_gone(auth_dir: Path, cred_id: str) -> bool:
    """``cred_id`` names an auth file (its path under the auth dir) that is not there."""
    return cred_id.lower().endswith(".json") and file_missing(auth_dir / cred_id)


def cds_path(auth_dir: Path, cred: Credential) -> Path | None:
    """Where the credential's ``.cds`` file lives (CPA's naming), or None."""
    if cred.path is not None:
        try:
            rel = Path(os.path.relpath(cred.path, auth_dir))
        except ValueError:
            rel = Path(cred.path.name)
        if rel.parts and rel.parts[0] == "..":
            rel = Path(cred.path.name)
        name = _safe_name(rel.name)
        return auth_dir / rel.parent / name if name else None
    name = _safe_name(cred.id)
    return auth_dir / name if name else None


def cds_rel(auth_id: str) -> str:
    """Where the ``.cds`` file of credential ``auth_id`` lives under the auth dir (a POSIX
    path, as :func:`cds_path` names it: an auth file's id is its path there); ``""`` when
    the id gives no name."""
    pure = PurePosixPath(auth_id.strip().replace("\\", "/"))
    if not pure.parts or pure.is_absolute() or ".." in pure.parts:
        return ""
    name = _safe_name(pure.name) if auth_id.lower().endswith(".json") else _safe_name(auth_id)
    if not name:
        return ""
    return (pure.parent / name).as_posix() if auth_id.lower().endswith(".json") else name


def _safe_name(name: str) -> str:
    name = name.strip()
    stem, ext = os.path.splitext(name)
    if ext:
        name = stem
    name = _UNSAFE.sub("_", name).strip("._-")
    return f"{name}.cds" if name else ""


def _envelope(cred: Credential, records: Sequence[CooldownRecord]) -> dict[str, Any]:
    ordered = sorted(records, key=lambda r: r.model)
    return {
        "version": 1,
        "auth_id": cred.id,
        "provider": cred.provider,
        "updated_at": format_time(datetime.now(UTC).timestamp()),
        "records": [record_to_json(r, cred.provider) for r in ordered],
    }


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    write_json(path, payload)


def record_to_json(record: CooldownRecord, provider: str = "") -> dict[str, Any]:
    """A record in CPA's ``CooldownStateRecord`` JSON shape."""
    out: dict[str, Any] = {"provider": record.provider or provider, "auth_id": record.credential_id}
    if record.model:
        out["model"] = record.model
    out.update({"status": "cooling", "next_retry_after": format_time(record.until())})
    reason = record.quota_reason or record.status_message or record.reason
    if reason:
        out["reason"] = reason
    quota: dict[str, Any] = {"exceeded": record.quota_exceeded}
    if record.quota_reason:
        quota["reason"] = record.quota_reason
    quota["next_recover_at"] = format_time(record.next_recover_at)
    if record.backoff_level:
        quota["backoff_level"] = record.backoff_level
    out["quota"] = quota
    if record.last_error:
        out["last_error"] = record.last_error
    out["updated_at"] = format_time(record.updated_at)
    return out


def record_from_json(item: Any) -> CooldownRecord | None:
    """Parse one CPA record; None when it has no auth id or no usable deadline."""
    if not isinstance(item, dict) or not str(item.get("auth_id") or "").strip():
        return None
    quota = item.get("quota")
    if not isinstance(quota, dict):
        quota = {}
    next_retry = parse_time(item.get("next_retry_after"))
    recover = parse_time(quota.get("next_recover_at"))
    exceeded = quota.get("exceeded") is True
    reason = str(item.get("reason") or "").strip()
    last_error = item.get("last_error") if isinstance(item.get("last_error"), dict) else None
    return CooldownRecord(
        credential_id=str(item["auth_id"]).strip(),
        model=str(item.get("model") or "").strip(),
        provider=str(item.get("provider") or ""),
        next_retry_after=next_retry,
        reason=reason,
        status_message=reason,
        quota_exceeded=exceeded,
        quota_reason=str(quota.get("reason") or ""),
        next_recover_at=recover or (next_retry if exceeded else 0.0),
        backoff_level=int(quota.get("backoff_level") or 0),
        last_error=last_error,
        updated_at=parse_time(item.get("updated_at")),
    )


def format_time(ts: float) -> str:
    """RFC 3339 in UTC like Go's ``time.Time`` JSON; 0 is Go's zero time."""
    if ts <= 0:
        return GO_ZERO_TIME
    return format_utc(ts, "microseconds")


def parse_time(raw: Any) -> float:
    """Seconds since the epoch from an RFC 3339 string (up to nanoseconds); 0 if absent."""
    if not isinstance(raw, str) or not raw.strip() or raw.startswith("0001-01-01"):
        return 0.0
    try:
        return parse_timestamp(raw)  # no offset: UTC
    except ValueError:
        return 0.0
