"""``claude-header-defaults.stabilize-device-profile``: the Claude Code software profile a
credential shows upstream, pinned per credential as CPA pins it.

With the switch on, a confirmed Claude Code contributes its own profile (User-Agent,
``X-Stainless-Package-Version`` / ``-Runtime-Version``) only when its software equals the
configured baseline exactly; its platform (``X-Stainless-Os`` / ``-Arch``) is always the
baseline's. The first such profile seen for a credential is kept for seven days (each use
renews it), separately per Claude Code entrypoint (``cli`` / ``sdk-cli`` / ``claude-vscode``),
so one subscription keeps showing one device. A request that brings no acceptable profile
reuses the credential's pinned CLI profile, else the baseline. Other clients always get the
baseline (the same as without the switch).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from cliproxy.providers import claude_identity as ident

__all__ = ["Software", "reset", "resolve"]

PROFILE_TTL = 7 * 24 * 3600.0
_MAX_ENTRIES = 4096
_PACKAGE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_RUNTIME = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")
_ENTRYPOINT = re.compile(r"(?i)^claude-cli/\S+\s+\(external,\s*([^,)]+)")
_NATIVE = frozenset({"sdk-cli", "claude-vscode"})


@dataclass(frozen=True, slots=True)
class Software:
    """The five device headers of one upstream request."""

    user_agent: str
    package_version: str
    runtime_version: str
    os: str
    arch: str


# (credential id, entrypoint scope) -> (profile, expiry on the monotonic clock)
_PINNED: dict[tuple[str, str], tuple[Software, float]] = {}


def reset() -> None:
    """Forget every pinned profile."""
    _PINNED.clear()


def _baseline(p: ident.DeviceProfile) -> Software:
    return Software(p.user_agent, p.package_version, p.runtime_version, p.os, p.arch)


def _scope(user_agent: str) -> str:
    """The entrypoint scope: the CLI keeps the credential's base scope."""
    found = _ENTRYPOINT.match(user_agent)
    entry = found.group(1).strip().lower() if found else ""
    if entry in ("", "cli"):
        return ""
    return entry if entry in _NATIVE else "other"


def _candidate(incoming: Mapping[str, str], p: ident.DeviceProfile) -> Software | None:
    """The client's own profile when it is a measured Claude Code at exactly the baseline."""
    ua = ident.header(incoming, "user-agent").strip()
    if not ident.plausible_user_agent(ua, p):
        return None
    package = ident.header(incoming, "x-stainless-package-version").strip()
    runtime = ident.header(incoming, "x-stainless-runtime-version").strip()
    package = package if _PACKAGE.match(package) else p.package_version
    runtime = runtime if _RUNTIME.match(runtime) else p.runtime_version
    if package != p.package_version or runtime != p.runtime_version:
        return None
    return Software(ua, package, runtime, p.os, p.arch)


def _normalized(found: Software, p: ident.DeviceProfile) -> Software:
    """A pinned profile under the current baseline: its platform, and its software when
    the pinned one no longer matches (the baseline was changed by a reload)."""
    if (
        ident.plausible_user_agent(found.user_agent, p)
        and found.package_version == p.package_version
        and found.runtime_version == p.runtime_version
    ):
        return Software(found.user_agent, found.package_version, found.runtime_version, p.os, p.arch)
    return _baseline(p)


def resolve(
    cred_id: str, incoming: Mapping[str, str], p: ident.DeviceProfile, *, confirmed: bool
) -> Software:
    """The device headers of a request to credential ``cred_id`` with stabilizing on."""
    if not confirmed:
        return _baseline(p)
    now = time.monotonic()
    candidate = _candidate(incoming, p)
    key = (cred_id, _scope(candidate.user_agent) if candidate else "")
    entry = _PINNED.get(key)
    if entry is not None and entry[1] > now:
        # a pinned profile is only replaced by a newer version, and a candidate is always
        # the baseline's version: the pinned one stays
        chosen = _normalized(entry[0], p)
    elif candidate is not None:
        chosen = candidate
    else:
        return _baseline(p)
    if len(_PINNED) >= _MAX_ENTRIES and key not in _PINNED:
        for old in [k for k, (_, exp) in _PINNED.items() if exp <= now] or list(_PINNED)[: _MAX_ENTRIES // 2]:
            del _PINNED[old]
    _PINNED[key] = (chosen, now + PROFILE_TTL)
    return chosen
