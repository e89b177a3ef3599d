"""Typed requests and answers of CPA plugin calls, with their wire conversion.

Each dataclass mirrors one CPA ``pluginapi`` struct. Attributes are snake_case; on the
wire they take Go's field names (``auth_id`` <-> ``AuthID``, ``storage_json`` <->
``StorageJSON``), except the host-callback answers CPA tags in snake_case
(``ModelResponse``, ``AuthFile``...). ``to_wire()`` gives the JSON shape CPA sends (bytes
as base64, times as RFC 3339, durations as integer nanoseconds); ``from_wire()`` reads one,
matching keys case-insensitively as Go does and filling absent fields with defaults.

Plugin authors import these names from ``cliproxy.plugins.api``; the host may use
``to_wire``/``from_wire`` to build requests and read answers.
"""

from __future__ import annotations

from cliproxy.plugins.types.hooks import *  # noqa: F403
from cliproxy.plugins.types.hooks import __all__ as _hooks
from cliproxy.plugins.types.host import *  # noqa: F403
from cliproxy.plugins.types.host import __all__ as _host
from cliproxy.plugins.types.models import *  # noqa: F403
from cliproxy.plugins.types.models import __all__ as _models
from cliproxy.plugins.types.routing import *  # noqa: F403
from cliproxy.plugins.types.routing import __all__ as _routing
from cliproxy.plugins.types.wire import *  # noqa: F403
from cliproxy.plugins.types.wire import __all__ as _wire

__all__ = sorted([*_hooks, *_host, *_models, *_routing, *_wire])
