"""Config endpoints: whole config, config.yaml, scalar switches, version."""

from __future__ import annotations

from cliproxy.management.api import Route

__all__ = ["ROUTES"]

ROUTES: list[Route] = []
