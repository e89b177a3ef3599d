"""CPA's TestParseAuthDefaultsProviderFromAuthProviderIdentifier
(internal/pluginhost/auth_provider_test.go), found missing by the audithost audit: a
credential file a plugin's ``auth.parse`` handled has its provider as its ``type``."""

from __future__ import annotations

from pathlib import Path

from cliproxy.plugins import abi
from cliproxy.plugins.models import bind_plugin_auths
from tests.plugins.test_cpa_audit_audithost_host import CONFIG, _file, _provider_plugin
from tests.plugins.wire_host import wire_host


async def test_a_parsed_auth_without_a_provider_takes_the_auth_providers_identifier(tmp_path: Path):
    """CPA: TestParseAuthDefaultsProviderFromAuthProviderIdentifier: the plugin's
    ``auth.parse`` is asked with the provider in lower case (its identifier's) and an
    ``AuthData`` that names no provider is of that provider, in its metadata's ``type``
    too. Ours asks a plugin to parse only the files of its identifier, so the provider it
    is asked with is the file's, which the loader lowercases, as CPA's identifier fallback."""
    plugin = _provider_plugin("both", lambda _p: {"Handled": True, "Auth": {"ID": "auth-1"}})
    (cred,) = await bind_plugin_auths(wire_host(plugin), _file(tmp_path, "Plugin-Provider"), CONFIG)
    (asked,) = plugin.called(abi.AUTH_PARSE)
    assert asked["Provider"] == "plugin-provider"
    assert (cred.id, cred.provider, cred.metadata["type"]) == ("auth-1", "plugin-provider", "plugin-provider")
    assert cred.attributes["plugin"] == "alpha" and [m.name for m in cred.models] == ["oauth-model"]
    (for_auth,) = plugin.called(abi.MODEL_FOR_AUTH)  # what the plugin is told of the credential
    assert for_auth["Metadata"]["type"] == "plugin-provider"


async def test_a_parsed_metadata_type_does_not_change_the_provider(tmp_path: Path):
    """CPA's AuthDataToCoreAuth writes the provider over any ``type`` a plugin's metadata
    names, so every later call about the credential (``model.for_auth``, the executor's,
    ``auth.refresh``) names its provider. Before, the plugin's ``type`` stayed in the
    credential's metadata."""
    auth = {"ID": "auth-1", "Metadata": {"type": "something-else", "email": "a@example.com"}}
    plugin = _provider_plugin("both", lambda _p: {"Handled": True, "Auth": auth})
    (cred,) = await bind_plugin_auths(wire_host(plugin), _file(tmp_path, "plugin-provider"), CONFIG)
    assert cred.metadata["type"] == "plugin-provider" and cred.metadata["email"] == "a@example.com"
