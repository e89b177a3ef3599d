"""CPA's TestRegisterFrontendAuthProvidersIdentifierPanicFusesPlugin
(internal/pluginhost/adapters_test.go) and the rule behind it (adapters_auth.go: a
frontend-auth plugin is registered under ``plugin:<id>:<identifier>``, and not at all
without an identifier), found missing by the audithost audit. On the wire: scripted
plugins answer as a native plugin would (tests/plugins/wire_host.py)."""

from __future__ import annotations

from typing import Any

from cliproxy.plugins import abi
from cliproxy.plugins.surface import frontend_providers
from tests.plugins.wire_host import WirePlugin, wire_host


def _door(plugin_id: str, identifier: Any, *, exclusive: bool = False) -> WirePlugin:
    caps = {"frontend_auth_provider": True, "frontend_auth_provider_exclusive": exclusive}
    handlers = {abi.FRONTEND_AUTH_AUTHENTICATE: lambda _p: {"Authenticated": True}}
    if identifier is not None:
        handlers[abi.FRONTEND_AUTH_IDENTIFIER] = identifier
    return WirePlugin(plugin_id, 10 if exclusive else 0, caps, handlers)


def _crashing(_p: dict[str, Any]) -> Any:
    raise RuntimeError("identifier panic")


async def test_a_crashing_identifier_fuses_the_frontend_auth_plugin():
    """CPA: TestRegisterFrontendAuthProvidersIdentifierPanicFusesPlugin: the plugin is
    fused and authenticates no request. Before, cliproxy never asked the identifier and
    the plugin let clients in."""
    host = wire_host(
        _door("auth-identifier-panic", _crashing), _door("normal-auth", lambda _p: {"identifier": "a"})
    )
    recs, exclusive = await frontend_providers(host)
    assert ([r.id for r in recs], exclusive) == (["normal-auth"], False)
    assert host.records["auth-identifier-panic"].fused


async def test_an_exclusive_plugin_without_an_identifier_leaves_the_api_keys_on():
    """CPA registers no access provider for a plugin whose identifier is empty (or that
    does not answer the call), so an exclusive flag on it does not turn the config's API
    keys off. Before, cliproxy made it the only provider: every API key was refused."""
    for identifier in (lambda _p: {"identifier": "  "}, None):
        host = wire_host(
            _door("blank", identifier, exclusive=True), _door("named", lambda _p: {"identifier": "n"})
        )
        recs, exclusive = await frontend_providers(host)
        assert ([r.id for r in recs], exclusive) == (["named"], False)
        assert not host.records["blank"].fused
