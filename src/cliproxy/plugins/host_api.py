"""The host as a Python plugin sees it: ``plugin.host`` (log, http, model, auth).

Re-exported by ``cliproxy.plugins.api``; kept apart so the contract file stays small.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

import orjson

from cliproxy.plugins import abi
from cliproxy.plugins.abi import SCHEMA_VERSION, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.client import HostDispatcher
from cliproxy.plugins.types import AuthFile, AuthFileContent, HttpResponse, ModelResponse, SavedAuth

# The host_callback_id of the plugin call being served; the in-process transport sets it
# around each call so ``Host`` can attach it without plugin authors seeing it.
callback_id: ContextVar[str] = ContextVar("cliproxy_plugin_callback_id", default="")

Body = bytes | str | Mapping[str, Any]


def _body(body: Body) -> bytes:
    if isinstance(body, bytes):
        return body
    return body.encode() if isinstance(body, str) else orjson.dumps(body)


class Host:
    """What a plugin can ask of the proxy: ``log``, ``http``, ``model``, ``auth``.

    Set as ``plugin.host`` before ``configure``. Calls made while serving a request carry
    that request's context (cancellation, request id, inbound headers) automatically.
    Failures raise ``PluginError``. ``schema_version`` is the host's contract version.
    """

    def __init__(
        self, dispatcher: HostDispatcher, plugin_id: str, schema_version: int = SCHEMA_VERSION
    ) -> None:
        self.plugin_id = plugin_id
        self.schema_version = schema_version
        self._dispatcher = dispatcher
        self.http = HostHttp(self)
        self.model = HostModel(self)
        self.auth = HostAuth(self)

    async def call(self, method: str, params: Mapping[str, Any], *, scoped: bool = True) -> Any:
        """Call host method ``method`` with wire ``params`` (the raw escape hatch);
        ``scoped`` attaches the current ``host_callback_id``."""
        current = callback_id.get()
        if scoped and current and "host_callback_id" not in params:
            params = {**params, "host_callback_id": current}
        return await self._dispatcher.host_call(self.plugin_id, method, dict(params))

    async def log(self, level: str, message: str, **fields: Any) -> None:
        """Log through the host: ``trace``, ``debug``, ``info``, ``warn`` or ``error``."""
        await self.call(abi.HOST_LOG, {"level": level, "message": message, "fields": fields})


class HostStream:
    """A stream opened on the host (``host.http.stream`` / ``host.model.stream``).

    Use ``async with`` to get ``status_code`` and ``headers`` and to close it on exit;
    iterate it for the payload bytes. A stream error raises ``PluginError``.
    """

    def __init__(self, host: Host, methods: tuple[str, str, str], params: dict[str, Any]) -> None:
        self._host, self._methods, self._params = host, methods, params
        self.status_code = 0
        self.headers: dict[str, list[str]] = {}
        self.stream_id = ""
        self._closed = False

    async def open(self) -> Self:
        result = await self._host.call(self._methods[0], self._params) or {}
        self.status_code = int(ci_get(result, "status_code", 0) or 0)
        self.headers = ci_get(result, "headers") or {}
        self.stream_id = str(ci_get(result, "stream_id", "") or "")
        return self

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if not self.stream_id:
            await self.open()
        while not self._closed:
            result = (
                await self._host.call(self._methods[1], {"stream_id": self.stream_id}, scoped=False) or {}
            )
            payload = b64decode(ci_get(result, "payload"))
            if payload:
                yield payload
            if error := ci_get(result, "error"):
                await self.aclose()
                raise PluginError(str(error), code="stream_error")
            if ci_get(result, "done"):
                break
        await self.aclose()

    async def aclose(self) -> None:
        """Close the stream on the host (once)."""
        if self.stream_id and not self._closed:
            self._closed = True
            await self._host.call(self._methods[2], {"stream_id": self.stream_id}, scoped=False)


class HostHttp:
    """HTTP through the host's proxy-aware client (``host.http.*``)."""

    def __init__(self, host: Host) -> None:
        self._host = host

    async def do(
        self, method: str, url: str, headers: dict[str, list[str]] | None = None, body: Body = b""
    ) -> HttpResponse:
        result = await self._host.call(abi.HOST_HTTP_DO, self._params(method, url, headers, body))
        return HttpResponse.from_wire(result)

    def stream(
        self, method: str, url: str, headers: dict[str, list[str]] | None = None, body: Body = b""
    ) -> HostStream:
        """The response body as a stream: ``async with host.http.stream(...) as s``."""
        methods = (abi.HOST_HTTP_DO_STREAM, abi.HOST_HTTP_STREAM_READ, abi.HOST_HTTP_STREAM_CLOSE)
        return HostStream(self._host, methods, self._params(method, url, headers, body))

    @staticmethod
    def _params(method: str, url: str, headers: dict[str, list[str]] | None, body: Body) -> dict[str, Any]:
        return {"method": method, "url": url, "headers": headers or {}, "body": b64encode(_body(body))}


class HostModel:
    """Runs a nested request through the whole proxy pipeline (``host.model.*``); this
    plugin's own router and interceptors are skipped for it."""

    def __init__(self, host: Host) -> None:
        self._host = host

    async def execute(
        self,
        entry_protocol: str,
        exit_protocol: str,
        model: str,
        body: Body,
        headers: dict[str, list[str]] | None = None,
        query: dict[str, list[str]] | None = None,
        alt: str = "",
    ) -> ModelResponse:
        """A non-streaming request in ``entry_protocol``, answered in ``exit_protocol``."""
        params = _model_params(entry_protocol, exit_protocol, model, body, headers, query, alt, stream=False)
        return ModelResponse.from_wire(await self._host.call(abi.HOST_MODEL_EXECUTE, params))

    def stream(
        self,
        entry_protocol: str,
        exit_protocol: str,
        model: str,
        body: Body,
        headers: dict[str, list[str]] | None = None,
        query: dict[str, list[str]] | None = None,
        alt: str = "",
    ) -> HostStream:
        """A streaming request: ``async with host.model.stream(...) as s: async for b in s``."""
        params = _model_params(entry_protocol, exit_protocol, model, body, headers, query, alt, stream=True)
        methods = (abi.HOST_MODEL_EXECUTE_STREAM, abi.HOST_MODEL_STREAM_READ, abi.HOST_MODEL_STREAM_CLOSE)
        return HostStream(self._host, methods, params)


def _model_params(
    entry: str,
    exit_: str,
    model: str,
    body: Body,
    headers: dict[str, list[str]] | None,
    query: dict[str, list[str]] | None,
    alt: str,
    *,
    stream: bool,
) -> dict[str, Any]:
    return {
        "entry_protocol": entry,
        "exit_protocol": exit_,
        "model": model,
        "stream": stream,
        "body": b64encode(_body(body)),
        "headers": headers or {},
        "query": query or {},
        "alt": alt,
    }


class HostAuth:
    """The host's credentials (``host.auth.*``): read, and save new auth files."""

    def __init__(self, host: Host) -> None:
        self._host = host

    async def list(self) -> list[AuthFile]:
        result = await self._host.call(abi.HOST_AUTH_LIST, {}, scoped=False)
        return [AuthFile.from_wire(entry) for entry in ci_get(result, "files") or []]

    async def get(self, auth_index: str) -> AuthFileContent:
        """The credential file's JSON."""
        params = {"auth_index": auth_index}
        return AuthFileContent.from_wire(await self._host.call(abi.HOST_AUTH_GET, params, scoped=False))

    async def get_runtime(self, auth_index: str) -> AuthFile:
        """The credential as the running host sees it (status, counters...)."""
        result = await self._host.call(abi.HOST_AUTH_GET_RUNTIME, {"auth_index": auth_index}, scoped=False)
        return AuthFile.from_wire(ci_get(result, "auth"))

    async def save(self, name: str, json: Mapping[str, Any]) -> SavedAuth:
        """Write ``name`` (a bare ``*.json`` file name) into the auth dir and load it."""
        params = {"name": name, "json": dict(json)}
        return SavedAuth.from_wire(await self._host.call(abi.HOST_AUTH_SAVE, params, scoped=False))
