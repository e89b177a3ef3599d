"""The start-up and reload warnings about the access settings and the config's keys."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cliproxy.access import AccessPolicy
from cliproxy.config import Config
from cliproxy.config import effective as config_keys

__all__ = ["KeyNotes", "access", "remote", "restart_needed"]

log = logging.getLogger(__name__)

# read once when the process starts: the listener's (cliproxy.server.guard), the server
# engine, the worker count (the supervisor's), the state backend (the service's) and the
# token refresher's pool size (as in CPA, whose refresh loop reads it when it starts); a
# reload cannot change them
_RESTART_KEYS: tuple[tuple[str, Callable[[Config], object]], ...] = (
    ("timeouts.client-header", lambda c: c.timeouts.client_header),
    ("timeouts.client-keepalive", lambda c: c.timeouts.client_keepalive),
    ("limits.max-body-mb", lambda c: c.limits.max_body_mb),
    ("limits.max-connections", lambda c: c.limits.max_connections),
    ("limits.max-connections-per-ip", lambda c: c.limits.max_connections_per_ip),
    ("tls", lambda c: (c.tls.enable, c.tls.cert, c.tls.key)),
    ("server-engine", lambda c: c.server_engine),
    ("workers", lambda c: c.workers),
    ("state", lambda c: (c.state.backend, c.state.url, c.state.prefix)),
    ("auth-auto-refresh-workers", lambda c: c.auth_auto_refresh_workers),
)


def access(control: AccessPolicy, config: Config) -> None:
    """At start: who may use the proxy when that is not what a user may assume."""
    if control.safe_mode:
        log.warning(
            "api-keys still holds the example keys %s: proxy routes answer 403 until you replace them",
            ", ".join(control.example_keys),
        )
    elif control.open and not config.allow_unauthenticated_remote:
        log.warning(
            "api-keys is empty: only clients on this machine (loopback) may use the proxy; "
            "others get 401. Add api-keys to your config to require a key."
        )
    remote(control, config)


def remote(control: AccessPolicy, config: Config) -> None:
    """Warn while ``allow-unauthenticated-remote`` is on, or ``ws-auth`` is off where keys
    guard the rest (at start and on every reload)."""
    if not config.ws_auth and not control.open:
        log.warning(
            "ws-auth is off: anyone who can reach the proxy (a web page in a browser too) can "
            "attach an AI Studio relay at /v1/ws without a key, and be sent the requests for "
            "its models. Set ws-auth: true unless every peer that can reach it is trusted."
        )
    if not config.allow_unauthenticated_remote:
        return
    if control.open:
        log.warning(
            "allow-unauthenticated-remote is on and api-keys is empty: ANYONE who can reach "
            "the proxy can spend your credentials. Add api-keys to your config to require a key."
        )
    else:
        log.warning("allow-unauthenticated-remote is on; it has no effect while api-keys are set")


class KeyNotes:
    """One WARNING naming the keys set that have no effect yet, one naming unknown keys, one
    naming values not understood: at start, and on a reload only when a list changed;
    deprecated keys once."""

    def __init__(self) -> None:
        self._notes: tuple[list[str], list[str], list[str]] = ([], [], [])
        self._deprecated_noted = False

    def announce(self, config: Config) -> None:
        notes = (
            config_keys.not_effective_keys(config),
            config_keys.unknown_keys(config),
            config_keys.ignored_values(config),
        )
        previous, self._notes = self._notes, notes
        if notes[0] and notes[0] != previous[0]:
            log.warning("%s", config_keys.not_effective_warning(notes[0]))
        if notes[1] and notes[1] != previous[1]:
            log.warning("%s", config_keys.unknown_keys_warning(notes[1]))
        if notes[2] and notes[2] != previous[2]:
            log.warning("%s", config_keys.ignored_values_warning(notes[2]))
        if not self._deprecated_noted and (deprecated := config_keys.deprecated_keys(config)):
            self._deprecated_noted = True
            log.warning("%s", config_keys.deprecated_warning(deprecated))


def restart_needed(old: Config, new: Config) -> None:
    """At a reload: the changed settings only a restart applies (host, port, the listener's,
    the server engine, the worker count, the state backend)."""
    if (new.host, new.port) != (old.host, old.port):
        log.warning("host/port changed in the config; that takes effect after a restart")
    restart = [key for key, get in _RESTART_KEYS if get(new) != get(old)]
    if restart:
        log.warning("%s changed in the config; that takes effect after a restart", ", ".join(restart))
