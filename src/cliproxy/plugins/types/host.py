"""Command-line, management and host-callback shapes."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any

import orjson

from cliproxy.plugins.types.models import AuthData, HostConfig, PluginMetadata
from cliproxy.plugins.types.wire import Headers, Query, WireModel, wire

__all__ = [
    "AuthFile",
    "AuthFileContent",
    "CommandLineFlag",
    "CommandLineRegistrationRequest",
    "CommandLineRequest",
    "CommandLineResult",
    "FlagValue",
    "ManagementRegistrationRequest",
    "ManagementRequest",
    "ManagementResponse",
    "ManagementRoute",
    "ModelResponse",
    "RecentRequests",
    "ResourceRoute",
    "SavedAuth",
]


# -- command line


@wire
class CommandLineFlag(WireModel):
    """A flag added to ``cliproxy``'s command line. ``type``: bool (default) string int
    int64 float64 duration."""

    name: str = ""
    usage: str = ""
    type: str = "bool"
    default_value: str = ""


@wire
class FlagValue(WireModel):
    name: str = ""
    type: str = ""
    value: str = ""
    set: bool = False


@wire
class CommandLineRegistrationRequest(WireModel):
    plugin: PluginMetadata = field(default_factory=PluginMetadata)


@wire
class CommandLineRequest(WireModel):
    """CPA's ``CommandLineExecutionRequest``: sent when one of the plugin's flags was set."""

    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    program: str = ""
    args: list[str] = field(default_factory=list)
    config_path: str = ""
    host: HostConfig = field(default_factory=HostConfig)
    flags: dict[str, FlagValue] = field(default_factory=dict)
    triggered_flags: dict[str, FlagValue] = field(default_factory=dict)


@wire
class CommandLineResult(WireModel):
    """Printed output, auths to save, and the process exit code."""

    stdout: bytes = b""
    stderr: bytes = b""
    auths: list[AuthData] = field(default_factory=list)
    exit_code: int = 0


# -- management API


@wire
class ManagementRoute(WireModel):
    """An authenticated route; a relative ``path`` resolves under ``/v0/management``."""

    method: str = "GET"
    path: str = ""
    menu: str = ""
    description: str = ""


@wire
class ResourceRoute(WireModel):
    """An unauthenticated GET under ``/v0/resource/plugins/<id>/``."""

    path: str = ""
    menu: str = ""
    description: str = ""


@wire
class ManagementRegistrationRequest(WireModel):
    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    base_path: str = ""
    resource_base_path: str = ""


@wire
class ManagementRequest(WireModel):
    """A call to a plugin route or resource; ``path`` is the full request path
    (``/v0/management/...`` or ``/v0/resource/plugins/<id>/...``), as CPA sends it."""

    method: str = ""
    path: str = ""
    headers: Headers = field(default_factory=dict)
    query: Query = field(default_factory=dict)
    body: bytes = b""


@wire
class ManagementResponse(WireModel):
    """``status_code`` 0 means 200."""

    status_code: int = 200
    headers: Headers = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, data: object, status_code: int = 200) -> ManagementResponse:
        """A JSON answer."""
        return cls(status_code, {"Content-Type": ["application/json"]}, orjson.dumps(data))


# -- host callback answers (snake_case keys, as CPA tags them)


@wire
class ModelResponse(WireModel):
    """The answer of ``host.model.execute``: the client-format response of a nested request."""

    __wire_case__ = "snake"
    status_code: int = 200
    headers: Headers = field(default_factory=dict)
    body: bytes = b""


@wire
class RecentRequests(WireModel):
    __wire_case__ = "snake"
    time: str = ""
    success: int = 0
    failed: int = 0


@wire
class AuthFile(WireModel):
    """CPA's ``HostAuthFileEntry``: one credential as the host sees it."""

    __wire_case__ = "snake"
    id: str = ""
    auth_index: str = ""
    name: str = ""
    type: str = ""
    provider: str = ""
    label: str = ""
    status: str = ""
    status_message: str = ""
    disabled: bool = False
    unavailable: bool = False
    runtime_only: bool = False
    source: str = ""
    path: str = ""
    size: int = 0
    modtime: datetime | None = None
    updated_at: datetime | None = None
    created_at: datetime | None = None
    last_refresh: datetime | None = None
    next_retry_after: datetime | None = None
    email: str = ""
    project_id: str = ""
    account_type: str = ""
    account: str = ""
    priority: int = 0
    note: str = ""
    websockets: bool = False
    success: int = 0
    failed: int = 0
    recent_requests: list[RecentRequests] = field(default_factory=list)


@wire
class AuthFileContent(WireModel):
    """The answer of ``host.auth.get``: the credential file's JSON, parsed."""

    __wire_case__ = "snake"
    auth_index: str = ""
    name: str = ""
    path: str = ""
    json: Any = None


@wire
class SavedAuth(WireModel):
    __wire_case__ = "snake"
    name: str = ""
    path: str = ""
