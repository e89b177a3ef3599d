"""``~`` in a config path (auth-dir, plugins.dir, log dirs) is the user's home, as CPA
expands it; with ``HOME`` unset or empty (a service manager's bare environment), the
password database's home, never ``/`` (an empty ``HOME`` used to put ``~/x`` at ``/x``)."""

from __future__ import annotations

import os
import pwd

import pytest

from cliproxy.config._base import expand_home


@pytest.mark.parametrize("home", [None, ""])
def test_home_from_the_password_database_when_home_is_unset_or_empty(monkeypatch, home) -> None:
    if home is None:
        monkeypatch.delenv("HOME", raising=False)
    else:
        monkeypatch.setenv("HOME", home)
    own = pwd.getpwuid(os.getuid()).pw_dir
    assert expand_home("~/.cli-proxy-api/plugins") == os.path.join(own, ".cli-proxy-api/plugins")
    assert expand_home("~") == os.path.normpath(own)


def test_home_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_home("~/auths") == str(tmp_path / "auths")
    assert expand_home("~\\\\auths\\\\x") == str(tmp_path / "auths" / "x")
    assert expand_home("/abs/./p") == "/abs/p"
