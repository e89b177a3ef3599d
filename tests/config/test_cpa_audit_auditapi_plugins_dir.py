"""CPA's TestInstallPluginFromStoreRejectsUnresolvedPluginsDir and
TestDeletePluginRejectsUnresolvedPluginsDir (internal/api/handlers/management): with no home
directory to expand ``~`` against, CPA refuses plugin installs and deletes with a 500
``plugin_directory_invalid`` rather than act on a literal ``./~/.cli-proxy-api/plugins``.

Our difference, on purpose: the config loader resolves ``~`` once, when the file is read,
and Python finds the home in the password database when ``HOME`` is unset, so a running
proxy never holds an unexpanded ``~`` to refuse. What both agree on is asserted: the plugins
directory is never a relative path under the working directory named ``~``."""

from __future__ import annotations

import os
import pwd

import pytest

from cliproxy.config import load_or_default


@pytest.mark.parametrize("value", ["~/.cli-proxy-api/plugins", "~\\.cli-proxy-api\\plugins"])
def test_a_tilde_plugins_dir_resolves_without_home(tmp_path, monkeypatch, value):
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("USERPROFILE", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(f"plugins:\n  dir: '{value}'\n")
    config, _ = load_or_default(path)
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert config.plugins.dir == os.path.join(home, ".cli-proxy-api", "plugins")
    assert os.path.isabs(config.plugins.dir) and "~" not in config.plugins.dir
    assert not (tmp_path / "~").exists()
