"""Client API keys, provider key lists and the OAuth per-channel maps."""

from __future__ import annotations

from cliproxy.management.api import Route

__all__ = ["ROUTES"]

ROUTES: list[Route] = []
