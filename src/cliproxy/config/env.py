"""``.env`` in the working directory, loaded at startup like CPA (never overriding)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dotenv import dotenv_values

__all__ = ["UNSUPPORTED_ENV", "env_value", "load_dotenv_file", "unsupported_env", "writable_path"]

log = logging.getLogger(__name__)

# CPA variables that switch CPA into a mode cliproxy does not offer -> why. Running on the
# local config instead, in silence, would serve something other than what the user set up.
UNSUPPORTED_ENV = {"HOME_JWT": "CPA Home (the hosted control plane) is not supported"}


def env_value(name: str) -> str:
    """CPA's look-up of its own variables: ``NAME``, then ``name``; trimmed; a blank value
    counts as unset (``""``)."""
    for key in (name, name.lower()):
        value = os.environ.get(key, "").strip()
        if value:
            return value
    return ""


def writable_path() -> str:
    """``WRITABLE_PATH`` (or ``writable_path``), cleaned; ``""`` when unset (CPA's
    ``util.WritablePath``: logs and the panel's static folder go under it)."""
    value = env_value("WRITABLE_PATH")
    return os.path.normpath(value) if value else ""


def unsupported_env() -> list[str]:
    """One line for each variable of :data:`UNSUPPORTED_ENV` that is set."""
    return [
        f"{name} is set, but {why}; unset it to run on the local config"
        for name, why in UNSUPPORTED_ENV.items()
        if env_value(name)
    ]


def load_dotenv_file(cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """Set variables from ``<cwd>/.env`` that the environment does not already have.

    Returns the names that were set. A missing file is not an error; an unreadable
    one is logged, as CPA does.
    """
    path = Path(cwd if cwd is not None else os.getcwd()) / ".env"
    if not path.is_file():
        return []
    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("failed to load .env file %s: %s", path, exc)
        return []
    loaded = []
    for name, value in values.items():
        if value is None or name in os.environ:
            continue
        os.environ[name] = value
        loaded.append(name)
    return loaded
