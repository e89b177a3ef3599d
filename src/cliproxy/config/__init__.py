"""Configuration: CPA's config.yaml as a typed model, a comment-preserving document, hot reload.

Typical use::

    config, existed = load_or_default("config.yaml")
    watcher = ConfigWatcher("config.yaml", config.auth_dir, on_config=apply, on_auth=sync)
    await watcher.start()
"""

from __future__ import annotations

from ._base import normalize_excluded_models, normalize_headers
from ._errors import from_validation
from ._filewatch import AuthChanges
from .document import ConfigDocument
from .durations import parse_duration
from .env import load_dotenv_file
from .loader import command_config, load_config, load_document, load_or_default, read_env
from .model import DEFAULT_AUTH_DIR, DEFAULT_PORT, Config, ImageGenerationMode, default_config
from .secret import hash_secret, hash_secret_in_place, looks_like_bcrypt, verify_secret
from .watcher import ConfigWatcher

__all__ = [
    "DEFAULT_AUTH_DIR",
    "DEFAULT_PORT",
    "AuthChanges",
    "Config",
    "ConfigDocument",
    "ConfigWatcher",
    "ImageGenerationMode",
    "command_config",
    "default_config",
    "from_validation",
    "hash_secret",
    "hash_secret_in_place",
    "load_config",
    "load_document",
    "load_dotenv_file",
    "load_or_default",
    "looks_like_bcrypt",
    "normalize_excluded_models",
    "normalize_headers",
    "parse_duration",
    "read_env",
    "verify_secret",
]
