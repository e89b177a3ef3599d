"""What a test reads off the captured log lines."""

from __future__ import annotations

import logging

import pytest


def warnings_starting(caplog: pytest.LogCaptureFixture, prefix: str) -> list[str]:
    """The captured WARNING lines whose message starts with ``prefix``."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith(prefix)
    ]
