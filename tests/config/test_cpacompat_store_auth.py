"""``plugins.store-auth`` rules of type ``header`` and ``basic`` (CPA internal/pluginstore/
auth.go): the plugin store's registry requests carry the credential the rule names, read
from the environment variables ``header-name`` / ``header-value-env`` and ``username-env`` /
``password-env`` give. Before this test, only ``bearer`` was shown to act."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from tests.fakes.plugin_store import FakePluginStore


@pytest.mark.parametrize(
    ("rule", "env", "want"),
    [
        (
            "{type: header, header-name: Authorization, header-value-env: STORE_HEADER}",
            {"STORE_HEADER": "Token hdr-1"},
            "Token hdr-1",
        ),
        (
            "{type: basic, username-env: STORE_USER, password-env: STORE_PASS}",
            {"STORE_USER": "u1", "STORE_PASS": "p:1"},
            "Basic " + base64.b64encode(b"u1:p:1").decode(),
        ),
    ],
)
async def test_registry_requests_carry_the_rules_credential(
    start_proxy: Any, monkeypatch: pytest.MonkeyPatch, rule: str, env: dict[str, str], want: str
) -> None:
    async with FakePluginStore() as store:
        monkeypatch.setenv("CLIPROXY_PLUGIN_STORE", f"{store.url}/registry.json")
        monkeypatch.setenv("CLIPROXY_GITHUB_API", store.url)
        monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        store.registries["/registry.json"] = {"schema_version": 1, "plugins": []}
        rule = rule.replace(
            "{", '{match: "' + store.url + '/", allow-insecure: true, apply-to: [registry], ', 1
        )
        proxy = await start_proxy(f"plugins:\n  enabled: true\n  store-auth:\n    - {rule}\n")
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                proxy.url + "/v0/management/plugin-store", headers={"Authorization": "Bearer m-secret"}
            ) as r,
        ):
            assert r.status == 200, await r.text()
        assert ("/registry.json", want) in store.requests
