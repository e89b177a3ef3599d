"""Host callbacks: what a plugin may ask of the host (``host.*`` methods).

Every callback runs on the event loop. Calls that carry a ``host_callback_id`` are tied
to the scope the host opened around the plugin call being served: nested
``host.model.*`` calls inherit the inbound request's headers and skip the calling plugin
for routers and interceptors (no recursion into itself), and model streams opened in a
scope are closed when it closes (the "implicit close").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.credentials.listing import pool_entry
from cliproxy.credentials.storage import write_json
from cliproxy.errors import CliproxyError
from cliproxy.formats import Format
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.rules import plain_headers, wire_headers
from cliproxy.plugins.translation import norm_format
from cliproxy.providers.http import proxy_key
from cliproxy.providers.transport import UpstreamClient, UpstreamResponse, read_body
from cliproxy.translate.registry import Registry
from cliproxy.usage import recorder_of

if TYPE_CHECKING:
    from cliproxy.credentials.pool import Pool
    from cliproxy.plugins.host import PluginHost

__all__ = ["BRIDGE_END", "Callbacks", "HostServices", "ScopeContext"]

log = logging.getLogger(__name__)

BRIDGE_SLOTS = 16
BRIDGE_END = object()  # put on an executor stream bridge when the plugin closed it


class Runner(Protocol):
    """What the callbacks need of the pipeline: run a nested call, and its translations."""

    @property
    def translations(self) -> Registry: ...

    async def run(self, call: Call) -> Reply | StreamReply: ...


class HostServices(Protocol):
    """What the callbacks need of the running service (``cliproxy.service.Service``)."""

    @property
    def config(self) -> Any: ...

    @property
    def http(self) -> UpstreamClient: ...

    @property
    def pool(self) -> Pool: ...

    @property
    def pipeline(self) -> Runner: ...

    @property
    def auth_dir(self) -> Path: ...

    async def reload_auth_files(self) -> None: ...

    async def settle_credentials(self, paths: Collection[Path] | None = None) -> None: ...


@dataclass(slots=True)
class ScopeContext:
    """What a host callback may inherit from the request being served."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    # set when a plugin serving this request called ``host.model.*``: the nested request is
    # recorded on its own, so a plugin executor's answer is not recorded again (CPA)
    nested: bool = False
    # a plugin executor's stream that ended in an error after its first chunk (status,
    # message): the client got it as an error event, the usage record marks it failed
    failure: tuple[int, str] | None = None
    # the request's record (``usage.trace.RequestTrace``): a plugin's ``host.http.do`` made
    # while serving it is written into its request log as an upstream call (CPA)
    trace: Any = None


@dataclass(slots=True)
class _Scope:
    plugin_id: str
    ctx: ScopeContext
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class _Reader:
    """A stream the plugin reads piece by piece (model or HTTP)."""

    def __init__(
        self, first: bytes, rest: AsyncIterator[bytes], closer: Callable[[], Awaitable[None]]
    ) -> None:
        self._first = first
        self._rest = rest
        self._closer = closer
        self.closed = False

    async def read(self) -> tuple[bytes, str, bool]:
        if self.closed:
            return b"", "", True
        if self._first:
            out, self._first = self._first, b""
            return out, "", False
        try:
            return await self._rest.__anext__(), "", False
        except StopAsyncIteration:
            await self.close()
            return b"", "", True
        except (TimeoutError, ConnectionError, CliproxyError) as exc:
            await self.close()
            return b"", str(exc) or type(exc).__name__, True

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._closer()


@dataclass(frozen=True, slots=True)
class _PluginCaller:
    """Who made an upstream call of the request log that no credential made: a plugin's
    ``host.http.do`` (the credential fields a log entry reads, empty but the label)."""

    plugin_id: str
    id: str = ""
    kind: str = ""
    api_key: str = ""
    index: str = ""
    provider: str = ""

    @property
    def label(self) -> str:
        return f"plugin {self.plugin_id}"


class Callbacks:
    def __init__(self, host: PluginHost, service: HostServices) -> None:
        self.host = host
        self.service = service
        self._ids = itertools.count(1)
        self._scopes: dict[str, _Scope] = {}
        self._readers: dict[str, _Reader] = {}
        self.bridges: dict[str, asyncio.Queue[Any]] = {}
        self._bridge_owner: dict[str, str] = {}
        self._bridge_gone: dict[str, asyncio.Event] = {}  # set when the reader stops reading
        self._handlers: dict[str, Callable[[str, Any], Awaitable[Any]]] = {
            abi.HOST_LOG: self._log,
            abi.HOST_HTTP_DO: self._http_do,
            abi.HOST_HTTP_DO_STREAM: self._http_do_stream,
            abi.HOST_HTTP_STREAM_READ: self._http_stream_read,
            abi.HOST_HTTP_STREAM_CLOSE: self._http_stream_close,
            abi.HOST_MODEL_EXECUTE: self._model_execute,
            abi.HOST_MODEL_EXECUTE_STREAM: self._model_execute_stream,
            abi.HOST_MODEL_STREAM_READ: self._model_stream_read,
            abi.HOST_MODEL_STREAM_CLOSE: self._model_stream_close,
            abi.HOST_STREAM_EMIT: self._emit,
            abi.HOST_STREAM_CLOSE: self._bridge_close,
            abi.HOST_AUTH_LIST: self._auth_list,
            abi.HOST_AUTH_GET: self._auth_get,
            abi.HOST_AUTH_GET_RUNTIME: self._auth_get_runtime,
            abi.HOST_AUTH_SAVE: self._auth_save,
        }

    async def dispatch(self, plugin_id: str, method: str, params: Any) -> Any:
        handler = self._handlers.get(method)
        if handler is None:
            raise PluginError(f"unknown host method {method!r}", code="unknown_method")
        return await handler(plugin_id, params if isinstance(params, dict) else {})

    # ------------------------------------------------------------------ scopes

    @contextlib.asynccontextmanager
    async def scope(self, plugin_id: str, ctx: ScopeContext | None) -> AsyncIterator[str]:
        scope_id = str(next(self._ids))
        self._scopes[scope_id] = _Scope(plugin_id, ctx or ScopeContext())
        try:
            yield scope_id
        finally:
            await self.close_scope(scope_id)

    def open_scope(self, plugin_id: str, ctx: ScopeContext | None) -> str:
        scope_id = str(next(self._ids))
        self._scopes[scope_id] = _Scope(plugin_id, ctx or ScopeContext())
        return scope_id

    async def close_scope(self, scope_id: str) -> None:
        scope = self._scopes.pop(scope_id, None)
        if scope is not None:
            for cleanup in scope.cleanups:
                with contextlib.suppress(Exception):
                    await cleanup()

    def _scope_of(self, params: dict[str, Any]) -> _Scope | None:
        return self._scopes.get(str(ci_get(params, "host_callback_id", "") or ""))

    # ------------------------------------------------------------------ log

    async def _log(self, plugin_id: str, p: dict[str, Any]) -> Any:
        level = str(ci_get(p, "level", "") or "").lower()
        lvl = {
            "trace": logging.DEBUG,
            "info": logging.INFO,
            "warn": logging.WARNING,
            "warning": logging.WARNING,
            "error": logging.ERROR,
        }.get(level, logging.DEBUG)
        fields = ci_get(p, "fields") or {}
        scope = self._scope_of(p)
        extra = f" request_id={scope.ctx.request_id}" if scope and scope.ctx.request_id else ""
        suffix = " ".join(f"{k}={v}" for k, v in fields.items()) if isinstance(fields, dict) else ""
        log.log(
            lvl,
            "[plugin %s] %s%s%s",
            plugin_id,
            ci_get(p, "message", ""),
            extra,
            f" {suffix}" if suffix else "",
        )
        return {}

    # ------------------------------------------------------------------ http

    def _http_request(self, p: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
        req = ci_get(p, "request") if isinstance(ci_get(p, "request"), dict) else p
        method = str(ci_get(req, "method", "GET") or "GET").upper()
        url = str(ci_get(req, "url", "") or "")
        if not url.startswith(("http://", "https://")):
            raise PluginError("host.http: url must be an absolute http(s) URL", code="invalid_request")
        return method, url, plain_headers(ci_get(req, "headers")), b64decode(ci_get(req, "body"))

    async def _http_do(self, plugin_id: str, p: dict[str, Any]) -> Any:
        method, url, headers, body = self._http_request(p)
        scope = self._scope_of(p)
        trace = scope.ctx.trace if scope is not None else None
        if trace is not None:  # the request log of the request the plugin is serving
            trace.upstream_request(method, url, headers, body, _PluginCaller(plugin_id), "", trace.model)
        resp = await self._send(method, url, headers, body)
        if trace is not None:
            trace.upstream_response(resp.status, resp.headers)
        try:
            data = await read_body(resp)
        except CliproxyError as exc:
            raise PluginError(exc.message, http_status=exc.status) from exc
        if trace is not None:
            trace.upstream_body(data)
        return {"StatusCode": resp.status, "Headers": wire_headers(resp.headers), "Body": b64encode(data)}

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> UpstreamResponse:
        proxy = proxy_key(None, self.service.config.proxy_url)
        try:
            return await self.service.http.request(
                method, url, headers=headers, body=body or None, proxy=proxy
            )
        except CliproxyError as exc:
            raise PluginError(exc.message, http_status=exc.status) from exc

    async def _http_do_stream(self, plugin_id: str, p: dict[str, Any]) -> Any:
        method, url, headers, body = self._http_request(p)
        scope = self._scope_of(p)
        trace = scope.ctx.trace if scope is not None else None
        if trace is not None:  # the request log, as for host.http.do (the body as it is read)
            trace.upstream_request(method, url, headers, body, _PluginCaller(plugin_id), "", trace.model)
        resp = await self._send(method, url, headers, body)
        chunks = resp.chunks()
        if trace is not None:
            trace.upstream_response(resp.status, resp.headers)
            chunks = trace.upstream_chunks(chunks)

        async def closer() -> None:
            resp.release()

        stream_id = await self._add_reader("h", _Reader(b"", chunks, closer), p, scope)
        return {"status_code": resp.status, "headers": wire_headers(resp.headers), "stream_id": stream_id}

    async def _add_reader(self, kind: str, reader: _Reader, p: dict[str, Any], scope: _Scope | None) -> str:
        # The first letter tells HTTP ("h") from model ("m") streams: CPA keeps them apart.
        stream_id = f"{kind}{next(self._ids)}"
        self._readers[stream_id] = reader
        named = str(ci_get(p, "host_callback_id", "") or "")
        if scope is not None and self._scopes.get(named) is scope:
            scope.cleanups.append(lambda: self._drop_reader(stream_id))
        elif scope is not None or (kind == "m" and named):  # its scope is over: closed now (CPA)
            await self._drop_reader(stream_id)
        return stream_id

    async def _drop_reader(self, stream_id: str) -> None:
        reader = self._readers.pop(stream_id, None)
        if reader is not None:
            await reader.close()

    async def _http_stream_read(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        if not stream_id:
            raise PluginError("http stream id is required", code="invalid_request", http_status=400)
        reader = self._readers.get(stream_id) if stream_id[0] == "h" else None
        if reader is None:  # CPA: unlike a model stream, a finished or unknown one is an error
            raise PluginError(f"http stream {stream_id} is not open", code="invalid_request", http_status=400)
        return await self._read(stream_id, reader)

    async def _model_stream_read(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        if not stream_id:
            raise PluginError("model stream id is required", code="invalid_request", http_status=400)
        reader = self._readers.get(stream_id) if stream_id[0] == "m" else None
        if reader is None:  # closed with its scope or already finished: CPA answers done
            return {"payload": "", "error": "", "done": True}
        return await self._read(stream_id, reader)

    async def _read(self, stream_id: str, reader: _Reader) -> Any:
        payload, error, done = await reader.read()
        if done:
            self._readers.pop(stream_id, None)
        return {"payload": b64encode(payload), "error": error, "done": done}

    async def _http_stream_close(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        if stream_id.startswith("h"):
            await self._drop_reader(stream_id)
        return {}

    async def _model_stream_close(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        if stream_id.startswith("m"):
            await self._drop_reader(stream_id)
        return {}

    # ------------------------------------------------------------------ model

    def _model_call(
        self, plugin_id: str, p: dict[str, Any], stream: bool
    ) -> tuple[Call, Format, _Scope | None]:
        entry = _format(ci_get(p, "entry_protocol", "") or "openai")
        raw = b64decode(ci_get(p, "body"))
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise PluginError(
                f"host.model: body is not JSON: {exc}", code="invalid_request", http_status=400
            ) from exc
        if not isinstance(body, dict):
            raise PluginError(
                "host.model: body must be a JSON object", code="invalid_request", http_status=400
            )
        scope = self._scope_of(p)
        if scope is not None:
            scope.ctx.nested = True
        headers = plain_headers(ci_get(p, "headers")) or (dict(scope.ctx.headers) if scope else {})
        query = plain_headers(ci_get(p, "query")) or (dict(scope.ctx.query) if scope else {})
        model = str(ci_get(p, "model", "") or body.get("model") or "")
        if entry is not Format.GEMINI:
            body["model"] = model
        body["stream"] = stream
        if entry is Format.GEMINI:
            body.pop("stream", None)
        alt = ci_get(p, "alt") or ("sse" if stream and entry is Format.GEMINI else None)
        call = Call(entry, body, model, stream, headers, query, alt=alt, skip=plugin_id)
        return call, _format(ci_get(p, "exit_protocol", "") or entry.value), scope

    async def _model_execute(self, plugin_id: str, p: dict[str, Any]) -> Any:
        if ci_get(p, "stream"):
            raise PluginError(
                "host.model.execute requires stream=false; use host.model.execute_stream",
                code="invalid_request",
                http_status=400,
            )
        call, exit_fmt, _ = self._model_call(plugin_id, p, False)
        result = await self._run(call)
        if not isinstance(result, Reply):
            raise PluginError("host.model.execute got a stream", code="internal")
        body = result.body
        if exit_fmt is not call.format:
            reg = self.service.pipeline.translations
            body = orjson.dumps(reg.translate_response(call.format, exit_fmt, orjson.loads(body)))
        return {
            "status_code": result.status,
            "headers": wire_headers(result.headers),
            "body": b64encode(body),
        }

    async def _model_execute_stream(self, plugin_id: str, p: dict[str, Any]) -> Any:
        if not ci_get(p, "stream"):
            raise PluginError(
                "host.model.execute_stream requires stream=true",
                code="invalid_request",
                http_status=400,
            )
        call, exit_fmt, scope = self._model_call(plugin_id, p, True)
        result = await self._run(call)
        if not isinstance(result, StreamReply):
            raise PluginError("host.model.execute_stream got a whole response", code="internal")
        first, rest = result.first, result.rest
        if exit_fmt is not call.format:
            tr = self.service.pipeline.translations.stream_translator(call.format, exit_fmt)
            first, rest = tr.feed(first), _retranslate(rest, tr)

        async def closer() -> None:
            with contextlib.suppress(Exception):
                await rest.aclose()  # type: ignore[attr-defined]

        stream_id = await self._add_reader("m", _Reader(first, rest, closer), p, scope)
        return {"status_code": 200, "headers": wire_headers(result.headers), "stream_id": stream_id}

    async def _run(self, call: Call) -> Reply | StreamReply:
        try:
            return await self.service.pipeline.run(call)
        except CliproxyError as exc:
            body = getattr(exc, "body", None)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) and body else exc.message
            raise PluginError(text, http_status=exc.status, code="model_execution_failed") from exc

    # ------------------------------------------------------------------ executor stream bridge

    def open_bridge(self, plugin_id: str = "") -> tuple[str, asyncio.Queue[Any]]:
        stream_id = f"x{next(self._ids)}"
        queue: asyncio.Queue[Any] = asyncio.Queue(BRIDGE_SLOTS)
        self.bridges[stream_id] = queue
        self._bridge_owner[stream_id] = plugin_id
        self._bridge_gone[stream_id] = asyncio.Event()
        return stream_id, queue

    def drop_bridge(self, stream_id: str) -> None:
        """The reader is done: later emits fail, and emits or a close blocked on a full
        bridge return instead of waiting for a reader that will not come."""
        self.bridges.pop(stream_id, None)
        self._bridge_owner.pop(stream_id, None)
        gone = self._bridge_gone.pop(stream_id, None)
        if gone is not None:
            gone.set()

    def abort_plugin(self, plugin_id: str, reason: str) -> None:
        """A plugin died: end every stream it was feeding with an error, now."""
        for stream_id, owner in list(self._bridge_owner.items()):
            if owner != plugin_id:
                continue
            queue = self.bridges.pop(stream_id, None)
            self._bridge_owner.pop(stream_id, None)
            gone = self._bridge_gone.pop(stream_id, None)
            if gone is not None:
                gone.set()  # blocked emits of the dead plugin return
            if queue is None:
                continue
            while not queue.empty():  # the reader gets the error at once, not after a full queue
                queue.get_nowait()
            queue.put_nowait(PluginError(reason or "plugin stopped"))

    async def _emit(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        queue = self.bridges.get(stream_id)
        if queue is None:
            raise PluginError("host.stream.emit: unknown or closed stream", code="stream_closed")
        error = str(ci_get(p, "error", "") or "")
        item = PluginError(error) if error else b64decode(ci_get(p, "payload"))
        if not await self._bridge_put(stream_id, queue, item):
            raise PluginError("host.stream.emit: unknown or closed stream", code="stream_closed")
        return {}

    async def _bridge_close(self, plugin_id: str, p: dict[str, Any]) -> Any:
        stream_id = str(ci_get(p, "stream_id", "") or "")
        queue = self.bridges.pop(stream_id, None)
        if queue is not None:
            error = str(ci_get(p, "error", "") or "")
            await self._bridge_put(stream_id, queue, PluginError(error) if error else BRIDGE_END)
        return {}

    async def _bridge_put(self, stream_id: str, queue: asyncio.Queue[Any], item: Any) -> bool:
        """Hand ``item`` to the reader, waiting while the bridge is full; ``False`` when
        the reader went away first."""
        try:
            queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            pass
        gone = self._bridge_gone.get(stream_id)
        if gone is None or gone.is_set():
            return False
        put = asyncio.ensure_future(queue.put(item))
        waiter = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait((put, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not put.done():
                put.cancel()
        return put.done() and not put.cancelled()

    # ------------------------------------------------------------------ auth files

    async def _entry(self, cred: Any, now: float) -> dict[str, Any] | None:
        """The panel's entry (``GET /auth-files``: cooldown state, counters, refusal), as
        CPA builds both alike, with ``priority`` and ``prefix`` always; ``None`` for a
        credential CPA does not list (a config key)."""
        counts = recorder_of(self.service).stats.auth_entry(cred.index, now)
        entry = await pool_entry(self.service.pool, cred, now, counts)
        if entry is not None:
            entry.setdefault("path", "")
            entry.setdefault("priority", cred.priority)
            entry["prefix"] = cred.prefix
        return entry

    async def _auth_list(self, plugin_id: str, p: dict[str, Any]) -> Any:
        now = time.time()
        entries = [await self._entry(c, now) for c in self.service.pool.credentials()]
        return {"files": sorted((e for e in entries if e is not None), key=lambda e: str(e["name"]).lower())}

    def _by_index(self, p: dict[str, Any]) -> Any:
        key = str(ci_get(p, "auth_index", "") or "")
        cred = self.service.pool.get(key) if key else None
        if cred is None:
            raise PluginError(f"no credential with auth_index {key!r}", code="not_found", http_status=404)
        return cred

    async def _auth_get(self, plugin_id: str, p: dict[str, Any]) -> Any:
        cred = self._by_index(p)
        if cred.path is None:
            raise PluginError("that credential has no file", code="not_found", http_status=404)
        data = json.loads(cred.path.read_text())
        return {"auth_index": cred.index, "name": cred.path.name, "path": str(cred.path), "json": data}

    async def _auth_get_runtime(self, plugin_id: str, p: dict[str, Any]) -> Any:
        entry = await self._entry(cred := self._by_index(p), time.time())
        if entry is None:
            raise PluginError(
                f"credential {cred.index} is not an auth file", code="not_found", http_status=404
            )
        return {"auth": entry}

    async def _auth_save(self, plugin_id: str, p: dict[str, Any]) -> Any:
        name = str(ci_get(p, "name", "") or "")
        if not name.endswith(".json") or Path(name).name != name or name.startswith("."):
            raise PluginError(
                "host.auth.save: name must be a bare *.json file name",
                code="invalid_request",
                http_status=400,
            )
        data = ci_get(p, "json")
        if isinstance(data, str):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise PluginError(
                "host.auth.save: json must be an object", code="invalid_request", http_status=400
            )
        weight = data.get("weight")
        if weight is not None and (not isinstance(weight, int) or weight > 1_000_000):
            raise PluginError(
                "host.auth.save: weight must be an integer up to 1000000",
                code="invalid_request",
                http_status=400,
            )
        path = self.service.auth_dir / name
        write_json(path, data)
        # as a management write: the answer once the pool holds the file, a plugin
        # provider's bound by its plugin (waiting a bounded time; CPA upserts the record)
        await self.service.reload_auth_files()
        await self.service.settle_credentials({path})
        return {"name": name, "path": str(path)}


async def _retranslate(rest: AsyncIterator[bytes], tr: Any) -> AsyncIterator[bytes]:
    async for chunk in rest:
        out = tr.feed(chunk)
        if out:
            yield out
    tail = tr.finish()
    if tail:
        yield tail


def _format(value: str) -> Format:
    try:
        return Format(norm_format(value))
    except ValueError as exc:
        raise PluginError(f"unknown protocol {value!r}", code="invalid_request", http_status=400) from exc
