"""A plugin host holding scripted plugins that answer on the wire, as CPA's adapter tests do.

Each ``WirePlugin`` answers like a native plugin behind the C ABI: its handler's return
value is the envelope's ``result``; a raised ``PluginError`` becomes an error envelope
(with a non-zero return code, which the host accepts as CPA does); any other exception is
a non-envelope failure, which fuses the plugin. Requests and results cross JSON both ways,
so a handler cannot reach the host's own objects.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.plugins.abi import (
    EXECUTOR_IDENTIFIER,
    PluginCrashed,
    PluginError,
    decode_envelope,
    error_envelope,
    is_error_envelope,
    ok_envelope,
)
from cliproxy.plugins.host import PluginHost, Record

Handler = Callable[[dict[str, Any]], Any]
META = {"Name": "wire", "Version": "1.0.0", "Author": "tests", "GitHubRepository": "https://example.com/w"}


@dataclass
class WirePlugin:
    """One scripted plugin: ``caps`` is its registration's capabilities object."""

    id: str
    priority: int = 0
    caps: dict[str, Any] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 3
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]


class WireClient:
    transport = "native"

    def __init__(self, plugin: WirePlugin) -> None:
        self.plugin = plugin
        self.plugin_id = plugin.id
        self.path = f"/wire/{plugin.id}.so"

    async def call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        request = orjson.loads(orjson.dumps(params))
        self.plugin.calls.append((method, request))
        rc, body = await self._answer(method, request)
        if rc != 0 and not is_error_envelope(body):
            raise PluginCrashed(f"plugin call {method} returned {rc}: {body!r}")
        return decode_envelope(body, method)

    async def _answer(self, method: str, request: dict[str, Any]) -> tuple[int, bytes]:
        handler = self.plugin.handlers.get(method)
        if handler is None:
            return 1, error_envelope(f"unsupported method {method}", "unsupported", 501)
        try:
            result = handler(request)
            if inspect.isawaitable(result):
                result = await result
        except PluginError as exc:
            return 1, error_envelope(exc.message, exc.code or "plugin_error", exc.http_status)
        except Exception as exc:  # the plugin broke: no envelope at all
            return 1, f"panic: {exc}".encode()
        return 0, ok_envelope(result)

    async def shutdown(self, timeout: float = 5.0) -> None:
        return None


def wire_host(*plugins: WirePlugin) -> PluginHost:
    """A host whose snapshot is ``plugins``, as after ``plugins.register`` of each.

    The records are set directly: loading a file is host_test.go's subject, not these."""
    host = PluginHost()
    host.enabled = True
    for p in plugins:
        rec = Record(p.id, f"/wire/{p.id}.so", "native", WireClient(p), priority=p.priority)
        rec.metadata = {**META, **p.metadata}
        rec.caps = dict(p.caps)
        rec.schema_version = p.schema_version
        rec.valid = True
        host.records[p.id] = rec
    host._enabled_ids = {p.id for p in plugins}
    host._publish()
    return host


def executor(
    plugin_id: str, priority: int = 0, identifier: str = "fake-provider", **extra: Any
) -> WirePlugin:
    """A plugin with an executor that takes and gives ``openai`` (CPA's route-test default)."""
    caps = {"executor": True, "executor_input_formats": ["openai"], "executor_output_formats": ["openai"]}
    caps.update(extra.pop("caps", {}))
    handlers = {EXECUTOR_IDENTIFIER: lambda _p: {"identifier": identifier}}
    handlers.update(extra.pop("handlers", {}))
    return WirePlugin(plugin_id, priority, caps, handlers, **extra)
