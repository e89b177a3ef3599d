"""Where request and error logs go (``cliproxy.usage.log_directory``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy.config import Config
from cliproxy.usage import log_directory


def test_logs_go_beside_the_config_else_under_the_auth_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CPA: TestDefaultRequestLoggerFactory_UsesResolvedLogDirectory: ``$WRITABLE_PATH/logs``
    first; when no writable folder is at hand the logs fall back to ``<auth-dir>/logs``.
    Deliberate difference: the writable folder cliproxy looks at is the config file's, not
    the working directory's ``logs`` (which CPA uses only when it already exists), so a
    service started from ``/`` still logs beside its config."""
    monkeypatch.delenv("WRITABLE_PATH", raising=False)
    config = Config()
    config.auth_dir = str(tmp_path / "auth")
    assert log_directory(config, tmp_path / "config" / "config.yaml") == tmp_path / "auth" / "logs"
    (tmp_path / "config").mkdir()
    assert log_directory(config, tmp_path / "config" / "config.yaml") == tmp_path / "config" / "logs"
    monkeypatch.setenv("WRITABLE_PATH", str(tmp_path / "w"))
    assert log_directory(config, tmp_path / "config" / "config.yaml") == tmp_path / "w" / "logs"
