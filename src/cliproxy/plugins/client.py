"""The one internal interface every plugin transport implements.

The host speaks CPA's JSON contract (``cliproxy.plugins.abi``) to every plugin through a
``PluginClient``, whatever the transport: an in-process Python object, a native shared
library loaded with ctypes, or a subprocess speaking JSON over stdio. Plugins call back
into the host through a ``HostDispatcher``.

Rules every transport follows:

* ``call`` returns the envelope's ``result`` (a JSON value), raises ``PluginError`` for
  an error envelope (keeping ``http_status``), and raises ``PluginCrashed`` when the
  plugin broke (exception, dead process, garbage answer); the host then fuses it.
* ``call`` never blocks the event loop: native calls run in worker threads, subprocess
  calls are multiplexed by id, so many calls run at once.
* Host callbacks may arrive while a call is in flight (re-entrancy): a native plugin
  calls the host from inside its own ``call`` on a worker thread, a subprocess sends a
  ``host_call`` frame. The transport hands them to ``HostDispatcher.host_call`` on the
  event loop and returns its answer (or an error envelope with code
  ``host_call_failed``).
* ``shutdown`` stops accepting calls, waits (bounded) for in-flight ones, then releases
  the plugin (native ``shutdown()``, process termination).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["HostDispatcher", "PluginClient"]


class HostDispatcher(Protocol):
    async def host_call(self, plugin_id: str, method: str, params: Any) -> Any:
        """Run host callback ``method`` for ``plugin_id``; return its result JSON or raise."""
        ...


class PluginClient(Protocol):
    plugin_id: str
    path: str
    transport: str  # "python", "native" or "subprocess"

    async def call(self, method: str, params: Any, *, timeout: float | None = None) -> Any:
        """Call ``method`` with ``params`` (JSON value); the envelope's result."""
        ...

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Refuse new calls, drain in-flight ones (bounded by ``timeout``), release."""
        ...
