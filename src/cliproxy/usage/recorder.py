"""The recorder: request logs, error logs, the usage queue and the app log file, per service.

``sync(config)`` applies a config snapshot (cheap when it is the same object, so the
server may call it on every request); ``active`` is the one flag the hot path tests.
It is false only in ``commercial-mode`` (CPA skips request logging there) and when
neither the request log, the error logs, nor usage records could be wanted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.times import format_utc
from cliproxy.usage.applog import AppLog, enforce_size_limit
from cliproxy.usage.queue import UsageQueue
from cliproxy.usage.record import UsageFacts, build_record
from cliproxy.usage.recording import Capture
from cliproxy.usage.render import write_log
from cliproxy.usage.stats import UsageStats
from cliproxy.usage.tokens import body_usage
from cliproxy.usage.trace import RequestTrace
from cliproxy.usage.writer import Spool, Writer

if TYPE_CHECKING:
    from cliproxy.config import Config
    from cliproxy.usage.trace import RequestTrace as Trace

__all__ = ["Recorder", "log_directory"]

log = logging.getLogger(__name__)

CLEAN_INTERVAL = 60.0  # seconds between size-limit sweeps of the logs directory


def log_directory(config: Config, config_path: Path | None) -> Path:
    """``$WRITABLE_PATH/logs``, else ``logs`` beside the config file, else ``<auth-dir>/logs``."""
    base = os.environ.get("WRITABLE_PATH", "").strip()
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

    def close(self) -> None:
        self.stats.close()
        self.writer.close()
        self.app_log.apply(None, 0)

    # -- per request

    def begin(self, **kwargs: Any) -> RequestTrace:
        return RequestTrace(self, **kwargs)

    def spool(self, name: str) -> Spool:
        return Spool(self.writer, self.log_dir / f"{name}.tmp")

    def sniffer(self, fmt: Any) -> Any:
        # always: the per-credential and per-key token totals need a stream's usage
        if self.translations is None:
            return None
        return self.translations.adapter(fmt).usage_sniffer()

    def finished(self, trace: Trace) -> None:
        usage = trace.usage
        status = trace.status
        if usage is None and 0 < status < 400 and trace.response_body:
            usage = trace.usage = body_usage(trace.fmt, trace.response_body)
        if trace.on_usage is not None:  # the client key's policy charges what was used
            trace.on_usage(usage, trace.model)
        self.stats.observe(trace, usage)
        if self.usage_enabled:
            self._enqueue_usage(trace)
        if self.management and self.errors.subscribers and trace.attempts:
            self._publish_errors(trace)
        if self.app_log.enabled:
            self._access_line(trace)
        if self.capture is not None:
            capture = self.capture
            self.writer.submit(lambda: capture.write(trace))
        if self.request_log:
            self._write(trace, self._filename(trace.url, trace.id, trace.started), errors=False)
        elif status >= 400:
            self._write(trace, "error-" + self._filename(trace.url, trace.id, trace.started), errors=True)
        elif trace.full:  # logged in full when it began: drop what was spooled
            for a in trace.attempts:
                if a.spool is not None:
                    self.writer.submit(a.spool.discard)

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
                "auth_status": {"status": "error", "disabled": False, "unavailable": a.cooled},
            }
            self.errors.push(orjson.dumps(event))

    def _enqueue_usage(self, t: Trace) -> None:
        usage = t.usage
        headers = t.headers
        facts = UsageFacts(
            t.started,
            t.latency_ms(),
            t.ttft_ms(),
            t.id,
            t.endpoint,
            getattr(t.fmt, "value", str(t.fmt)),
            t.alias,
            t.model,
            t.credential,
            usage,
            t.api_key,
            t.client_ip,
            headers.get("X-Forwarded-For", ""),
            headers.get("User-Agent", ""),
            t.status >= 400,
            t.status,
            t.error[1] if t.error else "",
        )
        self.queue.push(orjson.dumps(build_record(facts)))

    def _access_line(self, t: Trace) -> None:
        level = logging.ERROR if t.status >= 500 else logging.WARNING if t.status >= 400 else logging.INFO
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
