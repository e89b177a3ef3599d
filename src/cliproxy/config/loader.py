"""Loading config.yaml the way CPA does at startup and on reload."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ._errors import config_error
from .document import ConfigDocument
from .model import Config, default_config
from .secret import hash_secret_in_place

__all__ = ["load_config", "load_document", "load_or_default", "persist_hashed_secret"]

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
