"""Where the server meets the recorder: find it, and open a trace for one request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cliproxy.formats import Format
from cliproxy.usage.mask import mask_query
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.trace import RequestTrace

__all__ = ["begin_trace", "exchange_trace", "open_trace", "recorder_of"]


def recorder_of(service: Any) -> Recorder:
    """The service's recorder, created on first use and kept in step with its config."""
    rec: Recorder | None = getattr(service, "recorder", None)
    if rec is None:
        rec = Recorder(service.config_path)
        rec.translations = service.pipeline.translations
        service.recorder = rec
    config = service.config
    if rec.config is not config:
        rec.sync(config, management=service.management.enabled(config))
        rec.stats.sync(config)  # the service's ledger and metrics (not a bare recorder's)
        plugins = getattr(service, "plugins", None)
        if plugins is not None:  # plugin call latency, while metrics are on
            plugins.on_call = rec.stats.metrics.plugin_call if rec.stats.metrics is not None else None
    return rec


def begin_trace(
    rec: Recorder,
    *,
    method: str,
    path: str,
    query_string: str,
    route: str,
    headers: Mapping[str, str],
    body: bytes,
    fmt: Format,
    alias: str,
    api_key: str,
    client_ip: str,
) -> RequestTrace | None:
    """A trace for one generation request, or ``None`` when nothing records. The server
    passes what it read off the wire: ``route`` is the matched route's pattern, ``alias``
    the model the client asked for, ``api_key`` the client key that was let in."""
    if not rec.active:
        return None
    url = _url(path, query_string) if query_string else path
    return RequestTrace(rec, method, url, headers, body, f"{method} {route}", fmt, alias, api_key, client_ip)


def open_trace(
    service: Any,
    method: str,
    path: str,
    query_string: str,
    route: str,
    headers: Mapping[str, str],
    body: bytes,
    fmt: Format,
    alias: str,
    api_key: str,
    client_ip: str,
) -> RequestTrace | None:
    """:func:`recorder_of` and :func:`begin_trace` in one call, positional (the video and
    realtime routes'; the generation routes call :func:`exchange_trace`). The recorder is
    synced only when the service's config snapshot changed (``recorder_of``'s test, inline)."""
    try:
        rec: Recorder = service.recorder
        current = rec.config is service.config
    except AttributeError:  # no recorder yet (or ``None``): no ``getattr`` call per request
        current = False
    if not current:
        rec = recorder_of(service)
    if not rec.active:
        return None
    url = _url(path, query_string) if query_string else path
    return RequestTrace(rec, method, url, headers, body, f"{method} {route}", fmt, alias, api_key, client_ip)


class _Key(Protocol):
    @property
    def key(self) -> str | None: ...


class _Request(Protocol):
    """What :func:`exchange_trace` reads of a server exchange (``server.fast.exchange.Exchange``)."""

    @property
    def service(self) -> Any: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def principal(self) -> _Key | None: ...
    @property
    def remote(self) -> str: ...


def exchange_trace(ex: _Request, raw: bytes, fmt: Format, model: str) -> RequestTrace | None:
    """:func:`open_trace` for a request the server read: ``raw`` its body, ``model`` the
    model the client asked for, the client key the one ``ex.principal`` let in. The
    server's one call per generation request (no frame of its own to gather the
    arguments)."""
    service = ex.service
    try:
        rec: Recorder = service.recorder
        current = rec.config is service.config
    except AttributeError:  # no recorder yet (or ``None``)
        current = False
    if not current:
        rec = recorder_of(service)
    if not rec.active:
        return None
    method = ex.method
    path = ex.path
    query_string = ex.query_string
    principal = ex.principal
    return RequestTrace(
        rec,
        method,
        _url(path, query_string) if query_string else path,
        ex.headers,
        raw,
        f"{method} {ex.route}",
        fmt,
        model,
        (principal.key or "") if principal is not None else "",
        ex.remote,
    )


def _url(path: str, query_string: str) -> str:
    """The logged URL: ``path`` with its query, secrets in it masked."""
    query = mask_query(query_string)
    return path + "?" + query if query else path
