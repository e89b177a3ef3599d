"""The credential record: one API key from config.yaml or one auth-dir JSON file.

A :class:`Credential` is immutable configuration; its runtime state (cooldowns,
cursors, bindings) lives in :mod:`cliproxy.state`, keyed by :attr:`Credential.id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..times import parse_rfc3339

__all__ = [
    "DEFAULT_WEIGHT",
    "EXPIRY_KEYS",
    "KIND_APIKEY",
    "KIND_OAUTH",
    "MAX_WEIGHT",
    "Credential",
    "ModelAlias",
    "ScopedErrorRule",
    "model_key",
    "parse_bool",
    "parse_int",
    "parse_limit",
]

KIND_APIKEY = "apikey"
KIND_OAUTH = "oauth"
DEFAULT_WEIGHT = 1
MAX_WEIGHT = 1_000_000
EXPIRY_KEYS = ("expired", "expire", "expires_at", "expiresAt", "expiry", "expires")


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """``models[]`` of an API key: upstream ``name`` exposed to clients as ``alias``."""

    name: str
    alias: str = ""


@dataclass(frozen=True, slots=True)
class ScopedErrorRule:
    """A ``request-scoped-errors`` rule (CPA's YAML/JSON key is ``match-regexr``)."""

    status: int
    match: tuple[str, ...] = ()
    match_regexr: tuple[str, ...] = ()
    action: str = ""


@dataclass(slots=True, eq=False)
class Credential:
    """One upstream credential. ``index`` is CPA's 16-hex ``auth_index``."""

    id: str
    provider: str
    kind: str = KIND_APIKEY
    index: str = ""
    label: str = ""
    prefix: str = ""
    priority: int = 0
    weight: int = DEFAULT_WEIGHT  # 0 excludes the credential from weighted round-robin
    max_concurrency: int = 0  # requests in flight at once (0: routing.max-concurrency's, else unlimited)
    disabled: bool = False
    proxy_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    api_key: str = ""
    compat_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    models: tuple[ModelAlias, ...] = ()
    excluded_models: tuple[str, ...] = ()
    model_aliases: tuple[dict[str, Any], ...] = ()
    request_retry: int | None = None
    disable_cooling: bool | None = None
    request_scoped_errors: tuple[ScopedErrorRule, ...] = ()
    path: Path | None = None
    source: str = ""
    attributes: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def email(self) -> str:
        value = self.metadata.get("email")
        return value.strip() if isinstance(value, str) else ""

    @property
    def access_token(self) -> str:
        """The OAuth access token (top level, or nested under ``token``), else ``""``; a
        file that spells it ``accessToken`` is read too, as CPA's manager reads it."""
        if not self.metadata:  # an API key: read per request, so no lookups
            return ""
        return _token(self.metadata, "access_token", "accessToken")

    @property
    def refresh_token(self) -> str:
        """The refresh token, spelled as ``access_token`` is (``refreshToken`` too: CPA
        refreshes a file that has only that spelling)."""
        if not self.metadata:
            return ""
        return _token(self.metadata, "refresh_token", "refreshToken")

    def expires_at(self) -> datetime | None:
        """Token expiry from CPA's expiry keys (also nested under ``token``), or None."""
        return _expiry_from(self.metadata)


def _token(meta: dict[str, Any], name: str, camel: str) -> str:
    """``name`` at the top level or under ``token``, else ``camel`` there (the first
    non-blank string), else ``""``."""
    nested = meta.get("token")
    for key in (name, camel):
        for source in (meta, nested):
            if isinstance(source, dict):
                value = source.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
    return ""


def _expiry_from(meta: Any) -> datetime | None:
    if not isinstance(meta, dict):
        return None
    for key in EXPIRY_KEYS:
        if key in meta and (when := _parse_time(meta[key])) is not None:
            return when
    for nested in ("token", "Token"):
        if (when := _expiry_from(meta.get(nested))) is not None:
            return when
    return None


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_unix(int(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return parse_rfc3339(text)  # no offset: UTC
    except ValueError:
        return _from_unix(int(text)) if text.lstrip("-").isdigit() else None


def _from_unix(raw: int) -> datetime | None:
    if raw <= 0:
        return None
    if raw > 1_000_000_000_000:  # milliseconds
        return datetime.fromtimestamp(raw / 1000, UTC)
    return datetime.fromtimestamp(raw, UTC)


def model_key(model: str) -> str:
    """CPA's canonical model key: trimmed, thinking suffix ``name(...)`` removed."""
    model = model.strip()
    if model.endswith(")"):
        cut = model.rfind("(")
        if cut > 0:
            return model[:cut].strip() or model
    return model


def parse_bool(value: Any) -> bool | None:
    """A JSON value read as a boolean the way CPA does; None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "t", "true"):
            return True
        if text in ("0", "f", "false"):
            return False
    return None


def parse_limit(value: Any) -> int:
    """A ``max-concurrency`` value: a positive integer, anything else 0 (no limit of its own)."""
    found = parse_int(value)
    return found if found is not None and found > 0 else 0


def parse_int(value: Any) -> int | None:
    """A JSON value read as an integer the way CPA does; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
