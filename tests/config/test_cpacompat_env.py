"""CPA's environment variables a docker-compose or service file passes (cmd/server/main.go,
internal/util/util.go): each one cliproxy reads is read as CPA reads it, and one that would
switch CPA into a mode cliproxy does not offer stops the start with a clear line instead of
being ignored in silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy.config import Config
from cliproxy.config.env import writable_path
from cliproxy.management.panel import static_dir
from cliproxy.usage import log_directory


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
