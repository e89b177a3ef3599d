"""Plugin version strings: normalising and the update check (CPA: ``internal/pluginstore/version.go``)."""

from __future__ import annotations

__all__ = ["normalize_version", "update_available"]


def normalize_version(version: str) -> str:
    version = version.strip()
    return version[1:] if len(version) > 1 and version[0] in "vV" else version


def _numbers(version: str) -> list[int] | None:
    parts = version.split(".")
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else None


def update_available(installed: str, latest: str) -> bool:
    """Whether ``latest`` is an upgrade over ``installed``: numeric when both are dotted
    numbers (a newer local build is no update), any difference otherwise."""
    a, b = normalize_version(installed), normalize_version(latest)
    if not a or not b or a == b:
        return False
    na, nb = _numbers(a), _numbers(b)
    if na is None or nb is None:
        return True
    width = max(len(na), len(nb))
    return na + [0] * (width - len(na)) < nb + [0] * (width - len(nb))
