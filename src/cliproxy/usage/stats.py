"""Usage statistics of one service: counters, the ledger and the metrics, fed together.

When a request ends, ``Recorder.finished`` (on the event loop, one function per request)
updates the in-memory counters (a few additions), hands one row tuple to the ledger's
queue and, when metrics are on, calls ``observe_metrics``; it reads what this class keeps
per client key (``keys``) and per credential (``sources``) and calls ``key_of`` /
``source`` on a miss. Everything slower happens in the ledger's thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliproxy.usage.counters import Tokens, UsageCounters
from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import open_store
from cliproxy.usage.mask import hide_key
from cliproxy.usage.metrics import Metrics
from cliproxy.usage.record import source_of
from cliproxy.usage.restore import restore_counters

if TYPE_CHECKING:
    from cliproxy.config import Config
    from cliproxy.usage.trace import RequestTrace

__all__ = ["LEDGER_FILE", "UsageStats", "key_id", "ledger_files", "ledger_path"]

log = logging.getLogger(__name__)

LEDGER_FILE = "usage.sqlite"
_KEY_IDS: dict[str, str] = {}


def key_id(api_key: str) -> str:
    """A stable id for a client API key (the key itself is never stored)."""
    if not api_key:
        return ""
    found = _KEY_IDS.get(api_key)
    if found is None:
        found = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        if len(_KEY_IDS) < 4096:
            _KEY_IDS[api_key] = found
    return found


def ledger_path(config: Config) -> Path:
    """``usage-ledger.path``, else ``usage.sqlite`` in the auth-dir's parent."""
    if config.usage_ledger.path:
        return Path(config.usage_ledger.path)
    return Path(config.auth_dir).expanduser().resolve().parent / LEDGER_FILE


def ledger_files(config: Config) -> tuple[Path, ...]:
    """The files an SQLite ledger writes (none for Postgres or no ledger): the config
    watcher drops their events."""
    lc = config.usage_ledger
    if not lc.enabled or lc.postgres_url:
        return ()
    path = ledger_path(config)
    return (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal")))


class UsageStats:
    def __init__(self) -> None:
        self.counters = UsageCounters()
        self.key_labels: dict[str, str] = {}  # key id -> masked key
        self.ledger: Ledger | None = None
        self.metrics: Metrics | None = None
        self._ledger_spec: tuple[str, str] | None = None
        # an SQLite file that does not exist yet is created with the first row (a proxy that
        # serves nothing leaves no file behind)
        self._deferred: tuple[tuple[str, str], int] | None = None
        self.sources: dict[str, tuple[Any, str]] = {}  # credential id -> (it, its row source)
        self.keys: dict[str, tuple[str, str]] = {}  # client key -> (key id, label): key_of

    # -- configuration

    def sync(self, config: Config) -> None:
        """Open, reopen or close the ledger and the metrics as ``config`` says."""
        if config.metrics.enabled and self.metrics is None:
            self.metrics = Metrics()
        elif not config.metrics.enabled:
            self.metrics = None
        lc = config.usage_ledger
        spec = None
        if lc.enabled:
            spec = ("postgres", lc.postgres_url) if lc.postgres_url else ("sqlite", str(ledger_path(config)))
        if spec != self._ledger_spec:
            self._ledger_spec = spec
            self._close_ledger()
            self._deferred = None
            if spec is not None and spec[0] == "sqlite" and not Path(spec[1]).exists():
                self._deferred = (spec, lc.retention_days)
            elif spec is not None:
                self._open_ledger(spec, lc.retention_days)
        if self.ledger is not None:
            self.ledger.retention_days = lc.retention_days

    def open_ledger(self) -> Ledger | None:
        """The ledger, opened now if its file was waiting for a first row."""
        deferred, self._deferred = self._deferred, None
        if self.ledger is None and deferred is not None:
            self._open_ledger(*deferred)
        return self.ledger

    def _open_ledger(self, spec: tuple[str, str], retention_days: int) -> None:
        kind, where = spec
        if kind == "sqlite" and not _writable(Path(where)):
            log.warning("usage ledger off: %s is not writable (set usage-ledger.path)", where)
            return
        ledger = Ledger(
            open_store(Path(where) if kind == "sqlite" else None, where if kind != "sqlite" else "")
        )
        ledger.retention_days = retention_days
        try:
            ledger.start()
            self.counters.clear()
            restore_counters(ledger, self.counters, self.key_labels, time.time())
            self.keys.clear()  # the labels restored win, as they did before a request read them
        except Exception as exc:  # a database we cannot open: the proxy still serves
            log.warning("usage ledger off: cannot open %s: %s", ledger.store.name, exc)
            ledger.close()
            return
        log.info("usage ledger: %s", ledger.store.name)
        self.ledger = ledger

    def _close_ledger(self) -> None:
        ledger = self.ledger
        if ledger is not None:
            ledger.close()
            self.ledger = None
            if ledger.written:
                log.info(
                    "usage ledger closed: %d row(s) written, %d dropped; %.1f us writer CPU a row",
                    ledger.written,
                    ledger.dropped,
                    ledger.write_cpu / ledger.written * 1e6,
                )

    def close(self) -> None:
        self._close_ledger()

    # -- per request (``Recorder.finished`` reads ``keys``, ``sources`` and the uid parts
    # inline and calls these on a miss: it runs once per request)

    def key_of(self, api_key: str) -> tuple[str, str]:
        """A client key's id and masked label, remembered in ``keys``."""
        kid = key_id(api_key)
        labels = self.key_labels
        label = labels.get(kid)
        if label is None:
            label = labels[kid] = hide_key(api_key)
        found = (kid, label)
        if len(self.keys) < 4096:
            self.keys[api_key] = found
        return found

    def source(self, cred: Any) -> str:
        """The row's ``source`` for a credential (remembered per credential object: a
        reloaded credential of the same id is another object, and is looked at again)."""
        key = cred.id
        try:  # a subscript, not ``dict.get``: no call on a hit
            found = self.sources[key]
        except KeyError:
            found = None
        if found is None or found[0] is not cred:
            if len(self.sources) > 4096:
                self.sources.clear()
            found = self.sources[key] = (cred, source_of(cred, ""))
        return found[1]

    def observe_metrics(
        self,
        t: RequestTrace,
        provider: str,
        status: int,
        tokens: Tokens,
        elapsed: float,
        ttft: float | None,
    ) -> None:
        """A finished request's metrics (while ``metrics`` is on)."""
        m = self.metrics
        if m is None:
            return
        attempts = t.attempts
        m.observe(
            model=t.model,
            provider=provider,
            status=status,
            tokens=tokens,
            duration=elapsed,
            ttfb=ttft,
            attempts=[
                (
                    a.auth_provider,
                    (a.received - a.sent) if a.received is not None else None,
                    a.status is not None and a.status < 400,
                )
                for a in attempts
            ],
            failovers=len({a.auth_index for a in attempts}) - 1 if len(attempts) > 1 else 0,
        )
        for prov, scope in t.cooldowns:
            m.cooled(prov, scope)

    # -- panel views

    def auth_entry(self, index: str, now: float) -> dict[str, Any] | None:
        c = self.counters.by_auth.get(index)
        return c.entry(now) if c is not None else None


def _writable(path: Path) -> bool:
    folder = path.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return os.access(probe, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
