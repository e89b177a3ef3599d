"""CPA's environment variables a docker-compose or service file passes (cmd/server/main.go,
internal/util/util.go): each one cliproxy reads is read as CPA reads it, and one that would
switch CPA into a mode cliproxy does not offer stops the start with a clear line instead of
being ignored in silence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cliproxy.config import Config
from cliproxy.config.env import unsupported_env, writable_path
from cliproxy.management.panel import static_dir
from cliproxy.usage import log_directory


def _run(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.lower() not in ("home_jwt", "writable_path")}
    return subprocess.run(
        [sys.executable, "-m", "cliproxy", "--port", "0"],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_home_jwt_in_the_environment_stops_the_start(tmp_path: Path) -> None:
    """CPA reads HOME_JWT (or home_jwt) when -home-jwt is not given and then takes its whole
    config from the Home control plane. cliproxy has no Home: before, it started on the local
    config (here: none, so built-in defaults) and said nothing about the variable."""
    out = _run(tmp_path, HOME_JWT="eyJ.home.jwt")
    assert out.returncode == 2, out.stderr
    assert "HOME_JWT is set, but CPA Home (the hosted control plane) is not supported" in out.stderr
    assert "eyJ.home.jwt" not in out.stderr  # the token itself is never logged
    assert "Traceback" not in out.stderr


def test_home_jwt_from_dotenv_in_lower_case_stops_the_start(tmp_path: Path) -> None:
    """CPA loads ./.env first and accepts the lower-case spelling too."""
    (tmp_path / ".env").write_text("home_jwt=eyJ.home.jwt\n")
    out = _run(tmp_path)
    assert out.returncode == 2, out.stderr
    assert "HOME_JWT is set" in out.stderr


def test_blank_home_jwt_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blank value counts as unset in CPA's look-up (compose's ``HOME_JWT: ${HOME_JWT:-}``)."""
    monkeypatch.delenv("home_jwt", raising=False)
    monkeypatch.setenv("HOME_JWT", "  ")
    assert unsupported_env() == []
    monkeypatch.setenv("HOME_JWT", "x")
    assert len(unsupported_env()) == 1


def test_writable_path_in_lower_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CPA's util.WritablePath reads WRITABLE_PATH, then writable_path: the request and error
    logs and the panel's static folder go under it. Before, the lower-case spelling was ignored
    by both (only the token stores read it)."""
    monkeypatch.delenv("WRITABLE_PATH", raising=False)
    monkeypatch.delenv("MANAGEMENT_STATIC_PATH", raising=False)
    monkeypatch.setenv("writable_path", f" {tmp_path}/w/ ")
    assert writable_path() == str(tmp_path / "w")
    config = Config()
    assert log_directory(config, tmp_path / "config.yaml") == tmp_path / "w" / "logs"
    assert static_dir(tmp_path / "config.yaml") == tmp_path / "w" / "static"
    monkeypatch.setenv("WRITABLE_PATH", str(tmp_path / "upper"))  # the upper-case name wins
    assert log_directory(config, tmp_path / "config.yaml") == tmp_path / "upper" / "logs"
