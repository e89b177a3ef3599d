"""Usage statistics of one service: counters, the ledger and the metrics, fed together.

``observe(trace, usage)`` runs on the event loop when a request ends: it updates the
in-memory counters (a few additions), hands one row tuple to the ledger's queue and, when
metrics are on, updates them. Everything slower happens in the ledger's thread.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliproxy.usage.counters import UsageCounters
from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import open_store
from cliproxy.usage.mask import hide_key
from cliproxy.usage.metrics import Metrics
from cliproxy.usage.record import source_of
from cliproxy.usage.restore import restore_counters

if TYPE_CHECKING:
    from cliproxy.config import Config
    from cliproxy.formats import ir
    from cliproxy.usage.trace import RequestTrace

__all__ = ["LEDGER_FILE", "UsageStats", "key_id", "ledger_path"]

log = logging.getLogger(__name__)

LEDGER_FILE = "usage.sqlite"
_KEY_IDS: dict[str, str] = {}
_NO_TOKENS = (0, 0, 0, 0, 0, 0)


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
        # row uids: a random per-process prefix and a counter (os.urandom per row is a syscall)
        self._uid_prefix = os.urandom(6).hex()
        self._uids = itertools.count(1)
        self._sources: dict[int, tuple[Any, str]] = {}

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

    # -- per request

    def observe(self, t: RequestTrace, usage: ir.Usage | None) -> None:
        """One finished request (the event loop's side: counters, one ledger row, metrics)."""
        if self._deferred is not None:
            self.open_ledger()
        attempts = t.attempts
        cred = t.credential
        last = attempts[-1] if attempts else None
        if cred is not None:
            auth_index, provider = cred.index, cred.provider
        elif last is not None:
            auth_index, provider = last.auth_index, last.auth_provider
        else:
            auth_index = provider = ""
        failed_auths = tuple(a.auth_index for a in attempts[:-1] if a.auth_index) if len(attempts) > 1 else ()
        status = t.status or 500
        ok = status < 400
        tokens = (
            _NO_TOKENS
            if usage is None
            else (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.reasoning_tokens,
                usage.total_tokens
                if usage.total_tokens is not None
                else usage.input_tokens + usage.output_tokens,
            )
        )
        api_key = t.api_key
        labels = self.key_labels
        if api_key:
            kid = _KEY_IDS.get(api_key) or key_id(api_key)
            label = labels.get(kid)
            if label is None:
                label = labels[kid] = hide_key(api_key)
        else:
            kid, label = "", labels.get("", "")
        self.counters.record(t.started, kid, auth_index, failed_auths, ok, tokens)
        t0, first = t._t0, t._ttft
        elapsed = time.perf_counter() - t0
        ttft = None if first is None else first - t0
        ledger = self.ledger
        if ledger is not None:
            if cred is not None:
                found = self._sources.get(id(cred))
                source = found[1] if found is not None and found[0] is cred else self._source(cred)
            else:
                source = hide_key(last.auth_value) if last is not None else ""
            ledger.add(
                (
                    f"{self._uid_prefix}{next(self._uids):x}",
                    t.started,
                    t.id,
                    kid,
                    label,
                    auth_index,
                    source,
                    provider,
                    t.endpoint,
                    t.alias,
                    t.model,
                    status,
                    0 if ok else 1,
                    1 if t.stream else 0,
                    *tokens,
                    int(elapsed * 1000),
                    int(ttft * 1000) if ttft is not None else 0,
                    len(attempts),
                    ",".join(failed_auths) if failed_auths else "",
                )
            )
        m = self.metrics
        if m is not None:
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

    def _source(self, cred: Any) -> str:
        """The row's ``source`` for a credential (remembered per credential object)."""
        key = id(cred)
        found = self._sources.get(key)
        if found is None or found[0] is not cred:
            if len(self._sources) > 4096:
                self._sources.clear()
            found = self._sources[key] = (cred, source_of(cred, ""))
        return found[1]

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
