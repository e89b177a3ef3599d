"""Loading config.yaml the way CPA does at startup and on reload."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cliproxy.errors import ConfigError

from ._errors import config_error
from .document import ConfigDocument
from .env import load_dotenv_file
from .model import Config, default_config
from .secret import hash_secret_in_place

__all__ = [
    "command_config",
    "load_config",
    "load_document",
    "load_or_default",
    "persist_hashed_secret",
    "read_env",
]

log = logging.getLogger(__name__)


def load_document(path: str | os.PathLike[str]) -> ConfigDocument:
    """Load and validate; a plaintext management secret is hashed and written back.

    Raises ``ConfigError`` for bad content, ``FileNotFoundError`` when missing.
    """
    if Path(path).is_dir():
        raise config_error("is a directory, not a config file", path=None, file=str(path))
    doc = ConfigDocument.load(path)
    persist_hashed_secret(doc)
    return doc


def persist_hashed_secret(doc: ConfigDocument) -> bool:
    """Hash a plaintext secret-key and save the document; True when the file was written."""
    if not hash_secret_in_place(doc):
        return False
    try:
        doc.save()
    except OSError as exc:  # CPA ignores this too: the hash stays in memory
        log.warning("could not write the hashed secret-key back to %s: %s", doc.path, exc)
        return False
    return True


def load_config(path: str | os.PathLike[str]) -> Config:
    """The validated :class:`Config` of a file (see :func:`load_document`)."""
    return load_document(path).config


def load_or_default(path: str | os.PathLike[str]) -> tuple[Config, bool]:
    """``(config, True)`` for an existing file, ``(default_config(), False)`` when it is missing."""
    try:
        return load_config(path), True
    except FileNotFoundError:
        return default_config(), False


def read_env() -> None:
    """The working directory's ``.env``, read before anything looks at the environment (CPA)."""
    loaded_env = load_dotenv_file(Path.cwd())
    if loaded_env:
        log.info("loaded %d variable(s) from .env", len(loaded_env))


def command_config(config_path: Path) -> tuple[Config, bool] | None:
    """The config a command runs with (``cliproxy serve``, a sign-in, the TUI, a plugin's
    flag): ``(config, existed)``, the built-in defaults when the file is missing; None,
    logged, when it does not load."""
    try:
        return load_or_default(config_path)
    except ConfigError as exc:
        log.error("cannot load %s: %s", config_path, exc)
        return None
