"""CPA's config save tests (internal/config/plugin_config_test.go) no other test of ours
ported, found by the audithost audit, through the management API of a running proxy."""

from __future__ import annotations

from tests.management.conftest import mcall


async def test_a_write_adds_no_default_plugins_section(mproxy, tmp_path):
    """CPA: TestSaveConfigPreserveComments_PrunesDefaultPluginsDir: the loaded config holds
    the plugins folder's default (``plugins``), but saving a file that named no
    ``plugins:`` block writes none, nor ``dir: plugins``."""
    proxy = await mproxy('api-keys: ["k-1"]\ndebug: false\n')
    assert (await mcall(proxy, "PUT", "/debug", {"value": True}))[0] == 200
    text = (tmp_path / "config.yaml").read_text()
    assert "debug: true" in text
    assert "plugins:" not in text and "dir: plugins" not in text
