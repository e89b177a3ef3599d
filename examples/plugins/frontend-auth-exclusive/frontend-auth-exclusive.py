"""frontend-auth-exclusive: replace the proxy's API keys with your own client check.

A frontend auth provider decides who may use the proxy. This one is ``exclusive``:
while it is active the ``api-keys`` of config.yaml stop working and only this plugin
admits clients. It admits requests carrying the header
``X-Example-Frontend-Auth: exclusive`` (configurable); put a real check there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cliproxy.plugins.api import (
    ConfigField,
    FrontendAuthProvider,
    FrontendAuthRequest,
    FrontendAuthResponse,
    Host,
    Plugin,
)

HEADER = "X-Example-Frontend-Auth"


class ExclusiveFrontendAuth(Plugin, FrontendAuthProvider):
    name = "frontend-auth-exclusive"
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("value", "string", description=f"The {HEADER} value that admits a client (exclusive)."),
    ]
    identifier = "frontend-auth-exclusive"
    exclusive = True

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.value = str(config.get("value") or "exclusive")

    async def authenticate(self, request: FrontendAuthRequest) -> FrontendAuthResponse | None:
        values = next((v for k, v in request.headers.items() if k.lower() == HEADER.lower()), [])
        if self.value in values:
            return FrontendAuthResponse(
                authenticated=True, principal="example-frontend-user", metadata={"source": self.name}
            )
        return None  # not authenticated: the client gets 401


plugin = ExclusiveFrontendAuth()
