"""CPA's calling rules, each written once.

* model router: first valid decision wins; errors, crashes, unhandled and invalid
  decisions fall through to the next router (priority order).
* scheduler: only the highest-priority scheduler is asked; an error denies the pick.
* request interceptors, response interceptors, stream-chunk interceptors: chains, each
  plugin sees the previous result; errors are skipped.
* normalizers (chains) and translators (first success wins): ``plugins.translation``.
* lifecycle completion and usage: every plugin, asynchronously, errors only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from multidict import CIMultiDict

from cliproxy.errors import CliproxyError
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import plugin_attributes
from cliproxy.plugins.translation import negotiate, norm_format

__all__ = [
    "Intercepted",
    "RouteDecision",
    "SchedulerDenied",
    "Terminated",
    "call_scoped",
    "canonical_header_key",
    "complete",
    "executor_ready",
    "intercept",
    "pick_auth",
    "response_intercept",
    "route_model",
    "stream_chunk",
    "usage",
    "wire_headers",
    "wire_query",
]

log = logging.getLogger(__name__)

_SECRET_MARKS = (
    "api_key",
    "apikey",
    "token",
    "secret",
    "cookie",
    "credential",
    "password",
    "storage",
    "authorization",
    "auth_header",
    "proxy_url",
)
_FAILURES = (PluginError, PluginCrashed, asyncio.TimeoutError)


class SchedulerDenied(CliproxyError):
    """A scheduler plugin refused the pick; its ``http_status`` (else 500) reaches the client."""


# the bytes Go's textproto accepts in a header name (RFC 7230 tchar)
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=1024)
def canonical_header_key(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-user`` -> ``X-User``; a name holding a
    byte that is not a token character (a space, a colon, non-ASCII) is left as it is."""
    if not name or not _TOKEN.issuperset(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def wire_headers(headers: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Go's ``http.Header`` as CPA hands it to a plugin: ``{"Key": ["v1", "v2"]}`` under
    canonical keys (net/http canonicalizes every header it reads), so a Go plugin's
    ``Header.Get("X-User")`` finds a client's ``x-user``; names differing only in case
    become one key holding their values in order."""
    out: dict[str, list[str]] = {}
    if headers is None:
        return out
    for k, v in headers.items():
        out.setdefault(canonical_header_key(str(k)), []).append(str(v))  # str(): aiohttp's istr
    return out


def wire_query(query: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Go's ``url.Values``: ``{"name": ["v1", "v2"]}``, names as sent (they are case-sensitive)."""
    out: dict[str, list[str]] = {}
    if query is None:
        return out
    for k, v in query.items():
        out.setdefault(str(k), []).append(str(v))
    return out


def plain_headers(value: Any) -> dict[str, str]:
    """``{"Key": ["v"]}`` (or ``{"Key": "v"}``) -> ``{"Key": "v"}``."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, list):
                if v:
                    out[str(k)] = str(v[0])
            elif v is not None:
                out[str(k)] = str(v)
    return out


async def call_scoped(
    host: PluginHost, rec: Record, method: str, params: dict[str, Any], scope: Any = None
) -> Any:
    """A plugin call inside a host-callback scope (when the method carries one)."""
    cb = host.callbacks
    if cb is None or scope is None:
        return await host.call(rec, method, params)
    async with cb.scope(rec.id, scope) as scope_id:
        params["host_callback_id"] = scope_id
        return await host.call(rec, method, params)


# ------------------------------------------------------------------ model router


@dataclass(frozen=True, slots=True)
class RouteDecision:
    kind: str  # self | executor | provider
    target: str
    target_model: str
    router: str


async def executor_ready(host: PluginHost, plugin_id: str, source_format: str) -> bool:
    """CPA's ``executorPluginReady``: an active executor usable without an auth."""
    rec = host.get(plugin_id)
    if rec is None or not rec.has("executor"):
        return False
    scope = str(rec.cap("executor_model_scope", "both") or "both").lower()
    if scope not in ("static", "both"):
        return False  # OAuth-only executors need an auth; the direct route has none
    if not await host.identifier(rec, abi.EXECUTOR_IDENTIFIER):
        return False
    return negotiate(host, rec, norm_format(source_format)) is not None


async def route_model(
    host: PluginHost,
    *,
    source_format: str,
    model: str,
    stream: bool,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes,
    available_providers: Sequence[str],
    skip: str | None,
    scope: Any,
) -> RouteDecision | None:
    for rec in host.active("model_router", skip):
        params = {
            "Plugin": rec.metadata,
            "PluginID": rec.id,
            "SourceFormat": source_format,
            "RequestedModel": model,
            "Stream": stream,
            "Headers": wire_headers(headers),
            "Query": wire_query(query),
            "Body": b64encode(body),
            "Metadata": {"requested_model": model},
            "AvailableProviders": list(available_providers),
        }
        try:
            result = await call_scoped(host, rec, abi.MODEL_ROUTE, params, scope)
        except _FAILURES as exc:
            log.warning("model router %s failed, trying the next: %s", rec.id, exc)
            continue
        if not isinstance(result, dict) or not ci_get(result, "Handled"):
            continue
        kind = str(ci_get(result, "TargetKind", "") or "").strip().lower()
        target = str(ci_get(result, "Target", "") or "").strip()
        target_model = str(ci_get(result, "TargetModel", "") or "").strip()
        if kind == "self":
            target = rec.id
        elif kind == "provider":
            target = target.lower()
            if not target or target not in available_providers:
                log.info(
                    "model router %s chose provider %r for %s, which has no enabled credential"
                    " (available: %s): passed over",
                    rec.id,
                    target,
                    model,
                    ", ".join(available_providers) or "none",
                )
                continue
        elif kind != "executor" or not target:
            log.info("model router %s answered kind %r target %r: passed over", rec.id, kind, target)
            continue
        if kind in ("self", "executor") and not await executor_ready(host, target, source_format):
            log.info(
                "model router %s chose executor %s, which is not active, is oauth-only, has no"
                " identifier or no format for %s: passed over",
                rec.id,
                target,
                source_format,
            )
            continue
        return RouteDecision(kind, target, target_model, rec.id)
    return None


# ------------------------------------------------------------------ scheduler


def _sanitized(attributes: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in plugin_attributes(attributes).items():
        norm = k.lower().replace("-", "_")
        if not any(mark in norm for mark in _SECRET_MARKS):
            out[k] = str(v)
    return out


def _scheduler_providers(provider: str, providers: Sequence[str]) -> list[str]:
    """CPA's schedulerProviders: the picked provider first, then the route's providers in
    the registry's order (most credentials first), lower case, each once, no ``mixed``."""
    names = (n.strip().lower() for n in (provider, *providers))
    return list(dict.fromkeys(n for n in names if n and n != "mixed"))


async def pick_auth(
    host: PluginHost,
    candidates: Sequence[Any],
    *,
    provider: str,
    providers: Sequence[str],
    model: str,
    stream: bool,
    headers: Mapping[str, str],
) -> Any:
    """A Credential, a built-in strategy name, or None (use the configured strategy)."""
    recs = host.active("scheduler")
    if not recs:
        return None
    rec = recs[0]
    params = {
        "Plugin": rec.metadata,
        "Provider": provider,
        "Providers": _scheduler_providers(provider, providers),
        "Model": model,
        "Stream": stream,
        "Options": {"Headers": wire_headers(headers), "Metadata": {}},
        "Candidates": [
            {
                "ID": c.id,
                "Provider": c.provider,
                "Priority": c.priority,
                "Status": "disabled" if c.disabled else "active",
                "Attributes": _sanitized(c.attributes),
                "Metadata": {},
            }
            for c in candidates
        ],
    }
    try:
        result = await host.call(rec, abi.SCHEDULER_PICK, params)
    except PluginError as exc:
        raise SchedulerDenied(exc.message, status=exc.http_status or 500) from exc
    except (TimeoutError, PluginCrashed):
        return None
    if not isinstance(result, dict) or not ci_get(result, "Handled"):
        return None
    auth_id = str(ci_get(result, "AuthID", "") or "").strip()
    if auth_id:  # an unknown id is an invalid answer, whatever delegate it also names
        return next((c for c in candidates if c.id == auth_id), None)
    delegate = str(ci_get(result, "DelegateBuiltin", "") or "").strip().lower()
    if delegate in ("round-robin", "fill-first"):
        return delegate
    return None


# ------------------------------------------------------------------ request interceptors


@dataclass(slots=True)
class Terminated:
    status: int
    headers: dict[str, str]
    body: bytes
    plugin: str


@dataclass(slots=True)
class Intercepted:
    headers: CIMultiDict[str]  # case-insensitive, like the inbound request's
    body: bytes
    changed: bool = False
    terminated: Terminated | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def intercept(
    host: PluginHost,
    method: str,
    *,
    request_id: str,
    source_format: str,
    to_format: str,
    model: str,
    requested_model: str,
    stream: bool,
    headers: Mapping[str, str],
    body: bytes,
    skip: str | None,
    scope: Any,
) -> Intercepted:
    """The before/after-auth chain. Each plugin sees the previous plugin's headers and body."""
    state = Intercepted(CIMultiDict(headers), body)
    for rec in host.active("request_interceptor", skip):
        params = {
            "RequestID": request_id,
            "TraceID": request_id,
            "SourceFormat": source_format,
            "ToFormat": to_format,
            "Model": model,
            "RequestedModel": requested_model,
            "Stream": stream,
            "Headers": wire_headers(state.headers),
            "Body": b64encode(state.body),
            "Metadata": {},
        }
        try:
            result = await call_scoped(host, rec, method, params, scope)
        except _FAILURES as exc:
            log.warning("request interceptor %s failed, skipped: %s", rec.id, exc)
            continue
        if not isinstance(result, dict):
            continue
        _merge_headers(state, result)
        new_body = b64decode(ci_get(result, "Body"))
        if new_body:
            state.body, state.changed = new_body, True
        if ci_get(result, "Terminate"):
            status = int(ci_get(result, "StatusCode", 0) or 0)
            if not 200 <= status <= 599:
                status = 403
            state.terminated = Terminated(
                status,
                plain_headers(ci_get(result, "ResponseHeaders")),
                b64decode(ci_get(result, "ResponseBody")),
                rec.id,
            )
            break
    return state


def _merge_headers(state: Intercepted, result: Mapping[str, Any]) -> None:
    """CPA's mergeHeaders: cleared names go, then each returned name replaces every value
    held under it, whatever its case, with all its values (an empty list removes it)."""
    for name in ci_get(result, "ClearHeaders") or []:
        if str(name) in state.headers:
            state.headers.popall(str(name))
            state.changed = True
    updates = ci_get(result, "Headers")
    if not isinstance(updates, dict):
        return
    for name, values in updates.items():
        key = canonical_header_key(str(name))
        state.headers.popall(key, None)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                state.headers.add(key, str(value))
        state.changed = True


# ------------------------------------------------------------------ response interceptors


async def response_intercept(
    host: PluginHost,
    *,
    request_id: str,
    source_format: str,
    model: str,
    requested_model: str,
    stream: bool,
    request_headers: Mapping[str, str],
    response_headers: dict[str, str],
    original: bytes,
    body: bytes,
    skip: str | None,
    scope: Any,
) -> tuple[dict[str, str], bytes]:
    for rec in host.active("response_interceptor", skip):
        params = {
            "RequestID": request_id,
            "SourceFormat": source_format,
            "Model": model,
            "RequestedModel": requested_model,
            "Stream": stream,
            "RequestHeaders": wire_headers(request_headers),
            "ResponseHeaders": wire_headers(response_headers),
            "OriginalRequest": b64encode(original),
            "RequestBody": b64encode(original),
            "Body": b64encode(body),
            "StatusCode": 200,
            "Metadata": {},
        }
        try:
            result = await call_scoped(host, rec, abi.RESPONSE_INTERCEPT_AFTER, params, scope)
        except _FAILURES as exc:
            log.warning("response interceptor %s failed, skipped: %s", rec.id, exc)
            continue
        if not isinstance(result, dict):
            continue
        state = Intercepted(CIMultiDict(response_headers), body)
        _merge_headers(state, result)
        response_headers = dict(state.headers)
        new = b64decode(ci_get(result, "Body"))
        if new:
            body = new
    return response_headers, body


HISTORY_CHUNKS = 64
HISTORY_BYTES = 1 << 20


@dataclass(slots=True)
class ChunkState:
    request_id: str
    source_format: str
    model: str
    requested_model: str
    request_headers: Mapping[str, str]
    response_headers: dict[str, str]
    original: bytes
    skip: str | None
    scope: Any
    index: int = 0  # the next data chunk's; the header-init call is always -1
    history: list[bytes] = field(default_factory=list)
    history_bytes: int = 0


async def stream_chunk(host: PluginHost, st: ChunkState, body: bytes | None) -> bytes | None:
    """One chunk through the stream-chunk chain; ``None`` when a plugin dropped it.

    ``body=None`` is the header-init call (ChunkIndex -1) made before the first chunk.
    Within one call each plugin sees the header edits of those before it (CPA); only the
    init call's edits reach the client, whose headers are sent before the first chunk."""
    headers = st.response_headers
    for rec in host.active("response_stream_interceptor", st.skip):
        params: dict[str, Any] = {
            "RequestID": st.request_id,
            "SourceFormat": st.source_format,
            "Model": st.model,
            "RequestedModel": st.requested_model,
            "RequestHeaders": wire_headers(st.request_headers),
            "ResponseHeaders": wire_headers(headers),
            "ChunkIndex": -1 if body is None else st.index,
            "HistoryChunks": [b64encode(c) for c in st.history],
            "Metadata": {},
        }
        if body is not None:
            params["Body"] = b64encode(body)
        if body is None or rec.schema_version < 3:
            params["OriginalRequest"] = b64encode(st.original)
            params["RequestBody"] = b64encode(st.original)
        try:
            result = await call_scoped(host, rec, abi.RESPONSE_INTERCEPT_STREAM_CHUNK, params, st.scope)
        except _FAILURES as exc:
            log.warning("stream interceptor %s failed, skipped: %s", rec.id, exc)
            continue
        if not isinstance(result, dict):
            continue
        if ci_get(result, "Headers") or ci_get(result, "ClearHeaders"):
            state = Intercepted(CIMultiDict(headers), b"")
            _merge_headers(state, result)
            headers = dict(state.headers)
        if body is None:
            st.response_headers = headers
            continue
        if ci_get(result, "DropChunk"):
            st.index += 1
            return None
        new = b64decode(ci_get(result, "Body"))
        if new:
            body = new
    if body is None:
        return None
    st.index += 1
    st.history.append(body)
    st.history_bytes += len(body)
    while st.history and (len(st.history) > HISTORY_CHUNKS or st.history_bytes > HISTORY_BYTES):
        st.history_bytes -= len(st.history.pop(0))
    return body


# ------------------------------------------------------------------ fire and forget


_background: set[asyncio.Task[Any]] = set()


def _spawn(host: PluginHost, rec: Record, method: str, params: dict[str, Any]) -> None:
    async def run() -> None:
        with contextlib.suppress(*_FAILURES):
            await host.call(rec, method, params)

    task = asyncio.get_running_loop().create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)


def complete(host: PluginHost, completion: dict[str, Any], skip: str | None = None) -> None:
    """``request.complete`` for every lifecycle plugin, in the background."""
    for rec in host.active("request_lifecycle_plugin", skip):
        _spawn(host, rec, abi.REQUEST_COMPLETE, dict(completion))


def usage(host: PluginHost, record: dict[str, Any]) -> None:
    """``usage.handle`` for every usage plugin, in the background."""
    for rec in host.active("usage_plugin"):
        _spawn(host, rec, abi.USAGE_HANDLE, dict(record))
