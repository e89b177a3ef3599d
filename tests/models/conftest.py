"""Helpers for the model registry tests: real config objects and real credentials."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.config import Config
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.credentials.sources import from_config
from cliproxy.models.catalog import Catalog
from cliproxy.models.registry import ModelRegistry


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def registry(catalog: Catalog) -> ModelRegistry:
    return ModelRegistry(catalog)


def config(data: dict[str, Any] | None = None) -> Config:
    """A Config from YAML-shaped data (kebab-case keys), validated like a real file."""
    return Config.model_validate(data or {})


def oauth(cred_id: str, provider: str, **kw: Any) -> Credential:
    """An auth-dir credential as the file loader builds it."""
    return Credential(id=cred_id, provider=provider, kind=KIND_OAUTH, **kw)


def build(
    registry: ModelRegistry, data: dict[str, Any] | None = None, extra: list[Credential] | None = None
) -> tuple[Config, list[Credential]]:
    """Credentials from the config's key lists plus ``extra``, registered in ``registry``."""
    cfg = config(data)
    creds = from_config(cfg) + list(extra or [])
    registry.rebuild(creds, cfg)
    return cfg, creds
