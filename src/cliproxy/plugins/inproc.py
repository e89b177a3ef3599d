"""The in-process transport: a Python plugin object behind the ``PluginClient`` interface.

``PythonClient.call`` takes CPA's method strings and wire params, decodes them into the
typed dataclasses of ``cliproxy.plugins.api``, awaits the plugin's capability method and
encodes the answer back to CPA's wire shape. Around each call it sets the
``host_callback_id`` the plugin's ``Host`` attaches to its callbacks.

Executor streams use CPA's asynchronous mode: ``executor.execute_stream`` answers at the
first chunk, then a task feeds the rest to ``host.stream.emit`` and ends with
``host.stream.close`` (carrying the error text if the generator failed). Without a
``stream_id`` the chunks are collected and returned inline.

Loading: ``load_module_plugin(path)`` imports a ``.py`` file or a package directory from
``plugins.dir`` (plugin id = file stem or directory name); ``load_entry_point(name)`` loads
an entry point of group ``cliproxy.plugins``. Either may expose an instance, a ``Plugin``
subclass (instantiated without arguments) or a module; a module names its plugin with a
module attribute ``plugin = MyPlugin()`` or ``__plugin__ = "MyPlugin"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from cliproxy.plugins import abi
from cliproxy.plugins import api as pa
from cliproxy.plugins.abi import CAPABILITY_FLAGS, PluginCrashed, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.client import HostDispatcher
from cliproxy.plugins.host_api import callback_id
from cliproxy.plugins.types import Headers, WireModel

__all__ = [
    "ENTRY_POINT_GROUP",
    "PythonClient",
    "entry_point_names",
    "load_entry_point",
    "load_module_plugin",
    "registration",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cliproxy.plugins"

Handler = Callable[["PythonClient", dict[str, Any]], Awaitable[Any]]
_Cap = TypeVar("_Cap")


class _StreamGone(Exception):
    """The host refused an emit: the stream was closed or aborted on its side."""


class PythonClient:
    """A Python plugin object served through CPA's JSON contract (``PluginClient``)."""

    transport = "python"

    def __init__(
        self, plugin_obj: object, plugin_id: str, dispatcher: HostDispatcher, path: str = ""
    ) -> None:
        self.plugin = plugin_obj
        self.plugin_id = plugin_id
        self.path = path
        self.host = pa.Host(dispatcher, plugin_id)
        self._closed = False
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._streams: set[asyncio.Task[None]] = set()

    async def call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Run CPA method ``method``; its wire result, ``PluginError`` or ``PluginCrashed``."""
        if self._closed:
            raise PluginError("plugin client is closed", code="closed")
        cap, handler = _HANDLERS.get(method, (None, None))
        if handler is None or (cap is not None and not isinstance(self.plugin, cap)):
            raise PluginError(f"unsupported method {method}", code="unsupported_method")
        params = params if isinstance(params, dict) else {}
        token = callback_id.set(str(ci_get(params, "host_callback_id", "") or ""))
        self._inflight += 1
        self._idle.clear()
        try:
            return await self._guarded(method, handler, params, timeout)
        finally:
            callback_id.reset(token)
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _guarded(
        self, method: str, handler: Handler, params: dict[str, Any], timeout: float | None
    ) -> Any:
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                return await handler(self, params)
        except (PluginError, PluginCrashed):
            raise
        except TimeoutError as exc:
            if deadline.expired():
                raise PluginError(
                    f"plugin {self.plugin_id} timed out in {method}", http_status=504, code="timeout"
                ) from exc
            raise self._crash(method, exc) from exc
        except Exception as exc:
            raise self._crash(method, exc) from exc

    def _crash(self, method: str, exc: BaseException) -> PluginCrashed:
        log.error("plugin %s crashed in %s", self.plugin_id, method, exc_info=exc)
        return PluginCrashed(f"plugin {self.plugin_id} crashed in {method}: {exc!r}")

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Refuse new calls, wait (bounded) for calls and streams, then ``plugin.close()``."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
                if self._streams:
                    await asyncio.wait(list(self._streams))
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        close = getattr(self.plugin, "close", None)
        if close is not None:
            try:
                await close()
            except Exception:
                log.exception("plugin %s failed to close", self.plugin_id)

    # -- executor streams

    def start_stream(self, stream_id: str, first: bytes | None, chunks: AsyncIterator[bytes]) -> None:
        task = asyncio.create_task(self._pump(stream_id, first, chunks))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    async def _pump(self, stream_id: str, first: bytes | None, chunks: AsyncIterator[bytes]) -> None:
        error = ""
        try:
            if first is not None:
                await self._emit(stream_id, first)
            async for chunk in chunks:
                await self._emit(stream_id, chunk)
        except _StreamGone:
            pass  # the host ended the stream; closing again is harmless
        except PluginError as exc:
            error = exc.message
        except asyncio.CancelledError:
            error = "plugin stream cancelled"
            raise
        except Exception as exc:
            error = str(self._crash(abi.EXECUTOR_EXECUTE_STREAM, exc))
        finally:
            await _aclose(chunks)
            await self._close_stream(stream_id, error)

    async def _emit(self, stream_id: str, chunk: bytes) -> None:
        if not chunk:
            return
        try:
            await self.host.call(
                abi.HOST_STREAM_EMIT, {"stream_id": stream_id, "payload": b64encode(chunk)}, scoped=False
            )
        except Exception as exc:
            raise _StreamGone(str(exc)) from exc

    async def _close_stream(self, stream_id: str, error: str) -> None:
        try:
            await self.host.call(
                abi.HOST_STREAM_CLOSE, {"stream_id": stream_id, "error": error}, scoped=False
            )
        except Exception:
            log.debug("plugin %s: host.stream.close failed for %s", self.plugin_id, stream_id, exc_info=True)


async def _aclose(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


# -- registration


def registration(plugin: pa.Plugin) -> dict[str, Any]:
    """The ``plugin.register`` answer: schema version, metadata and capability flags."""
    caps: dict[str, Any] = dict.fromkeys(CAPABILITY_FLAGS, False)
    for cap in pa.capabilities_of(plugin):
        caps[cap.__capability__] = True
    if isinstance(plugin, pa.ResponseNormalizer):
        caps["response_before_translator"] = pa.overrides(plugin, pa.ResponseNormalizer, "normalize_before")
        caps["response_after_translator"] = pa.overrides(plugin, pa.ResponseNormalizer, "normalize_after")
    caps["frontend_auth_provider_exclusive"] = isinstance(plugin, pa.FrontendAuthProvider) and bool(
        plugin.exclusive
    )
    caps["executor_model_scope"] = "both"
    if isinstance(plugin, pa.Executor):
        caps["executor_model_scope"] = plugin.model_scope
        caps["executor_input_formats"] = list(plugin.input_formats)
        caps["executor_output_formats"] = list(plugin.output_formats)
    return {
        "schema_version": plugin.schema_version,
        "metadata": plugin.metadata().to_wire(),
        "capabilities": caps,
    }


async def _register(client: PythonClient, params: dict[str, Any]) -> Any:
    plugin = client.plugin
    if problems := pa.validate(plugin):
        raise PluginError(
            f"plugin {client.plugin_id} ({type(plugin).__name__}) is invalid: " + "; ".join(problems),
            code="invalid_plugin",
        )
    assert isinstance(plugin, pa.Plugin)
    config = _parse_config(client.plugin_id, ci_get(params, "config_yaml"))
    client.host.schema_version = int(ci_get(params, "schema_version", 0) or 1)
    plugin.host = client.host
    await plugin.configure(config, client.host)
    return registration(plugin)


def _parse_config(plugin_id: str, config_yaml: Any) -> dict[str, Any]:
    text = b64decode(config_yaml)
    try:
        config = YAML(typ="safe", pure=True).load(text) if text.strip() else {}
    except YAMLError as exc:
        raise PluginError(f"plugin {plugin_id}: invalid config_yaml: {exc}", code="invalid_config") from exc
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise PluginError(f"plugin {plugin_id}: config must be a mapping", code="invalid_config")
    return config


# -- the method table


class _WrongReturn(TypeError):
    """A plugin method returned a value of the wrong type (said with the method's name)."""


def _typed(name: str, request_type: type[WireModel], encode: Callable[[Any], Any]) -> Handler:
    async def handler(client: PythonClient, params: dict[str, Any]) -> Any:
        result = await getattr(client.plugin, name)(request_type.from_wire(params))
        try:
            return encode(result)
        except _WrongReturn as exc:
            raise _WrongReturn(f"{type(client.plugin).__name__}.{name} {exc}") from None

    return handler


def _wrong(result: object, expected: str) -> _WrongReturn:
    return _WrongReturn(f"returned {type(result).__name__} {str(result)[:80]!r}; expected {expected} or None")


def _model(default: type[WireModel]) -> Callable[[WireModel | None], dict[str, Any]]:
    def encode(result: WireModel | None) -> dict[str, Any]:
        if result is None:
            return default().to_wire()
        if not isinstance(result, default):
            raise _wrong(result, default.__name__)
        return result.to_wire()

    return encode


def _payload(result: bytes | None) -> dict[str, Any]:
    if result is not None and not isinstance(result, bytes | bytearray | memoryview):
        raise _wrong(result, "bytes")
    return {"Body": b64encode(bytes(result) if result else b"")}


def _empty(_result: object) -> dict[str, Any]:
    return {}


def _identifier(specific: str) -> Handler:
    async def handler(client: PythonClient, params: dict[str, Any]) -> Any:
        return {"identifier": pa.identifier_of(client.plugin, specific)}

    return handler


def _plugin_as(client: PythonClient, cap: type[_Cap]) -> _Cap:
    """The plugin as capability ``cap`` (``call`` checked it before dispatching)."""
    plugin = client.plugin
    if not isinstance(plugin, cap):
        raise PluginError(f"{type(plugin).__name__} is not a {cap.__name__}", code="unsupported_method")
    return plugin


async def _execute_stream(client: PythonClient, params: dict[str, Any]) -> Any:
    chunks, headers = await _open_stream(
        _plugin_as(client, pa.Executor), pa.ExecutorRequest.from_wire(params)
    )
    stream_id = str(ci_get(params, "stream_id", "") or "")
    if not stream_id:  # a host without a stream bridge: answer all chunks inline
        inline = [{"Payload": b64encode(chunk)} async for chunk in chunks if chunk]
        return {"headers": headers, "chunks": inline}
    try:
        first: bytes | None = await anext(chunks)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await _aclose(chunks)
        raise
    client.start_stream(stream_id, first, chunks)
    return {"headers": headers, "chunks": []}


async def _open_stream(
    plugin: pa.Executor, request: pa.ExecutorRequest
) -> tuple[AsyncIterator[bytes], Headers]:
    opened = plugin.execute_stream(request)  # an async generator, or a coroutine's answer
    result = await opened if inspect.isawaitable(opened) else opened
    if isinstance(result, pa.ExecutorStream):
        return result.chunks, dict(result.headers)
    return result, {}


async def _command_line_register(client: PythonClient, params: dict[str, Any]) -> Any:
    return {"Flags": [flag.to_wire() for flag in _plugin_as(client, pa.CommandLinePlugin).flags]}


async def _management_register(client: PythonClient, params: dict[str, Any]) -> Any:
    plugin = _plugin_as(client, pa.ManagementAPI)
    return {
        "routes": [r.to_wire() for r in plugin.routes],
        "resources": [r.to_wire() for r in plugin.resources],
    }


_HANDLERS: dict[str, tuple[type | None, Handler]] = {
    abi.PLUGIN_REGISTER: (None, _register),
    abi.PLUGIN_RECONFIGURE: (None, _register),
    abi.MODEL_REGISTER: (
        pa.ModelRegistrar,
        _typed("register_models", pa.ModelRegistrationRequest, _model(pa.ModelList)),
    ),
    abi.MODEL_STATIC: (
        pa.ModelProvider,
        _typed("static_models", pa.StaticModelRequest, _model(pa.ModelList)),
    ),
    abi.MODEL_FOR_AUTH: (
        pa.ModelProvider,
        _typed("models_for_auth", pa.AuthModelRequest, _model(pa.ModelList)),
    ),
    abi.MODEL_ROUTE: (pa.ModelRouter, _typed("route", pa.RouteRequest, _model(pa.RouteDecision))),
    abi.AUTH_IDENTIFIER: (pa.AuthProvider, _identifier("auth_identifier")),
    abi.AUTH_PARSE: (pa.AuthProvider, _typed("parse", pa.AuthParseRequest, _model(pa.AuthParseResponse))),
    abi.AUTH_LOGIN_START: (
        pa.AuthProvider,
        _typed("login_start", pa.LoginStartRequest, _model(pa.LoginStartResponse)),
    ),
    abi.AUTH_LOGIN_POLL: (
        pa.AuthProvider,
        _typed("login_poll", pa.LoginPollRequest, _model(pa.LoginPollResponse)),
    ),
    abi.AUTH_REFRESH: (
        pa.AuthProvider,
        _typed("refresh", pa.AuthRefreshRequest, _model(pa.AuthRefreshResponse)),
    ),
    abi.FRONTEND_AUTH_IDENTIFIER: (pa.FrontendAuthProvider, _identifier("frontend_auth_identifier")),
    abi.FRONTEND_AUTH_AUTHENTICATE: (
        pa.FrontendAuthProvider,
        _typed("authenticate", pa.FrontendAuthRequest, _model(pa.FrontendAuthResponse)),
    ),
    abi.SCHEDULER_PICK: (pa.Scheduler, _typed("pick", pa.PickRequest, _model(pa.PickDecision))),
    abi.EXECUTOR_IDENTIFIER: (pa.Executor, _identifier("identifier")),
    abi.EXECUTOR_EXECUTE: (pa.Executor, _typed("execute", pa.ExecutorRequest, _model(pa.ExecutorResponse))),
    abi.EXECUTOR_EXECUTE_STREAM: (pa.Executor, _execute_stream),
    abi.EXECUTOR_COUNT_TOKENS: (
        pa.Executor,
        _typed("count_tokens", pa.ExecutorRequest, _model(pa.ExecutorResponse)),
    ),
    abi.EXECUTOR_HTTP_REQUEST: (
        pa.Executor,
        _typed("http_request", pa.ExecutorHttpRequest, _model(pa.HttpResponse)),
    ),
    abi.REQUEST_TRANSLATE: (pa.RequestTranslator, _typed("translate_request", pa.TransformRequest, _payload)),
    abi.REQUEST_NORMALIZE: (pa.RequestNormalizer, _typed("normalize_request", pa.TransformRequest, _payload)),
    abi.RESPONSE_TRANSLATE: (
        pa.ResponseTranslator,
        _typed("translate_response", pa.ResponseTransformRequest, _payload),
    ),
    abi.RESPONSE_NORMALIZE_BEFORE: (
        pa.ResponseNormalizer,
        _typed("normalize_before", pa.ResponseTransformRequest, _payload),
    ),
    abi.RESPONSE_NORMALIZE_AFTER: (
        pa.ResponseNormalizer,
        _typed("normalize_after", pa.ResponseTransformRequest, _payload),
    ),
    abi.REQUEST_INTERCEPT_BEFORE: (
        pa.RequestInterceptor,
        _typed("intercept_before", pa.InterceptRequest, _model(pa.InterceptResult)),
    ),
    abi.REQUEST_INTERCEPT_AFTER: (
        pa.RequestInterceptor,
        _typed("intercept_after", pa.InterceptRequest, _model(pa.InterceptResult)),
    ),
    abi.REQUEST_COMPLETE: (pa.RequestLifecycle, _typed("complete", pa.RequestCompletion, _empty)),
    abi.RESPONSE_INTERCEPT_AFTER: (
        pa.ResponseInterceptor,
        _typed("intercept_response", pa.ResponseInterceptRequest, _model(pa.ResponseInterceptResult)),
    ),
    abi.RESPONSE_INTERCEPT_STREAM_CHUNK: (
        pa.StreamChunkInterceptor,
        _typed("intercept_chunk", pa.ChunkInterceptRequest, _model(pa.ChunkInterceptResult)),
    ),
    abi.THINKING_IDENTIFIER: (pa.ThinkingApplier, _identifier("thinking_identifier")),
    abi.THINKING_APPLY: (pa.ThinkingApplier, _typed("apply_thinking", pa.ThinkingRequest, _payload)),
    abi.USAGE_HANDLE: (pa.UsagePlugin, _typed("handle_usage", pa.UsageRecord, _empty)),
    abi.COMMAND_LINE_REGISTER: (pa.CommandLinePlugin, _command_line_register),
    abi.COMMAND_LINE_EXECUTE: (
        pa.CommandLinePlugin,
        _typed("run_command", pa.CommandLineRequest, _model(pa.CommandLineResult)),
    ),
    abi.MANAGEMENT_REGISTER: (pa.ManagementAPI, _management_register),
    abi.MANAGEMENT_HANDLE: (
        pa.ManagementAPI,
        _typed("handle_management", pa.ManagementRequest, _model(pa.ManagementResponse)),
    ),
}


# -- loading


def load_module_plugin(path: Path) -> object:
    """Import the plugin in ``path``: a ``.py`` file or a package directory."""
    path = Path(path)
    init = path / "__init__.py" if path.is_dir() else path
    if not init.is_file() or (path.is_file() and path.suffix != ".py"):
        raise PluginError(
            f"{path} is not a Python plugin (a .py file or a package directory)", code="invalid_plugin"
        )
    name = "cliproxy_plugin_" + re.sub(r"\W", "_", path.stem if path.is_file() else path.name)
    locations = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import {path}", code="invalid_plugin")
    module = importlib.util.module_from_spec(spec)
    for stale in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[stale]  # a reload must run the new files, submodules included
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise PluginCrashed(f"importing plugin {path} failed: {exc!r}") from exc
    return _plugin_from(module, str(path))


def entry_point_names() -> list[str]:
    """Names of the installed ``cliproxy.plugins`` entry points, sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_entry_point(name: str) -> object:
    """Load the plugin of entry point ``name`` in group ``cliproxy.plugins``."""
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise PluginError(f"no entry point {name!r} in group {ENTRY_POINT_GROUP}", code="plugin_not_found")
    try:
        target = next(iter(found)).load()
    except Exception as exc:
        raise PluginCrashed(f"loading entry point {name!r} failed: {exc!r}") from exc
    return _plugin_from(target, name)


def _plugin_from(target: object, where: str) -> object:
    if isinstance(target, ModuleType):
        target = getattr(target, "plugin", None) or getattr(
            target, str(getattr(target, "__plugin__", "")), None
        )
    if target is None:
        raise PluginError(
            f'{where} exposes no plugin: set `plugin = MyPlugin()` or `__plugin__ = "MyPlugin"`',
            code="invalid_plugin",
        )
    if isinstance(target, type):
        try:
            return target()
        except Exception as exc:
            raise PluginCrashed(f"creating plugin {target.__name__} from {where} failed: {exc!r}") from exc
    return target
