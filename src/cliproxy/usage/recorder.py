"""The recorder: request logs, error logs, the usage queue and the app log file, per service.

``sync(config)`` applies a config snapshot (cheap when it is the same object, so the
server may call it on every request); ``active`` is the one flag the hot path tests.
It is false only in ``commercial-mode`` (CPA skips request logging there) and when
neither the request log, the error logs, nor usage records could be wanted.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.config.env import writable_path
from cliproxy.times import format_utc
from cliproxy.usage.applog import AppLog, enforce_size_limit
from cliproxy.usage.mask import hide_key
from cliproxy.usage.queue import UsageQueue
from cliproxy.usage.record import UsageFacts, answer_service_tier, build_record, request_settings
from cliproxy.usage.recording import Capture
from cliproxy.usage.render import write_log, write_session_log
from cliproxy.usage.stats import UsageStats
from cliproxy.usage.timeline import SessionLog
from cliproxy.usage.tokens import body_usage, token_tuple
from cliproxy.usage.tool_usage import tool_facts, tool_row
from cliproxy.usage.trace import CLIENT_CLOSED, Attempt, RequestTrace
from cliproxy.usage.writer import Spool, Writer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cliproxy.config import Config
    from cliproxy.usage.trace import RequestTrace as Trace

__all__ = ["Recorder", "log_directory"]

log = logging.getLogger(__name__)

_clock = time.perf_counter
CLEAN_INTERVAL = 60.0  # seconds between size-limit sweeps of the logs directory


def log_directory(config: Config, config_path: Path | None) -> Path:
    """``$WRITABLE_PATH/logs``, else ``logs`` beside the config file, else ``<auth-dir>/logs``."""
    base = writable_path()
    if base:
        return Path(base) / "logs"
    folder = config_path.parent if config_path is not None else Path.cwd()
    if os.access(folder, os.W_OK):
        return folder / "logs"
    return Path(config.auth_dir).expanduser() / "logs"


class Recorder:
    def __init__(self, config_path: Path | None = None) -> None:
        self.config_path = config_path
        self.config: Config | None = None
        self.log_dir = Path("logs")
        self.active = False
        self.request_log = False
        self.usage_enabled = False
        self.management = False
        self.error_logs_max_files = 10
        self.max_total_bytes = 0
        self.queue = UsageQueue()
        self.errors = UsageQueue()  # error events: only delivered to RESP subscribers
        self.stats = UsageStats()
        self.writer = Writer()
        self.app_log = AppLog()
        self.translations: Any = None
        self.capture = Capture.from_env()  # cliproxy record: one JSON file per request
        self._last_clean = 0.0
        self._spools = itertools.count(1)
        self.extras = True  # set by sync (``_gate``)

    # -- configuration

    def sync(self, config: Config, *, management: bool) -> None:
        """Apply ``config`` (a no-op for the snapshot already applied)."""
        if config is self.config:
            return
        self.config = config
        self.log_dir = log_directory(config, self.config_path)
        self.request_log = bool(config.request_log) and not config.commercial_mode
        self.usage_enabled = bool(config.usage_statistics_enabled) and management
        self.management = management
        if not management:
            self.queue.clear()  # the queue only lives while management does (CPA)
            self.errors.clear()
        self.queue.retention = float(config.redis_usage_queue_retention_seconds)
        self.error_logs_max_files = int(config.error_logs_max_files)
        self.max_total_bytes = int(config.logs_max_total_size_mb) * 1024 * 1024
        self.active = not config.commercial_mode
        self.app_log.apply(self.log_dir if config.logging_to_file else None, self.max_total_bytes)
        self._gate()

    def _gate(self) -> None:
        """``extras``: whether a finished request may have more to do than count (the
        usage queue, error events, the access line, a recording, request logs); only a
        gate in front of their own tests, so a stale true costs nothing but the tests."""
        self.extras = bool(
            self.usage_enabled
            or self.management
            or self.app_log.enabled
            or self.capture is not None
            or self.request_log
        )

    def close(self) -> None:
        self.stats.close()
        self.writer.close()
        self.app_log.apply(None, 0)

    # -- per request

    def begin(self, **kwargs: Any) -> RequestTrace:
        return RequestTrace(self, **kwargs)

    def spool(self, name: str) -> Spool:
        """A spool file of its own (the turns of a logged WebSocket session share an id)."""
        return Spool(self.writer, self.log_dir / f"{name}-{next(self._spools)}.tmp")

    def sniffer(self, fmt: Any) -> Any:
        # always: the per-credential and per-key token totals need a stream's usage
        if self.translations is None:
            return None
        return self.translations.adapter(fmt).usage_sniffer()

    def finished(self, t: Trace) -> None:
        """The request is over: its usage (read off a whole answer's body unless the
        pipeline handed it over), the key policy's charge, the counters, the ledger row
        and the metrics, then the logs and queues that are on.

        Runs once per request: what only the metrics read is computed only while they are
        on, and the logs and queues are skipped with one test while all are off."""
        usage = t.usage
        status = t.status
        if usage is None and 0 < status < 400 and t.response_body:
            usage = t.usage = body_usage(t.fmt, t.response_body)
        if t.on_usage is not None:  # the client key's policy charges what was used
            t.on_usage(usage, t.model)
        stats = self.stats
        ledger = stats.ledger
        if ledger is None and stats._deferred is not None:  # a ledger file waiting for its first row
            ledger = stats.open_ledger()
        attempts = t.attempts
        n = len(attempts)
        cred = t.credential
        last = attempts[-1] if n else None
        if cred is not None:
            auth_index, provider = cred.index, cred.provider
        elif last is not None:  # (a plugin executor's host calls name no provider: the trace's)
            auth_index, provider = last.auth_index, last.auth_provider or t.provider
        else:
            auth_index, provider = "", t.provider
        failed_auths: tuple[str, ...] = ()
        if n > 1:  # each upstream call another followed failed (a plugin's host.http call names no provider)
            calls = t.upstream_calls()
            failed_auths = tuple(a.auth_index for a in calls[:-1] if a.auth_index)
        code = status or 500
        ok = code < 400
        if usage is None:
            i0 = i1 = i2 = i3 = i4 = i5 = 0
        else:
            i0 = usage.input_tokens  # one store each (a tuple of five is built, then unpacked)
            i1 = usage.output_tokens
            i2 = usage.cache_read_tokens
            i3 = usage.cache_write_tokens
            i4 = usage.reasoning_tokens
            i5 = usage.total_tokens
            if i5 is None:
                i5 = i0 + i1
        api_key = t.api_key
        # subscripts, not ``dict.get``: no call on a hit (a miss is once per key or credential)
        if api_key:
            try:
                kid, label = stats.keys[api_key]
            except KeyError:
                kid, label = stats.key_of(api_key)
        else:
            kid, label = "", stats.key_labels.get("", "")
        ts = t.started
        counters = stats.counters
        counters.record(ts, kid, auth_index, failed_auths, ok, (i0, i1, i2, i3, i4, i5))
        tool = t.tool_usage  # an upstream tool's own tokens: a record of their own (usage.tool_usage)
        tool_tokens = None if tool is None or tool.usage is None else token_tuple(tool.usage)
        if tool_tokens is not None:  # its tokens, no second request (CPA: MarkResult once a request)
            counters.tokens(kid, auth_index, tool_tokens)
        t0, first = t._t0, t._ttft
        elapsed = _clock() - t0
        ttft = None if first is None else first - t0
        if ledger is not None:
            if cred is not None:  # stats.source(), its hit inline
                try:
                    known = stats.sources[cred.id]
                    source = known[1] if known[0] is cred else stats.source(cred)
                except KeyError:
                    source = stats.source(cred)
            else:
                source = hide_key(last.auth_value) if last is not None else ""
            row = (  # ledger.ROW_COLUMNS (the writer gives the uid)
                ts,
                t.id,
                kid,
                label,
                auth_index,
                source,
                provider,
                t.endpoint,
                t.alias,
                t.model,
                code,
                0 if ok else 1,
                1 if t.stream else 0,
                i0,
                i1,
                i2,
                i3,
                i4,
                i5,
                int(elapsed * 1000),
                int(ttft * 1000) if ttft is not None else 0,
                n,
                ",".join(failed_auths) if failed_auths else "",
            )
            pending = ledger.pending
            if len(pending) < ledger.room:  # ledger.add(), when it would only append
                pending.append(row)
            else:
                ledger.add(row)
            if tool_tokens is not None and tool is not None:
                ledger.add(tool_row(row, tool.model, tool_tokens))
        if stats.metrics is not None:
            stats.observe_metrics(t, provider, code, (i0, i1, i2, i3, i4, i5), elapsed, ttft)
        if self.extras or status >= 400 or t.full:
            self._logs(t, status)

    def _logs(self, t: Trace, status: int) -> None:
        """The usage queue, error events, the access line, the recording and the request
        log of a finished request: those that are on."""
        if self.usage_enabled:
            self._enqueue_usage(t)
        left = status == CLIENT_CLOSED  # the client went away: no upstream failure, no error log (CPA)
        if self.management and self.errors.subscribers and t.attempts and not left:
            self._publish_errors(t)
        if self.app_log.enabled:
            self._access_line(t)
        if self.capture is not None:
            capture = self.capture
            self.writer.submit(lambda: capture.write(t))
        if self.request_log:
            session = t.session
            if session is None or not session.adopt(t):
                self._write(t, self._filename(t.url, t.id, t.started), errors=False)
        elif status >= 400 and not left:
            self._write(t, "error-" + self._filename(t.url, t.id, t.started), errors=True)
        elif t.full:  # logged in full when it began: drop what was spooled
            for a in t.attempts:
                if a.spool is not None:
                    self.writer.submit(a.spool.discard)

    # -- WebSocket sessions (``usage.timeline``)

    def session_log(self, url: str, headers: Mapping[str, str]) -> SessionLog | None:
        """The request log of a WebSocket session opening now: ``None`` unless request
        logs are on (the one test a session without them pays)."""
        if not self.request_log:
            return None
        return SessionLog(self, url, headers)

    def write_session(self, s: SessionLog) -> None:
        """Write a session's log (``SessionLog.end``), after everything it spooled."""
        path = self.log_dir / self._filename(s.url, s.id, s.started)

        def job() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                write_session_log(out, s)
            self._sweep()

        self.writer.submit(job)

    def _publish_errors(self, t: Trace) -> None:
        """CPA's error events: one per failed upstream attempt, with its credential's state."""
        for a in t.attempts:
            if a.status is not None and a.status < 400:
                continue
            event = {
                "timestamp": format_utc(a.received or a.sent),
                "provider": a.auth_provider,
                "model": t.model,
                "auth_id": a.auth_id,
                "auth_index": a.auth_index,
                "status_code": a.status or 502,
                "body": a.response_body[:4096].decode("utf-8", "replace") or a.error,
                "auth_status": _auth_status(a),
            }
            self.errors.push(orjson.dumps(event))

    def _enqueue_usage(self, t: Trace) -> None:
        usage = t.usage
        headers = t.headers
        fmt = getattr(t.fmt, "value", str(t.fmt))
        effort, tier, generate = request_settings(t.body, fmt, t.alias)
        facts = UsageFacts(
            t.started,
            t.latency_ms(),
            t.ttft_ms(),
            t.id,
            t.endpoint,
            fmt,
            t.alias,
            t.model,
            t.credential,
            usage,
            t.api_key,
            t.client_ip,
            every_line(headers, "X-Forwarded-For"),
            headers.get("User-Agent", ""),
            t.status >= 400,
            t.status,
            t.error[1] if t.error else "",
            effort,
            tier,
            generate,
            (t.stream_tier or answer_service_tier(t.response_body)) if t.status < 400 else "",
            t.answer_headers(),
        )
        self.queue.push(orjson.dumps(build_record(facts)))
        tool = t.tool_usage
        if tool is not None and tool.usage is not None:  # after the request's own (CPA's order)
            self.queue.push(orjson.dumps(build_record(tool_facts(facts, tool))))

    def _access_line(self, t: Trace) -> None:
        status = t.status
        level = (
            logging.ERROR
            if status >= 500
            else logging.WARNING
            if status >= 400 and status != CLIENT_CLOSED  # a client that left: routine
            else logging.INFO
        )
        logging.getLogger("cliproxy.access").log(
            level,
            '%3d | %8dms | %15s | %-7s "%s"',
            t.status,
            t.latency_ms(),
            t.client_ip,
            t.method,
            t.url,
            extra={"request_id": t.id},
        )

    def _write(self, t: Trace, name: str, *, errors: bool) -> None:
        path = self.log_dir / name
        keep = self.error_logs_max_files if errors else 0

        def job() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                write_log(out, t)
            if keep > 0:
                prune_error_logs(path.parent, keep)
            self._sweep()

        self.writer.submit(job)

    def _sweep(self) -> None:
        now = time.monotonic()
        if self.max_total_bytes > 0 and now - self._last_clean >= CLEAN_INTERVAL:
            self._last_clean = now
            enforce_size_limit(self.log_dir, self.max_total_bytes, self.app_log.path)

    @staticmethod
    def _filename(url: str, request_id: str, started: float) -> str:
        return (
            f"{sanitize(url.partition('?')[0])}-{time.strftime('%Y-%m-%dT%H%M%S', time.localtime(started))}"
            f"-{request_id}.log"
        )


def every_line(headers: Any, name: str) -> str:
    """All of a header's lines joined with ", " (a client behind two proxies sends two
    X-Forwarded-For lines; CPA keeps both), or ``""``."""
    getall = getattr(headers, "getall", None)
    if getall is None:
        return str(headers.get(name, ""))
    return ", ".join(getall(name, ()))


# file names are limited to 255 bytes; the date, request id and ".log" take about 40
MAX_NAME_BYTES = 160


def sanitize(path: str) -> str:
    """A URL path as a file name part: separators and unsafe characters become ``-``."""
    out = []
    for ch in path.lstrip("/"):
        out.append("-" if ch in '/:<>"|?*\\' or ch.isspace() or not ch.isprintable() else ch)
    name = "-".join(p for p in "".join(out).split("-") if p)
    raw = name.encode()
    if len(raw) > MAX_NAME_BYTES:  # a client-chosen path (a 1 MB model name) must still make a file name
        digest = hashlib.sha256(raw).hexdigest()[:12]
        name = raw[:MAX_NAME_BYTES].decode("utf-8", "ignore") + "-" + digest
    return name or "root"


def prune_error_logs(folder: Path, keep: int) -> int:
    """Delete the oldest ``error-*.log`` beyond the newest ``keep``; returns how many went."""
    files = []
    for p in folder.glob("error-*.log"):
        try:
            files.append((p.stat().st_mtime, p))
        except FileNotFoundError:
            continue
    files.sort(key=lambda item: item[0], reverse=True)
    removed = 0
    for _, p in files[keep:]:
        p.unlink(missing_ok=True)
        removed += 1
    return removed


def _auth_status(a: Attempt) -> dict[str, Any]:
    """An error event's ``auth_status`` (CPA's shape): the credential's state after the
    attempt, with the cooled model's own state and the quota a 429 exhausted."""
    status: dict[str, Any] = {"status": "error", "disabled": False, "unavailable": a.cooled}
    if not a.cooled:
        return status
    until = format_utc(a.cooled_until) if a.cooled_until else ""
    quota: dict[str, Any] | None = None
    if a.cooled_reason == "quota":
        quota = {"exceeded": True, "reason": "quota"}
        if until:
            quota["next_recover_at"] = until
    if until:
        status["next_retry_after"] = until
    if quota is not None:
        status["quota"] = quota
    if a.cooled_model:
        model: dict[str, Any] = {"name": a.cooled_model, "status": "error", "unavailable": True}
        if until:
            model["next_retry_after"] = until
        if quota is not None:
            model["quota"] = quota
        status["model"] = model
    return status
