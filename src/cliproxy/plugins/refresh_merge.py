"""A plugin's token refresh joined to its credential as the credential is when it ends.

A plugin's ``auth.refresh`` works on the credential it began with, and takes a while;
meanwhile the panel may disable the credential or change any field (it rewrites the file,
and the reload puts a new credential in the pool). What the refresh changed on its copy
(:func:`snapshot` before, :func:`settle` after) is set on the pool's credential and in the
file as they are when it ends, so such an edit stays: the plugins' side of the token
refresher's ``Refresher._commit``. A file removed meanwhile stays removed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.plugins.models import VIRTUAL, save_token

__all__ = ["Snapshot", "settle", "snapshot"]

# the fields a plugin's answer (or the compat wrapper: api_key, base_url) may set
_FIELDS = ("label", "prefix", "proxy_url", "disabled", "weight", "api_key", "base_url")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A credential as its refresh began (copies: the refresh changes the credential)."""

    fields: tuple[Any, ...]
    metadata: dict[str, Any]
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Change:
    fields: dict[str, Any]
    metadata: dict[str, Any]
    dropped: tuple[str, ...]  # metadata keys the refresh removed (renamed by normalisation)
    attributes: dict[str, str]

    def onto(self, cred: Credential) -> Credential:
        metadata = {k: v for k, v in cred.metadata.items() if k not in self.dropped}
        metadata.update(self.metadata)
        attributes = {**cred.attributes, **self.attributes}
        return dataclasses.replace(cred, **self.fields, metadata=metadata, attributes=attributes)

    def write(self, path: Path, provider: str) -> None:
        """Into the file as it is now; a file that is gone stays gone."""
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        for key in self.dropped:
            data.pop(key, None)
        data.update(self.metadata)
        data["type"] = provider
        save_token(path, data)


def snapshot(cred: Credential) -> Snapshot:
    return Snapshot(tuple(getattr(cred, f) for f in _FIELDS), dict(cred.metadata), dict(cred.attributes))


async def settle(pool: Pool | None, cred: Credential, before: Snapshot) -> Credential:
    """``cred``, changed by its refresh from ``before``, into its file (one of several
    credentials of a file stays in memory, as CPA keeps it) and into ``pool`` (when given):
    the pool's credential of that id with the refresh's changes, unless it is ``cred``
    itself (changed in place) or gone. The credential the pool holds afterwards (``cred``
    when none)."""
    change = _changes(before, cred)
    if cred.path is not None and not cred.attributes.get(VIRTUAL):
        change.write(cred.path, cred.provider)
    current = pool.get(cred.id) if pool is not None else None
    if pool is None or current is None or current is cred:
        return cred
    updated = change.onto(current)
    creds = pool.credentials()
    renewed = pool.replace(updated if c.id == updated.id else c for c in creds)
    await pool.forget_refusals([*renewed, updated.id])  # the new token has not been refused
    return updated


def _changes(before: Snapshot, after: Credential) -> _Change:
    fields = {
        f: value for f, old in zip(_FIELDS, before.fields, strict=True) if (value := getattr(after, f)) != old
    }
    metadata = {k: v for k, v in after.metadata.items() if before.metadata.get(k, _MISSING) != v}
    dropped = tuple(k for k in before.metadata if k not in after.metadata)
    attributes = {k: v for k, v in after.attributes.items() if before.attributes.get(k) != v}
    return _Change(fields, metadata, dropped, attributes)
